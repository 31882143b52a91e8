package intake

import (
	"context"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Limits of a plan's values.
const (
	maxGoals       = 20
	maxGoal        = 1000
	maxServices    = 20
	maxHoursWeek   = 168
	maxPlanValue   = 100_000_000_00 // 100 million euro, in cents
	maxPlanVersion = 1_000_000
)

// names reports whether the plan names the cooperative as preferred for one of its services.
func (p Plan) names(coop string) bool {
	return slices.ContainsFunc(p.PlannedServices, func(ps PlannedService) bool {
		return ps.PreferredCooperative != nil && ps.PreferredCooperative.String() == coop
	})
}

func validatePlan(f *errs.Fields, in PlanInput) {
	switch {
	case len(in.Goals) == 0:
		f.Add("goals", "must list at least one goal")
	case len(in.Goals) > maxGoals:
		f.Add("goals", "must list at most %d goals", maxGoals)
	}
	texts(f, "goals", in.Goals, maxGoal)
	f.Check(len(in.PlannedServices) <= maxServices, "planned_services", "must list at most %d services", maxServices)
	for i, ps := range in.PlannedServices {
		p := "planned_services[" + strconv.Itoa(i) + "]."
		codes("service_type").Check(f, p+"service_type", ps.ServiceType, true)
		codes("frequency").Check(f, p+"frequency", ps.Frequency, true)
		f.Check(ps.HoursPerWeek > 0 && ps.HoursPerWeek <= maxHoursWeek, p+"hours_per_week", "must be more than 0 and at most %d", maxHoursWeek)
		f.Check(ps.PreferredCooperative == nil || *ps.PreferredCooperative != uuid.Nil, p+"preferred_cooperative", "is not an id")
		valid.OptDate(f, p+"start_on", ps.StartOn, valid.Suite)
		valid.OptDate(f, p+"end_on", ps.EndOn, valid.Suite)
		f.Check(ps.StartOn == nil || ps.EndOn == nil || *ps.EndOn >= *ps.StartOn, p+"end_on", "must not be before start_on")
	}
	switch v := in.ProjectValueCents; {
	case v == nil:
		f.Add("project_value_cents", "is required")
	case *v < 0 || *v > maxPlanValue:
		f.Add("project_value_cents", "must be from 0 to %d", int64(maxPlanValue))
	}
	switch v := in.UserCopaymentCents; {
	case v == nil:
		f.Add("user_copayment_cents", "is required")
	case *v < 0:
		f.Add("user_copayment_cents", "must not be negative")
	case in.ProjectValueCents != nil && *v > *in.ProjectValueCents:
		f.Add("user_copayment_cents", "must not be more than project_value_cents")
	}
	f.Check(in.ProjectLead != uuid.Nil, "project_lead", "is required")
	f.Check(in.MonitoringLead != uuid.Nil, "monitoring_lead", "is required")
	valid.Date(f, "review_on", in.ReviewOn, valid.Suite)
}

// PutPlan makes a new version of the plan of a case the caller may see. If-Match is required
// once the case has a plan; the first version is made without it (or with If-None-Match: *).
func (s *Service) PutPlan(ctx context.Context, caseID uuid.UUID, cond Precondition, in PlanInput) (Plan, error) {
	ifMatch := cond.IfMatch
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Plan{}, err
	}
	var f errs.Fields
	validatePlan(&f, in)
	if err := f.Err(); err != nil {
		return Plan{}, err
	}
	p := Plan{CaseID: caseID, Goals: in.Goals, PlannedServices: nonNil(in.PlannedServices), ProjectValueCents: *in.ProjectValueCents,
		UserCopaymentCents: *in.UserCopaymentCents, ProjectLead: in.ProjectLead, MonitoringLead: in.MonitoringLead, ReviewOn: in.ReviewOn,
		CreatedBy: sc.operator(), CreatedAt: s.now(), AmbitoID: sc.ambitoID}
	var c Case
	err = s.store.InTx(ctx, func(tx Store) error {
		if c, err = s.visibleCase(ctx, tx, sc, caseID, true); err != nil {
			return err
		}
		if err := writable(c); err != nil {
			return err
		}
		cur, err := tx.GetPlan(ctx, sc.ambitoID, caseID, 0)
		switch {
		case errs.Is(err, errs.NotFound):
			if ifMatch != 0 {
				return errs.E(errs.PreconditionFailed, "the case has no plan yet: send the first version without If-Match")
			}
		case err != nil:
			return err
		case cond.IfNoneMatch:
			return errs.E(errs.PreconditionFailed, "the case has a plan already (version %d): send If-Match with its ETag", cur.Version)
		case ifMatch == 0:
			return &errs.Error{Kind: errs.PreconditionRequired, Message: "send If-Match with the ETag of the current plan (version " + strconv.FormatInt(cur.Version, 10) + ")",
				Fields: []errs.FieldError{{Field: "If-Match", Message: "required"}}}
		case cur.Version != ifMatch:
			return errs.E(errs.PreconditionFailed, "the plan was changed by someone else (it is at version %d); read it again", cur.Version)
		default:
			p.Version = cur.Version
		}
		if p.Version >= maxPlanVersion {
			return errs.E(errs.FailedPrecondition, "the plan has %d versions, the most it may", maxPlanVersion)
		}
		p.Version++
		if err := tx.CreatePlan(ctx, p); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "plan.versioned", "case", caseID, map[string]any{
			"case_id": caseID, "citizen_id": c.CitizenID, "istat_code": c.ISTATCode, "version": p.Version, "planned_services": p.PlannedServices,
			"project_value_cents": p.ProjectValueCents, "user_copayment_cents": p.UserCopaymentCents, "review_on": p.ReviewOn}))
	})
	if err != nil {
		return Plan{}, err
	}
	return p, s.record(ctx, rec(sc, "plan.update", "plan", caseID, &c.CitizenID, map[string]any{"version": p.Version}))
}

