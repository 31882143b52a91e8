package intake

import (
	"context"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// The phases of the record (DOMAIN.md, "The record: five phases").
var phases = []struct{ code, empty string }{
	{"A", "no access was taken into care by this case (open it with access_id to link one)"},
	{"B", "no assessment yet"},
	{"C", "no plan yet"},
	{"D", "delivery is recorded by the interventions service (authorizations, visits, statements) and by fna (buoni)"},
	{"E", "the case has not been closed"},
}

func euro(cents int64) float64 { return float64(cents) / 100 }

// monthsBetween counts the whole months from a to b (dates), 0 when b is not after a.
func monthsBetween(a, b Date) any {
	ta, err1 := time.Parse(time.DateOnly, a)
	tb, err2 := time.Parse(time.DateOnly, b)
	if err1 != nil || err2 != nil {
		return nil
	}
	m := (tb.Year()-ta.Year())*12 + int(tb.Month()-ta.Month())
	if tb.Day() < ta.Day() {
		m--
	}
	return max(m, 0)
}

// Record returns the minimum data set of a case the caller may see, phase by phase, each
// field with its regional element code (RegionalElements) and, for coded fields, the regional
// value: A the access taken into care, B the latest assessment, C the current plan, D left to
// the interventions and fna services, E the closure. Reserved text (the current condition)
// is there only for those who may read it.
func (s *Service) Record(ctx context.Context, caseID uuid.UUID) (CaseRecord, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return CaseRecord{}, err
	}
	c, err := s.visibleCase(ctx, s.store, sc, caseID, false)
	if err != nil {
		return CaseRecord{}, err
	}
	values := map[string]any{}
	has := map[string]bool{"D": false}
	areaOf := map[string]string{} // taxonomy area code -> national area
	addAreas := func(version int) error {
		t, err := s.taxonomy(ctx, sc.ambitoID, version)
		if err != nil {
			return err
		}
		for _, a := range t.Areas {
			areaOf[a.Code] = a.NationalArea
		}
		return nil
	}
	if c.AccessID != nil {
		a, err := s.store.GetAccess(ctx, sc.ambitoID, *c.AccessID, false)
		if err != nil {
			return CaseRecord{}, err
		}
		if err := addAreas(a.TaxonomyVersion); err != nil {
			return CaseRecord{}, err
		}
		has["A"] = true
		values["access.date"] = a.Date
		values["access.request_type"] = a.RequestType
		values["access.channel"] = a.Channel
		values["access.referrer"] = a.Referrer.Kind
		values["access.requested_area"] = a.RequestedArea
		values["access.needs"] = a.Needs
		if h := a.Household; h != nil {
			values["access.household_type"] = nilIfEmpty(h.Type)
			if h.Size != nil {
				values["access.household_size"] = *h.Size
			}
		}
		values["access.income_area"] = nilIfEmpty(a.IncomeArea)
		if a.ISEE != nil {
			values["access.isee_type"] = a.ISEE.Type
			if a.ISEE.ValueCents != nil {
				values["access.isee_value"] = euro(*a.ISEE.ValueCents)
			}
		}
		values["access.occupation"] = nilIfEmpty(a.Occupation)
		if a.Outcome != nil {
			values["access.outcome"] = a.Outcome.Kind
		}
	}
	as, err := s.store.ListAssessments(ctx, sc.ambitoID, caseID, 1, nil)
	if err != nil {
		return CaseRecord{}, err
	}
	if len(as) > 0 {
		a := as[0]
		if err := addAreas(a.TaxonomyVersion); err != nil {
			return CaseRecord{}, err
		}
		has["B"] = true
		values["assessment.date"] = a.AssessedOn
		values["assessment.assessor"] = a.Assessor.ID
		values["assessment.case_manager"] = a.CaseManagerID.String()
		values["assessment.areas"] = a.Areas
		if a.Invalidity != nil {
			values["assessment.invalidity_status"] = a.Invalidity.Status
		}
		values["assessment.disability_status"] = nilIfEmpty(a.Disability)
		values["assessment.benefits"] = a.BenefitsReceived
		if sc.reserved {
			values["assessment.condition"] = nilIfEmpty(a.CurrentCondition)
		}
		values["assessment.aids"] = a.Aids
		var kinds []string
		for _, k := range []struct {
			code string
			list []string
		}{{"health", a.Needs.Health}, {"socio_health", a.Needs.SocioHealth}, {"social", a.Needs.Social}} {
			if len(k.list) > 0 {
				kinds = append(kinds, k.code)
			}
		}
		values["assessment.intervention_needs"] = nonNil(kinds)
		if a.ADL != nil && a.ADL.Result != nil {
			values["assessment.adl.score"] = a.ADL.Result.Score
		}
		if a.IADL != nil && a.IADL.Result != nil {
			values["assessment.iadl.score"] = a.IADL.Result.Score
		}
	}
	p, err := s.store.GetPlan(ctx, sc.ambitoID, caseID, 0)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return CaseRecord{}, err
	}
	if err == nil {
		has["C"] = true
		start := p.CreatedAt.In(s.cfg.Location).Format(time.DateOnly)
		var types, freqs []string
		for _, ps := range p.PlannedServices {
			if ps.StartOn != nil && *ps.StartOn < start {
				start = *ps.StartOn
			}
			types, freqs = append(types, ps.ServiceType), append(freqs, ps.Frequency)
		}
		values["plan.start_date"] = start
		values["plan.goals[].text"] = p.Goals
		values["plan.services[].service_type"] = nonNil(types)
		values["plan.services[].frequency"] = nonNil(freqs)
		values["plan.value"] = euro(p.ProjectValueCents)
		values["plan.user_share"] = euro(p.UserCopaymentCents)
		values["plan.project_lead"] = p.ProjectLead.String()
		values["plan.monitoring_lead"] = p.MonitoringLead.String()
		values["plan.review_interval_months"] = monthsBetween(start, p.ReviewOn)
	}
	if cl := c.Closure; cl != nil && c.Status == StatusClosed {
		has["E"] = true
		results := []string{}
		for range cl.ResultsReached {
			results = append(results, "reached")
		}
		for range cl.ResultsNotReached {
			results = append(results, "not_reached")
		}
		values["closure.date"] = cl.ClosedOn
		values["closure.results[].result"] = results
		values["closure.reason"] = cl.Reason
		values["closure.new_project"] = cl.NewProjectFollows
	}
	out := CaseRecord{CaseID: c.ID, CitizenID: c.CitizenID}
	elements := RegionalElements()
	for _, ph := range phases {
		rp := RecordPhase{Phase: ph.code, Elements: []RecordElement{}}
		for _, e := range elements {
			if e.Phase != ph.code {
				continue
			}
			for _, src := range e.Sources {
				if !slices.Contains(rp.Sources, src) {
					rp.Sources = append(rp.Sources, src)
				}
			}
			if !has[ph.code] {
				continue
			}
			v := values[e.Field]
			rp.Elements = append(rp.Elements, RecordElement{Code: e.Code, Field: e.Field, Label: e.Label, Value: v, RegionalValue: regional(e, v, areaOf)})
		}
		if !has[ph.code] {
			rp.Note = ph.empty
		}
		rp.Sources = nonNil(rp.Sources)
		out.Phases = append(out.Phases, rp)
	}
	return out, s.record(ctx, rec(sc, "record.read", "case", c.ID, &c.CitizenID, nil))
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// regional is the regional value of a coded field: its code (or each of its codes) through the
// element's values; a taxonomy area (list national_area) through its area's national area.
func regional(e RegionalElement, v any, areaOf map[string]string) any {
	if e.Type != "code" && e.Type != "code_list" {
		return nil
	}
	one := func(code string) (string, bool) {
		if e.List == "national_area" {
			code = areaOf[code]
		}
		return e.Value(code)
	}
	switch x := v.(type) {
	case string:
		if r, ok := one(x); ok {
			return r
		}
	case []string:
		out := make([]string, 0, len(x))
		for _, code := range x {
			if r, ok := one(code); ok {
				out = append(out, r)
			}
		}
		return out
	}
	return nil
}
