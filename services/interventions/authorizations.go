package interventions

import (
	"context"
	"math"
	"regexp"
	"slices"
	"strconv"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Bounds of an authorization.
const (
	maxWeeklyHours   = 168
	maxTotalHours    = 10000
	maxTariffCents   = 100000
	maxScheduleSlots = 50
	maxReasonLen     = 500
)

var (
	weekdays = []string{"mon", "tue", "wed", "thu", "fri", "sat", "sun"}
	clock    = regexp.MustCompile(`^([01][0-9]|2[0-3]):[0-5][0-9]$`)
)

// CreateAuthorization records a draft authorization of the caller's comune (the azienda's
// operators: any comune of the ambito). The cooperative must hold an accreditation for the
// service type in the ambito for the whole period; its tariff applies unless one is given.
func (s *Service) CreateAuthorization(ctx context.Context, in AuthorizationInput) (Authorization, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Authorization{}, err
	}
	now := s.now()
	a := Authorization{ID: newID(), AmbitoID: sc.ambitoID, ISTATCode: in.ISTATCode, CaseID: in.CaseID, CitizenID: in.CitizenID,
		ServiceType: in.ServiceType, CooperativeID: in.CooperativeID, Schedule: nonNil(in.Schedule), Status: StatusDraft,
		StatusHistory: []StatusChange{}, CreatedBy: sc.operator(), Version: 1, CreatedAt: now, UpdatedAt: now}
	var f errs.Fields
	if in.ISTATCode == "" {
		f.Add("istat_code", "is required")
	} else if _, ok := s.places.ByISTAT(in.ISTATCode); !ok {
		f.Add("istat_code", "is not the ISTAT code of a current comune")
	}
	f.Check(in.CaseID != uuid.Nil, "case_id", "is required")
	f.Check(in.CitizenID != uuid.Nil, "citizen_id", "is required")
	f.Check(in.CooperativeID != uuid.Nil, "cooperative_id", "is required")
	if in.Period == nil {
		f.Add("period", "is required")
	} else {
		a.Period = *in.Period
	}
	if in.Hours == nil {
		f.Add("hours", "is required")
	} else {
		a.Hours = *in.Hours
	}
	if in.HourlyTariffCents != nil {
		a.HourlyTariffCents, a.TariffOverridden = *in.HourlyTariffCents, true
	}
	validate(&f, a, in.Period != nil, in.Hours != nil)
	if err := f.Err(); err != nil {
		return Authorization{}, err
	}
	if !sc.changes(a) {
		return Authorization{}, errs.E(errs.Forbidden, "a comune's operators authorize interventions of their own comune")
	}
	acc, err := s.accredited(ctx, sc.ambitoID, a.CooperativeID, a.ServiceType, a.Period)
	if err != nil {
		return Authorization{}, err
	}
	a.AccreditationID = acc.ID
	if !a.TariffOverridden {
		a.HourlyTariffCents = acc.HourlyTariffCents
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateAuthorization(ctx, a, Version{Version: 1, Change: "created", ChangedBy: sc.operator(), ChangedAt: now, Authorization: a}); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "authorization.created", "authorization", a.ID, event(a, nil)))
	})
	if err != nil {
		return Authorization{}, err
	}
	return a, s.record(ctx, rec(sc, "authorization.create", a, nil))
}

// validate checks an authorization's fields (those a create or a patch gives).
func validate(f *errs.Fields, a Authorization, period, hours bool) {
	if a.ServiceType == "" {
		f.Add("service_type", "is required")
	} else if !isServiceType(a.ServiceType) {
		f.Add("service_type", "must be one of SAD, SADH, ADH, ADM, AES")
	}
	if period {
		_, okFrom := valid.Date(f, "period.from", a.Period.From, valid.Suite)
		_, okTo := valid.Date(f, "period.to", a.Period.To, valid.Suite)
		f.Check(!okFrom || !okTo || a.Period.From <= a.Period.To, "period.to", "must not be before period.from")
	}
	if hours {
		checkHours(f, a.Hours)
	}
	if a.TariffOverridden {
		f.Check(a.HourlyTariffCents >= 1 && a.HourlyTariffCents <= maxTariffCents, "hourly_tariff_cents",
			"must be from 1 to %d (euro cents)", maxTariffCents)
	}
	f.Check(len(a.Schedule) <= maxScheduleSlots, "schedule", "must have at most %d time ranges", maxScheduleSlots)
	for i, sl := range a.Schedule {
		at := "schedule[" + strconv.Itoa(i) + "]"
		f.Check(slices.Contains(weekdays, sl.Weekday), at+".weekday", "must be one of mon, tue, wed, thu, fri, sat, sun")
		okFrom, okTo := clock.MatchString(sl.From), clock.MatchString(sl.To)
		f.Check(okFrom, at+".from", "must be a time HH:MM")
		f.Check(okTo, at+".to", "must be a time HH:MM")
		f.Check(!okFrom || !okTo || sl.From < sl.To, at+".to", "must be after from")
	}
}

