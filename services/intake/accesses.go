package intake

import (
	"context"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Limits of an access's values.
const (
	maxISEECents  = 100_000_000_00 // 100 million euro
	maxHousehold  = 30
	maxAge        = 120
	maxSummary    = 10_000
	maxNeeds      = 20
	maxComponents = 30
)

// accessView is the access as the caller may see it: without reserved text for those who may
// not read it.
func (sc scope) accessView(a Access) Access {
	if !sc.reserved {
		a.Summary = ""
	}
	return a
}

func accessEvent(a Access) map[string]any {
	m := map[string]any{"id": a.ID, "date": a.Date, "istat_code": a.ISTATCode, "channel": a.Channel, "referrer": a.Referrer.Kind,
		"request_type": a.RequestType, "requested_area": a.RequestedArea, "needs": a.Needs, "taxonomy_version": a.TaxonomyVersion,
		"anonymous": a.CitizenID == nil}
	if a.CitizenID != nil {
		m["citizen_id"] = *a.CitizenID
	}
	if a.Outcome != nil {
		m["outcome"] = a.Outcome.Kind
	}
	return m
}

// when sets the time of an access from occurred_at or date (not both); without either, now.
func (s *Service) when(f *errs.Fields, a *Access, occurredAt *string, date *Date) {
	switch {
	case occurredAt != nil && date != nil:
		f.Add("date", "give occurred_at or date, not both")
	case occurredAt != nil:
		t, ok := valid.Time(f, "occurred_at", *occurredAt, valid.Suite)
		if !ok {
			return
		}
		if t.After(s.now().Add(5 * time.Minute)) {
			f.Add("occurred_at", "must not be in the future")
			return
		}
		t = t.UTC().Truncate(time.Microsecond)
		a.OccurredAt, a.Date = &t, t.In(s.cfg.Location).Format(time.DateOnly)
	case date != nil:
		if s.pastDate(f, "date", *date) {
			a.Date = *date
		}
	default:
		t := s.now()
		a.OccurredAt, a.Date = &t, t.In(s.cfg.Location).Format(time.DateOnly)
	}
}

// outcome checks an outcome given by an operator.
func outcome(f *errs.Fields, in *OutcomeInput) *Outcome {
	if in == nil {
		return nil
	}
	list := codes("outcome")
	list.Check(f, "outcome.kind", in.Kind, true)
	if in.Kind == OutcomeTakenIntoCare {
		f.Add("outcome.kind", "is set by opening a case with this access (POST /v1/cases with access_id)")
	}
	valid.Line(f, "outcome.referred_to", in.ReferredTo, in.Kind == OutcomeReferral, 200)
	return &Outcome{Kind: in.Kind, ReferredTo: in.ReferredTo}
}

// validateAccess checks an access as a whole against the taxonomy version it is coded with. It
// is the one check for create and update.
func (s *Service) validateAccess(f *errs.Fields, a *Access, tax Taxonomy) {
	s.comune(f, "istat_code", a.ISTATCode)
	valid.Line(f, "desk", a.Desk, false, 100)
	codes("channel").Check(f, "channel", a.Channel, true)
	codes("referrer").Check(f, "referrer.kind", a.Referrer.Kind, true)
	valid.Line(f, "referrer.body", a.Referrer.Body, false, 200)
	switch {
	case a.CitizenID != nil && a.AnonymousContact != nil:
		f.Add("anonymous_contact", "give citizen_id or anonymous_contact, not both")
	case a.CitizenID == nil && a.AnonymousContact == nil:
		f.Add("citizen_id", "is required without an anonymous_contact")
	case a.CitizenID != nil && *a.CitizenID == uuid.Nil:
		f.Add("citizen_id", "is not an id")
	case a.AnonymousContact != nil:
		valid.Line(f, "anonymous_contact.alias", a.AnonymousContact.Alias, true, 100)
		valid.Line(f, "anonymous_contact.phone", a.AnonymousContact.Phone, false, 30)
		valid.Text(f, "anonymous_contact.note", a.AnonymousContact.Note, false, 1000)
	}
	codes("request_type").Check(f, "request_type", a.RequestType, true)
	tax.CheckArea(f, "requested_area", a.RequestedArea, true)
	switch {
	case len(a.Needs) == 0:
		f.Add("needs", "must list at least one need")
	case len(a.Needs) > maxNeeds:
		f.Add("needs", "must list at most %d needs", maxNeeds)
	default:
		tax.Check(f, "needs", a.Needs)
	}
	if h := a.Household; h != nil {
		codes("household_type").Check(f, "household.type", h.Type, false)
		switch {
		case h.Size == nil:
		case *h.Size < 1 || *h.Size > maxHousehold:
			f.Add("household.size", "must be from 1 to %d", maxHousehold)
		case *h.Size < len(h.Composition):
			f.Add("household.size", "must be at least the number of members listed in composition")
		}
		f.Check(len(h.Composition) <= maxComponents, "household.composition", "must list at most %d members", maxComponents)
		f.Check(h.Type != "" || h.Size != nil || len(h.Composition) > 0, "household", "give its type, size or composition")
		for i, m := range h.Composition {
			p := "household.composition[" + strconv.Itoa(i) + "]."
			valid.Line(f, p+"relationship", m.Relationship, true, 50)
			f.Check(m.Age != nil, p+"age", "is required")
			f.Check(m.Age == nil || *m.Age >= 0 && *m.Age <= maxAge, p+"age", "must be from 0 to %d", maxAge)
		}
	}
	codes("income_area").Check(f, "income_area", a.IncomeArea, false)
	if i := a.ISEE; i != nil {
		codes("isee_type").Check(f, "isee.type", i.Type, true)
		f.Check(i.ValueCents != nil, "isee.value_cents", "is required")
		f.Check(i.ValueCents == nil || *i.ValueCents >= 0 && *i.ValueCents <= maxISEECents, "isee.value_cents", "must be from 0 to %d", int64(maxISEECents))
		valid.OptDate(f, "isee.valid_until", i.ValidUntil, valid.Suite)
	}
	codes("occupation").Check(f, "occupation", a.Occupation, false)
	valid.Text(f, "summary", a.Summary, false, maxSummary)
}

// CreateAccess records an access. A comune's operators record accesses at their own comune.
// A citizen_id is checked with the registry first: an unknown citizen is an invalid field, a
// registry that cannot answer a 503, and nothing is written.
func (s *Service) CreateAccess(ctx context.Context, in AccessInput) (Access, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Access{}, err
	}
	tax, err := s.recordTaxonomy(ctx, sc.ambitoID, "taxonomy_version", in.TaxonomyVersion)
	if err != nil {
		return Access{}, err
	}
	now := s.now()
	a := Access{ID: newID(), AmbitoID: sc.ambitoID, ISTATCode: in.ISTATCode, Desk: in.Desk, Channel: in.Channel,
		CitizenID: in.CitizenID, AnonymousContact: in.AnonymousContact, RequestType: in.RequestType, RequestedArea: in.RequestedArea,
		Needs: in.Needs, TaxonomyVersion: tax.Version, Household: in.Household, IncomeArea: in.IncomeArea, ISEE: in.ISEE,
		Occupation: in.Occupation, Summary: in.Summary, Operator: sc.operator(), Version: 1, CreatedAt: now, UpdatedAt: now}
	var f errs.Fields
	if in.Referrer == nil {
		f.Add("referrer", "is required")
	} else {
		a.Referrer = *in.Referrer
	}
	s.when(&f, &a, in.OccurredAt, in.Date)
	a.Outcome = outcome(&f, in.Outcome)
	s.validateAccess(&f, &a, tax)
	if err := f.Err(); err != nil {
		return Access{}, err
	}
	if !sc.wide && a.ISTATCode != sc.istat {
		return Access{}, errs.E(errs.Forbidden, "a comune's operators record accesses at their own comune")
	}
	if a.Summary != "" && !sc.reserved {
		return Access{}, errs.E(errs.Forbidden, "summary is reserved text: only social workers and service managers write it")
	}
	if a.CitizenID != nil {
		cs, err := s.citizen(ctx, "citizen_id", *a.CitizenID)
		if err != nil {
			return Access{}, err
		}
		a.CitizenID = &cs.ID // a merged record's survivor
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateAccess(ctx, a); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "access.recorded", "access", a.ID, accessEvent(a)))
	})
	if err != nil {
		return Access{}, err
	}
	return sc.accessView(a), s.record(ctx, rec(sc, "access.create", "access", a.ID, a.CitizenID, nil))
}