// GetPlan returns a version of the plan of a case the caller may see; 0 is the current one.
func (s *Service) GetPlan(ctx context.Context, caseID uuid.UUID, version int64) (Plan, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Plan{}, err
	}
	c, err := s.visibleCase(ctx, s.store, sc, caseID, false)
	if err != nil {
		return Plan{}, err
	}
	p, err := s.store.GetPlan(ctx, sc.ambitoID, caseID, version)
	if err != nil {
		return Plan{}, err
	}
	return p, s.record(ctx, rec(sc, "plan.read", "plan", caseID, &c.CitizenID, map[string]any{"version": p.Version}))
}

// ListPlanVersions lists the versions of the plan of a case the caller may see, newest first.
func (s *Service) ListPlanVersions(ctx context.Context, caseID uuid.UUID, limit int, cur string) (cursor.Page[PlanVersion], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[PlanVersion]{}, err
	}
	list := cursor.For("plan-versions", caseID.String())
	pos, err := list.Decode(cur)
	if err != nil {
		return cursor.Page[PlanVersion]{}, err
	}
	var before int64
	if pos != "" {
		if before, err = strconv.ParseInt(pos, 10, 64); err != nil || before < 1 {
			return cursor.Page[PlanVersion]{}, errs.InvalidField("cursor", "is not a cursor returned by this list")
		}
	}
	c, err := s.visibleCase(ctx, s.store, sc, caseID, false)
	if err != nil {
		return cursor.Page[PlanVersion]{}, err
	}
	items, err := s.store.ListPlans(ctx, sc.ambitoID, caseID, limit+1, before)
	if err != nil {
		return cursor.Page[PlanVersion]{}, err
	}
	p := cursor.PageOf(items, limit, list, func(v PlanVersion) string { return strconv.FormatInt(v.Version, 10) })
	if len(p.Items) == 0 {
		return p, nil
	}
	return p, s.record(ctx, rec(sc, "plan.list", "plan", caseID, &c.CitizenID, nil))
}