func checkHours(f *errs.Fields, h Hours) {
	quarter := func(field string, v float64, max int) {
		f.Check(v > 0 && v <= float64(max) && v*4 == math.Trunc(v*4), field, "must be more than 0 and at most %d, in quarters of an hour", max)
	}
	switch {
	case h.PerWeek == nil && h.Total == nil:
		f.Add("hours", "give per_week or total")
	case h.PerWeek != nil && h.Total != nil:
		f.Add("hours", "give per_week or total, not both")
	case h.PerWeek != nil:
		quarter("hours.per_week", *h.PerWeek, maxWeeklyHours)
	default:
		quarter("hours.total", *h.Total, maxTotalHours)
	}
}

// GetAuthorization returns an authorization the caller may see (otherwise NotFound).
func (s *Service) GetAuthorization(ctx context.Context, id uuid.UUID) (Authorization, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Authorization{}, err
	}
	a, err := s.visible(ctx, sc, id)
	if err != nil {
		return Authorization{}, err
	}
	one := []Authorization{a}
	cards := s.withCards(ctx, sc, one)
	return one[0], s.record(ctx, append([]audit.Record{rec(sc, "authorization.read", a, nil)}, cards...)...)
}

func (s *Service) visible(ctx context.Context, sc scope, id uuid.UUID) (Authorization, error) {
	a, err := s.store.GetAuthorization(ctx, sc.ambitoID, id, false)
	if err != nil {
		return Authorization{}, err
	}
	if !sc.sees(a) {
		return Authorization{}, errs.E(errs.NotFound, "authorization not found")
	}
	return a, nil
}

// ListAuthorizations lists the authorizations the caller may see, newest first.
func (s *Service) ListAuthorizations(ctx context.Context, q AuthorizationQuery) (cursor.Page[Authorization], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Authorization]{}, err
	}
	var f errs.Fields
	f.Check(q.Status == "" || slices.Contains([]Status{StatusDraft, StatusActive, StatusSuspended, StatusClosed}, Status(q.Status)),
		"status", "must be one of draft, active, suspended, closed")
	f.Check(q.ServiceType == "" || isServiceType(q.ServiceType), "service_type", "must be one of SAD, SADH, ADH, ADM, AES")
	if err := f.Err(); err != nil {
		return cursor.Page[Authorization]{}, err
	}
	ids := func(id *uuid.UUID) string {
		if id == nil {
			return ""
		}
		return id.String()
	}
	list := cursor.For("authorizations", q.Status, ids(q.CooperativeID), q.ServiceType, ids(q.CitizenID), ids(q.CaseID))
	filter := AuthorizationFilter{AmbitoID: sc.ambitoID, Cooperative: q.CooperativeID, Status: q.Status, ServiceType: q.ServiceType,
		CitizenID: q.CitizenID, CaseID: q.CaseID, Limit: q.Limit + 1}
	switch {
	case sc.coop != uuid.Nil:
		if q.CooperativeID != nil && *q.CooperativeID != sc.coop {
			return cursor.Page[Authorization]{}, errs.E(errs.Forbidden, "a cooperative lists only its own authorizations")
		}
		filter.Cooperative = &sc.coop
		filter.NoDrafts = true
	case !sc.wide:
		filter.ISTAT = sc.istat
	}
	if filter.Before, err = list.DecodeID(q.Cursor); err != nil {
		return cursor.Page[Authorization]{}, err
	}
	items, err := s.store.ListAuthorizations(ctx, filter)
	if err != nil {
		return cursor.Page[Authorization]{}, err
	}
	p := cursor.PageOf(items, q.Limit, list, func(a Authorization) string { return a.ID.String() })
	recs := make([]audit.Record, 0, len(p.Items))
	for _, a := range p.Items {
		recs = append(recs, rec(sc, "authorization.list", a, nil))
	}
	recs = append(recs, s.withCards(ctx, sc, p.Items)...)
	return p, s.record(ctx, recs...)
}

