package intake

import (
	"context"
	"errors"
	"strconv"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Limits of an assessment's values.
const (
	maxCondition = 10_000
	maxList      = 20
	maxNeed      = 500
)

// assessmentView is the assessment as the caller may see it: without reserved text for those
// who may not read it.
func (sc scope) assessmentView(a Assessment) Assessment {
	if !sc.reserved {
		a.CurrentCondition = ""
	}
	return a
}

func scaleEvent(s *ScaleAnswers) any {
	if s == nil || s.Result == nil {
		return nil
	}
	return map[string]any{"version": s.Version, "score": s.Result.Score, "max": s.Result.Max, "lost_functions": s.Result.LostFunctions}
}

// score scores the answers to a scale (field "adl" or "iadl") with the version asked for or
// the latest.
func score(f *errs.Fields, field, code string, in *ScaleInput) *ScaleAnswers {
	if in == nil {
		return nil
	}
	scale := LatestScale(code)
	if in.Version != 0 {
		var ok bool
		if scale, ok = LookupScale(code, in.Version); !ok {
			f.Add(field+".version", "is not a version of the %s scale", code)
			return nil
		}
	}
	res, err := scale.Score(in.Answers)
	if e, ok := errors.AsType[*errs.Error](err); ok && len(e.Fields) > 0 {
		*f = append(*f, errs.Fields(e.Fields).Prefix(field+".")...)
		return nil
	} else if err != nil {
		f.Add(field, "%v", err)
		return nil
	}
	return &ScaleAnswers{Version: scale.Version, Answers: in.Answers, Result: &res}
}

// CreateAssessment records an assessment of a case the caller may see; the ADL and IADL scores
// are computed from the answers with the version of each scale, which is stored with them.
func (s *Service) CreateAssessment(ctx context.Context, caseID uuid.UUID, in AssessmentInput) (Assessment, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Assessment{}, err
	}
	tax, err := s.recordTaxonomy(ctx, sc.ambitoID, "taxonomy_version", in.TaxonomyVersion)
	if err != nil {
		return Assessment{}, err
	}
	a := Assessment{ID: newID(), AmbitoID: sc.ambitoID, CaseID: caseID, AssessedOn: in.AssessedOn, Assessor: sc.operator(),
		TaxonomyVersion: tax.Version, Areas: in.Areas, Invalidity: in.Invalidity, Disability: in.Disability,
		BenefitsReceived: nonNil(in.BenefitsReceived), CurrentCondition: in.CurrentCondition, Aids: nonNil(in.Aids), CreatedAt: s.now()}
	if in.Needs != nil {
		a.Needs = *in.Needs
	}
	a.Needs = InterventionNeeds{Health: nonNil(a.Needs.Health), SocioHealth: nonNil(a.Needs.SocioHealth), Social: nonNil(a.Needs.Social)}
	var f errs.Fields
	s.pastDate(&f, "assessed_on", a.AssessedOn)
	switch {
	case len(a.Areas) == 0:
		f.Add("areas", "must list at least one area")
	case len(a.Areas) > maxList:
		f.Add("areas", "must list at most %d areas", maxList)
	}
	seen := map[string]bool{}
	for i, code := range a.Areas {
		field := "areas[" + strconv.Itoa(i) + "]"
		tax.CheckArea(&f, field, code, true)
		f.Check(!seen[code], field, "repeats an area")
		seen[code] = true
	}
	if inv := a.Invalidity; inv != nil {
		codes("invalidity_status").Check(&f, "invalidity.status", inv.Status, true)
		f.Check(inv.Percent == nil || *inv.Percent >= 0 && *inv.Percent <= 100, "invalidity.percent", "must be from 0 to 100")
	}
	codes("disability_status").Check(&f, "disability", a.Disability, false)
	f.Check(len(a.BenefitsReceived) <= maxList, "benefits_received", "must list at most %d benefits", maxList)
	codes("benefit").CheckAll(&f, "benefits_received", a.BenefitsReceived)
	f.Check(len(a.Aids) <= maxList, "aids", "must list at most %d aids", maxList)
	codes("aid").CheckAll(&f, "aids", a.Aids)
	valid.Text(&f, "current_condition", a.CurrentCondition, false, maxCondition)
	for _, n := range []struct {
		field string
		list  []string
	}{{"needs.health", a.Needs.Health}, {"needs.socio_health", a.Needs.SocioHealth}, {"needs.social", a.Needs.Social}} {
		f.Check(len(n.list) <= maxList, n.field, "must list at most %d needs", maxList)
		lines(&f, n.field, n.list, maxNeed)
	}
	a.ADL = score(&f, "adl", "adl", in.ADL)
	a.IADL = score(&f, "iadl", "iadl", in.IADL)
	f.Check(in.CaseManagerID == nil || *in.CaseManagerID != uuid.Nil, "case_manager_id", "is not an id")
	if err := f.Err(); err != nil {
		return Assessment{}, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		c, err := s.visibleCase(ctx, tx, sc, caseID, true)
		if err != nil {
			return err
		}
		if err := writable(c); err != nil {
			return err
		}
		a.CitizenID, a.CaseManagerID = c.CitizenID, c.CaseManagerID
		set(&a.CaseManagerID, in.CaseManagerID)
		if err := tx.CreateAssessment(ctx, a); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "assessment.recorded", "assessment", a.ID, map[string]any{
			"id": a.ID, "case_id": a.CaseID, "citizen_id": a.CitizenID, "istat_code": c.ISTATCode, "assessed_on": a.AssessedOn,
			"areas": a.Areas, "adl": scaleEvent(a.ADL), "iadl": scaleEvent(a.IADL)}))
	})
	if err != nil {
		return Assessment{}, err
	}
	return sc.assessmentView(a), s.record(ctx, rec(sc, "assessment.create", "assessment", a.ID, &a.CitizenID, map[string]any{"case_id": caseID.String()}))
}