// GetAccess returns an access the caller may see, once the read is audited.
func (s *Service) GetAccess(ctx context.Context, id uuid.UUID) (Access, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Access{}, err
	}
	a, err := s.store.GetAccess(ctx, sc.ambitoID, id, false)
	if err != nil {
		return Access{}, err
	}
	if !sc.seesAccess(a) {
		return Access{}, errs.E(errs.NotFound, "access not found")
	}
	return sc.accessView(a), s.record(ctx, rec(sc, "access.read", "access", a.ID, a.CitizenID, nil))
}

// ListAccesses lists the accesses the caller may see, newest first: a comune's operators those
// of their comune and those they recorded.
func (s *Service) ListAccesses(ctx context.Context, q AccessQuery) (cursor.Page[Access], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Access]{}, err
	}
	var f errs.Fields
	if q.ISTAT != "" {
		s.comune(&f, "istat_code", q.ISTAT)
	}
	if q.From != "" {
		valid.Date(&f, "date_from", q.From, valid.Suite)
	}
	if q.To != "" {
		valid.Date(&f, "date_to", q.To, valid.Suite)
	}
	f.Check(q.From == "" || q.To == "" || q.From <= q.To, "date_to", "must not be before date_from")
	if q.Outcome != "" && q.Outcome != "none" {
		codes("outcome").Check(&f, "outcome", q.Outcome, false)
	}
	if err := f.Err(); err != nil {
		return cursor.Page[Access]{}, err
	}
	cid := ""
	if q.CitizenID != nil {
		cid = q.CitizenID.String()
	}
	list := cursor.For("accesses", q.ISTAT, q.From, q.To, q.Outcome, cid)
	filter := AccessFilter{AmbitoID: sc.ambitoID, ISTAT: q.ISTAT, From: q.From, To: q.To, Outcome: q.Outcome, CitizenID: q.CitizenID, Limit: q.Limit + 1}
	if !sc.wide {
		filter.Scope, filter.Recorder = sc.istat, sc.me()
	}
	if filter.Before, err = list.DecodeID(q.Cursor); err != nil {
		return cursor.Page[Access]{}, err
	}
	items, err := s.store.ListAccesses(ctx, filter)
	if err != nil {
		return cursor.Page[Access]{}, err
	}
	p := cursor.PageOf(items, q.Limit, list, func(a Access) string { return a.ID.String() })
	recs := make([]audit.Record, 0, len(p.Items))
	for i, a := range p.Items {
		p.Items[i] = sc.accessView(a)
		recs = append(recs, rec(sc, "access.list", "access", a.ID, a.CitizenID, nil))
	}
	return p, s.record(ctx, recs...)
}