// UpdateAuthorization makes a new version of an authorization that is not closed, at the
// expected version. A change of cooperative, service type or period is checked against the
// accreditations again; the tariff follows the accreditation unless overridden.
func (s *Service) UpdateAuthorization(ctx context.Context, id uuid.UUID, version int64, p AuthorizationPatch) (Authorization, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Authorization{}, err
	}
	cur, err := s.visible(ctx, sc, id)
	if err != nil {
		return Authorization{}, err
	}
	if !sc.changes(cur) {
		return Authorization{}, errs.E(errs.Forbidden, "a comune's operators change the authorizations of their own comune")
	}
	if cur.Status == StatusClosed {
		return Authorization{}, ErrClosed
	}
	a := cur
	set(&a.ServiceType, p.ServiceType)
	set(&a.CooperativeID, p.CooperativeID)
	set(&a.Period, p.Period)
	set(&a.Hours, p.Hours)
	set(&a.Schedule, p.Schedule)
	a.Schedule = nonNil(a.Schedule)
	if p.HourlyTariffCents != nil {
		a.HourlyTariffCents, a.TariffOverridden = *p.HourlyTariffCents, *p.HourlyTariffCents != 0
	}
	var f errs.Fields
	f.Check(p.CooperativeID == nil || *p.CooperativeID != uuid.Nil, "cooperative_id", "is required")
	validate(&f, a, p.Period != nil, p.Hours != nil)
	if err := f.Err(); err != nil {
		return Authorization{}, err
	}
	// A draft from the PAI still without cooperative or period is checked once it has both.
	if (p.ServiceType != nil || p.CooperativeID != nil || p.Period != nil || p.HourlyTariffCents != nil) && !incomplete(a) {
		acc, err := s.accredited(ctx, sc.ambitoID, a.CooperativeID, a.ServiceType, a.Period)
		if err != nil {
			return Authorization{}, err
		}
		a.AccreditationID = acc.ID
		if !a.TariffOverridden {
			a.HourlyTariffCents = acc.HourlyTariffCents
		}
	}
	return s.newVersion(ctx, sc, a, version, "updated", nil)
}

// ChangeStatus moves an authorization along draft → active → suspended → active or closed,
// with a reason. The first activation names who authorized it.
func (s *Service) ChangeStatus(ctx context.Context, id uuid.UUID, in StatusInput) (Authorization, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Authorization{}, err
	}
	var f errs.Fields
	f.Check(slices.Contains([]Status{StatusActive, StatusSuspended, StatusClosed}, in.Status), "status", "must be one of active, suspended, closed")
	valid.Line(&f, "reason", in.Reason, true, maxReasonLen)
	if err := f.Err(); err != nil {
		return Authorization{}, err
	}
	cur, err := s.visible(ctx, sc, id)
	if err != nil {
		return Authorization{}, err
	}
	if !sc.changes(cur) {
		return Authorization{}, errs.E(errs.Forbidden, "a comune's operators change the authorizations of their own comune")
	}
	if cur.Status == StatusClosed {
		return Authorization{}, ErrClosed
	}
	if !slices.Contains(transitions[cur.Status], in.Status) {
		return Authorization{}, &errs.Error{Kind: errs.FailedPrecondition, Message: "an authorization " + string(cur.Status) + " cannot become " + string(in.Status),
			Extra: map[string]any{"code": "status_transition"}}
	}
	a := cur
	if in.Status == StatusActive && cur.Status == StatusDraft {
		// Activation: the draft must be complete (one from the PAI may lack its cooperative,
		// period or hours), and the accreditation must still cover the period.
		if err := complete(cur); err != nil {
			return Authorization{}, err
		}
		acc, err := s.accredited(ctx, sc.ambitoID, cur.CooperativeID, cur.ServiceType, cur.Period)
		if err != nil {
			return Authorization{}, err
		}
		if a.AccreditationID == uuid.Nil { // a draft from the PAI, never checked before
			a.AccreditationID = acc.ID
			if !a.TariffOverridden {
				a.HourlyTariffCents = acc.HourlyTariffCents
			}
		}
	}
	a.Status = in.Status
	a.StatusHistory = append(slices.Clone(cur.StatusHistory), StatusChange{From: cur.Status, To: in.Status, Reason: in.Reason, By: sc.operator(), At: s.now()})
	if in.Status == StatusActive && a.AuthorizedBy == nil {
		op := sc.operator()
		a.AuthorizedBy = &op
	}
	return s.newVersion(ctx, sc, a, cur.Version, "status_changed", &cur.Status)
}