// GetAssessment returns an assessment of a case the caller may see.
func (s *Service) GetAssessment(ctx context.Context, caseID, id uuid.UUID) (Assessment, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Assessment{}, err
	}
	if _, err := s.visibleCase(ctx, s.store, sc, caseID, false); err != nil {
		return Assessment{}, err
	}
	a, err := s.store.GetAssessment(ctx, sc.ambitoID, caseID, id)
	if err != nil {
		return Assessment{}, err
	}
	return sc.assessmentView(a), s.record(ctx, rec(sc, "assessment.read", "assessment", a.ID, &a.CitizenID, map[string]any{"case_id": caseID.String()}))
}

// ListAssessments lists the assessments of a case the caller may see, newest first.
func (s *Service) ListAssessments(ctx context.Context, caseID uuid.UUID, limit int, cur string) (cursor.Page[Assessment], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Assessment]{}, err
	}
	list := cursor.For("assessments", caseID.String())
	before, err := list.DecodeID(cur)
	if err != nil {
		return cursor.Page[Assessment]{}, err
	}
	if _, err := s.visibleCase(ctx, s.store, sc, caseID, false); err != nil {
		return cursor.Page[Assessment]{}, err
	}
	items, err := s.store.ListAssessments(ctx, sc.ambitoID, caseID, limit+1, before)
	if err != nil {
		return cursor.Page[Assessment]{}, err
	}
	p := cursor.PageOf(items, limit, list, func(a Assessment) string { return a.ID.String() })
	recs := make([]audit.Record, 0, len(p.Items))
	for i, a := range p.Items {
		p.Items[i] = sc.assessmentView(a)
		recs = append(recs, rec(sc, "assessment.list", "assessment", a.ID, &a.CitizenID, map[string]any{"case_id": caseID.String()}))
	}
	return p, s.record(ctx, recs...)
}