// position reads an id cursor of list: the page starts after that id.
func set[T any](dst *T, v *T) {
	if v != nil {
		*dst = *v
	}
}

// UpdateAccess changes an access the caller may see, at the expected version. Linking a
// citizen asks the registry first.
func (s *Service) UpdateAccess(ctx context.Context, id uuid.UUID, version int64, p AccessPatch) (Access, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Access{}, err
	}
	if p.Summary != nil && !sc.reserved {
		return Access{}, errs.E(errs.Forbidden, "summary is reserved text: only social workers and service managers write it")
	}
	cur, err := s.store.GetAccess(ctx, sc.ambitoID, id, false)
	if err != nil {
		return Access{}, err
	}
	if !sc.seesAccess(cur) {
		return Access{}, errs.E(errs.NotFound, "access not found")
	}
	var f errs.Fields
	if p.CitizenID != nil && cur.CitizenID != nil && *cur.CitizenID != *p.CitizenID {
		f.Add("citizen_id", "cannot be changed once set")
	}
	if p.Outcome != nil && cur.Outcome != nil && cur.Outcome.Kind == OutcomeTakenIntoCare {
		f.Add("outcome", "cannot be changed: the access was taken into care (case %s)", cur.Outcome.CaseID)
	}
	tax, err := s.taxonomy(ctx, sc.ambitoID, cur.TaxonomyVersion)
	if err != nil {
		return Access{}, err
	}
	a := cur
	set(&a.Desk, p.Desk)
	set(&a.Channel, p.Channel)
	set(&a.Referrer, p.Referrer)
	link := p.CitizenID != nil && cur.CitizenID == nil
	if link {
		a.CitizenID, a.AnonymousContact = p.CitizenID, nil
	}
	set(&a.RequestType, p.RequestType)
	set(&a.RequestedArea, p.RequestedArea)
	if p.Needs != nil {
		a.Needs = p.Needs
	}
	if p.Household != nil {
		a.Household = p.Household
	}
	set(&a.IncomeArea, p.IncomeArea)
	if p.ISEE != nil {
		a.ISEE = p.ISEE
	}
	set(&a.Occupation, p.Occupation)
	set(&a.Summary, p.Summary)
	if p.Outcome != nil {
		a.Outcome = outcome(&f, p.Outcome)
	}
	s.validateAccess(&f, &a, tax)
	if err := f.Err(); err != nil {
		return Access{}, err
	}
	if link {
		cs, err := s.citizen(ctx, "citizen_id", *a.CitizenID)
		if err != nil {
			return Access{}, err
		}
		a.CitizenID = &cs.ID // a merged record's survivor
	}
	var out Access
	err = s.store.InTx(ctx, func(tx Store) error {
		if out, err = tx.UpdateAccess(ctx, a, version); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "access.updated", "access", a.ID, accessEvent(out)))
	})
	if err != nil {
		return Access{}, err
	}
	details := map[string]any(nil)
	if link {
		details = map[string]any{"linked_citizen": a.CitizenID.String()}
	}
	return sc.accessView(out), s.record(ctx, rec(sc, "access.update", "access", a.ID, a.CitizenID, details))
}