// newVersion stores a as the version after expected, with its event and audit record.
func (s *Service) newVersion(ctx context.Context, sc scope, a Authorization, expected int64, change string, from *Status) (Authorization, error) {
	now := s.now()
	a.Version, a.UpdatedAt = expected+1, now
	var out Authorization
	err := s.store.InTx(ctx, func(tx Store) error {
		var err error
		out, err = tx.UpdateAuthorization(ctx, a, expected, Version{Version: a.Version, Change: change, ChangedBy: sc.operator(), ChangedAt: now, Authorization: a})
		if err != nil {
			return err
		}
		typ := "authorization.versioned"
		if from != nil {
			typ = "authorization.status_changed"
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, typ, "authorization", a.ID, event(out, from)))
	})
	if err != nil {
		return Authorization{}, err
	}
	details := map[string]any{"version": out.Version}
	if from != nil {
		details["from"], details["to"] = string(*from), string(out.Status)
	}
	return out, s.record(ctx, rec(sc, "authorization."+change, out, details))
}

// Versions lists the kept versions of an authorization the caller may see, oldest first; a
// cooperative only those that assigned it to the cooperative.
func (s *Service) Versions(ctx context.Context, id uuid.UUID, limit int, cur string) (cursor.Page[Version], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Version]{}, err
	}
	a, err := s.visible(ctx, sc, id)
	if err != nil {
		return cursor.Page[Version]{}, err
	}
	list := cursor.For("authorization-versions", id.String())
	pos, err := list.Decode(cur)
	if err != nil {
		return cursor.Page[Version]{}, err
	}
	var after int64
	if pos != "" {
		if after, err = strconv.ParseInt(pos, 10, 64); err != nil {
			return cursor.Page[Version]{}, errs.InvalidField("cursor", "is not a cursor returned by this list")
		}
	}
	// A cooperative reads the versions that assigned the authorization to it, never another's.
	var coop *uuid.UUID
	if sc.coop != uuid.Nil {
		coop = &sc.coop
	}
	items, err := s.store.Versions(ctx, sc.ambitoID, id, coop, after, limit+1)
	if err != nil {
		return cursor.Page[Version]{}, err
	}
	p := cursor.PageOf(items, limit, list, func(v Version) string { return strconv.FormatInt(v.Version, 10) })
	return p, s.record(ctx, rec(sc, "authorization.versions", a, nil))
}

// authorizationEvent is the payload of the authorization events: ids and codes, never a
// person's data.
type authorizationEvent struct {
	ID            uuid.UUID `json:"id"`
	Version       int64     `json:"version"`
	Status        Status    `json:"status"`
	From          *Status   `json:"from,omitempty"`
	CaseID        uuid.UUID `json:"case_id"`
	CitizenID     uuid.UUID `json:"citizen_id"`
	CooperativeID uuid.UUID `json:"cooperative_id"`
	ServiceType   string    `json:"service_type"`
	ISTATCode     string    `json:"istat_code"`
}

func event(a Authorization, from *Status) authorizationEvent {
	return authorizationEvent{ID: a.ID, Version: a.Version, Status: a.Status, From: from, CaseID: a.CaseID, CitizenID: a.CitizenID,
		CooperativeID: a.CooperativeID, ServiceType: a.ServiceType, ISTATCode: a.ISTATCode}
}

func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}
