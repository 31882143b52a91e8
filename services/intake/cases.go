package intake

import (
	"context"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Limits of a case's values.
const (
	maxNotes   = 10_000
	maxResults = 20
	maxResult  = 1000
)

// caseView is the case as the caller may see it: without reserved text for those who may not
// read it.
func (sc scope) caseView(c Case) Case {
	if !sc.reserved {
		c.Notes = ""
	}
	c.StatusHistory, c.Transfers = nonNil(c.StatusHistory), nonNil(c.Transfers)
	return c
}

func caseEvent(c Case) map[string]any {
	return map[string]any{"id": c.ID, "citizen_id": c.CitizenID, "istat_code": c.ISTATCode, "area": c.Area, "status": c.Status,
		"responsible_id": c.ResponsibleID, "case_manager_id": c.CaseManagerID, "opened_on": c.OpenedOn}
}

// writable refuses a change of a closed case.
func writable(c Case) error {
	if c.Status == StatusClosed {
		return ErrCaseClosed
	}
	return nil
}

// visibleCase loads a case the caller may see (NotFound otherwise), with st (the store or a
// transaction); forUpdate locks it.
func (s *Service) visibleCase(ctx context.Context, st Store, sc scope, id uuid.UUID, forUpdate bool) (Case, error) {
	c, err := st.GetCase(ctx, sc.ambitoID, id, forUpdate)
	if err != nil {
		return Case{}, err
	}
	if !sc.sees(c) {
		return Case{}, errs.E(errs.NotFound, "case not found")
	}
	return c, nil
}

// OpenCase opens a case: the citizen is checked with the registry first (an unknown citizen
// is an invalid citizen_id, a registry that cannot answer a 503, and nothing is written).
func (s *Service) OpenCase(ctx context.Context, in CaseInput) (Case, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Case{}, err
	}
	tax, err := s.recordTaxonomy(ctx, sc.ambitoID, "taxonomy_version", in.TaxonomyVersion)
	if err != nil {
		return Case{}, err
	}
	now := s.now()
	me, _ := uuid.Parse(sc.me())
	c := Case{ID: newID(), AmbitoID: sc.ambitoID, CitizenID: in.CitizenID, ISTATCode: in.ISTATCode, Area: in.Area, TaxonomyVersion: tax.Version,
		AccessID: in.AccessID, ResponsibleID: me, OpenedOn: s.today(), OpenedBy: sc.operator(), Status: StatusOpen, Notes: in.Notes,
		Version: 1, CreatedAt: now, UpdatedAt: now}
	set(&c.ResponsibleID, in.ResponsibleID)
	c.CaseManagerID = c.ResponsibleID
	set(&c.CaseManagerID, in.CaseManagerID)
	var f errs.Fields
	f.Check(c.CitizenID != uuid.Nil, "citizen_id", "is required")
	s.comune(&f, "istat_code", c.ISTATCode)
	tax.CheckArea(&f, "area", c.Area, true)
	if in.OpenedOn != nil && s.pastDate(&f, "opened_on", *in.OpenedOn) {
		c.OpenedOn = *in.OpenedOn
	}
	f.Check(c.ResponsibleID != uuid.Nil, "responsible_id", "is required (the caller's token names no operator id)")
	f.Check(c.CaseManagerID != uuid.Nil, "case_manager_id", "is not an id")
	valid.Text(&f, "notes", c.Notes, false, maxNotes)
	if err := f.Err(); err != nil {
		return Case{}, err
	}
	if !sc.wide && c.ISTATCode != sc.istat {
		return Case{}, errs.E(errs.Forbidden, "a comune's operators open cases of their own comune")
	}
	citizen, err := s.citizen(ctx, "citizen_id", c.CitizenID)
	if err != nil {
		return Case{}, err
	}
	if citizen.Status == "deceased" {
		return Case{}, errs.InvalidField("citizen_id", "is a deceased citizen")
	}
	c.CitizenID = citizen.ID // a merged record's survivor
	c.StatusHistory = []StatusChange{{Status: StatusOpen, Reason: "presa in carico", On: c.OpenedOn, By: sc.operator(), At: now}}
	var access *Access
	err = s.store.InTx(ctx, func(tx Store) error {
		if c.AccessID != nil {
			a, err := tx.GetAccess(ctx, sc.ambitoID, *c.AccessID, true)
			if errs.Is(err, errs.NotFound) || err == nil && !sc.seesAccess(a) {
				return errs.InvalidField("access_id", "is not an access you can see")
			}
			if err != nil {
				return err
			}
			if a.CitizenID != nil && *a.CitizenID != c.CitizenID {
				return errs.InvalidField("access_id", "is an access of another citizen")
			}
			if a.Outcome != nil && a.Outcome.Kind == OutcomeTakenIntoCare {
				return errs.E(errs.Conflict, "the access was taken into care already (case %s)", a.Outcome.CaseID)
			}
			a.CitizenID, a.AnonymousContact = &c.CitizenID, nil
			a.Outcome = &Outcome{Kind: OutcomeTakenIntoCare, CaseID: &c.ID}
			updated, err := tx.UpdateAccess(ctx, a, a.Version)
			if err != nil {
				return err
			}
			access = &updated
			if err := tx.AppendEvents(ctx, events.Of(sc.ambitoID, "access.updated", "access", a.ID, accessEvent(updated))); err != nil {
				return err
			}
		}
		if err := tx.CreateCase(ctx, c); err != nil {
			return err
		}
		if err := tx.AddStatusChange(ctx, sc.ambitoID, c.ID, c.StatusHistory[0]); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "case.opened", "case", c.ID, caseEvent(c)))
	})
	if err != nil {
		return Case{}, err
	}
	recs := []audit.Record{rec(sc, "case.open", "case", c.ID, &c.CitizenID, nil)}
	if access != nil {
		recs = append(recs, rec(sc, "access.update", "access", access.ID, &c.CitizenID, map[string]any{"taken_into_care": c.ID.String()}))
	}
	return sc.caseView(c), s.record(ctx, recs...)
}

// GetCase returns a case the caller may see, once the read is audited; with includeCitizen,
// the registry's summary of the citizen too (503 when the registry cannot answer).
func (s *Service) GetCase(ctx context.Context, id uuid.UUID, includeCitizen bool) (Case, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Case{}, err
	}
	c, err := s.store.GetCase(ctx, sc.ambitoID, id, false)
	if err != nil {
		return Case{}, err
	}
	if !sc.sees(c) {
		r := rec(sc, "case.read", "case", c.ID, &c.CitizenID, nil)
		r.Outcome = audit.OutcomeDenied
		if err := s.record(ctx, r); err != nil {
			return Case{}, err
		}
		return Case{}, errs.E(errs.NotFound, "case not found")
	}
	if includeCitizen {
		cs, err := s.registry.Citizen(ctx, c.CitizenID)
		switch {
		case err == nil:
			c.Citizen = &cs
		case errs.Is(err, errs.NotFound): // the registry no longer knows them: no summary
		default:
			return Case{}, unavailable(err)
		}
	}
	return sc.caseView(c), s.record(ctx, rec(sc, "case.read", "case", c.ID, &c.CitizenID, nil))
}

// ListCases lists the cases the caller may see, newest first: a comune's operators those of
// their comune and those assigned to them; assigned=me keeps those assigned to the caller.
func (s *Service) ListCases(ctx context.Context, q CaseQuery) (cursor.Page[Case], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Case]{}, err
	}
	var f errs.Fields
	if q.ISTAT != "" {
		s.comune(&f, "istat_code", q.ISTAT)
	}
	codes("case_status").Check(&f, "status", q.Status, false)
	f.Check(q.Assigned == "" || q.Assigned == "me", "assigned", "must be me")
	f.Check(q.Assigned == "" || sc.claims.Kind == auth.KindOperator, "assigned", "applies to operators only")
	if err := f.Err(); err != nil {
		return cursor.Page[Case]{}, err
	}
	cid := ""
	if q.CitizenID != nil {
		cid = q.CitizenID.String()
	}
	list := cursor.For("cases", q.ISTAT, q.Status, q.Assigned, cid)
	filter := CaseFilter{AmbitoID: sc.ambitoID, ISTAT: q.ISTAT, Status: q.Status, CitizenID: q.CitizenID, Limit: q.Limit + 1}
	if !sc.wide {
		filter.Scope = sc.istat
		if sc.isRole(caseWorkers...) {
			filter.Assignee = sc.me()
		}
	}
	if q.Assigned == "me" {
		filter.AssignedTo = sc.me()
	}
	if filter.Before, err = list.DecodeID(q.Cursor); err != nil {
		return cursor.Page[Case]{}, err
	}
	items, err := s.store.ListCases(ctx, filter)
	if err != nil {
		return cursor.Page[Case]{}, err
	}
	p := cursor.PageOf(items, q.Limit, list, func(c Case) string { return c.ID.String() })
	recs := make([]audit.Record, 0, len(p.Items))
	for i, c := range p.Items {
		p.Items[i] = sc.caseView(c)
		recs = append(recs, rec(sc, "case.list", "case", c.ID, &c.CitizenID, nil))
	}
	return p, s.record(ctx, recs...)
}

// UpdateCase changes a case the caller may see, at the expected version.
func (s *Service) UpdateCase(ctx context.Context, id uuid.UUID, version int64, p CasePatch) (Case, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Case{}, err
	}
	var out Case
	err = s.store.InTx(ctx, func(tx Store) error {
		c, err := s.visibleCase(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		if err := writable(c); err != nil {
			return err
		}
		reassign := p.ResponsibleID != nil && *p.ResponsibleID != c.ResponsibleID || p.CaseManagerID != nil && *p.CaseManagerID != c.CaseManagerID
		if reassign && !sc.manages(c) {
			return errs.E(errs.Forbidden, "the responsible social worker and the case manager are changed by a service manager of the case's comune")
		}
		set(&c.Area, p.Area)
		set(&c.ResponsibleID, p.ResponsibleID)
		set(&c.CaseManagerID, p.CaseManagerID)
		set(&c.Notes, p.Notes)
		var f errs.Fields
		if p.Area != nil {
			tax, err := s.taxonomy(ctx, sc.ambitoID, c.TaxonomyVersion)
			if err != nil {
				return err
			}
			tax.CheckArea(&f, "area", c.Area, true)
		}
		f.Check(c.ResponsibleID != uuid.Nil, "responsible_id", "is not an id")
		f.Check(c.CaseManagerID != uuid.Nil, "case_manager_id", "is not an id")
		valid.Text(&f, "notes", c.Notes, false, maxNotes)
		if err := f.Err(); err != nil {
			return err
		}
		if out, err = tx.UpdateCase(ctx, c, version); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "case.updated", "case", c.ID, caseEvent(out)))
	})
	if err != nil {
		return Case{}, err
	}
	return sc.caseView(out), s.record(ctx, rec(sc, "case.update", "case", out.ID, &out.CitizenID, nil))
}

// pending is an event of a change of a case, written in its transaction.
type pending struct {
	typ     string
	payload any
}

// change runs fn on a case the caller may see, locked in a transaction, then stores the case
// (its version moves) and audits action. fn returns the events to write.
func (s *Service) change(ctx context.Context, sc scope, id uuid.UUID, action string, fn func(tx Store, c *Case) ([]pending, error)) (Case, error) {
	var out Case
	err := s.store.InTx(ctx, func(tx Store) error {
		c, err := s.visibleCase(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		evs, err := fn(tx, &c)
		if err != nil {
			return err
		}
		if out, err = tx.UpdateCase(ctx, c, c.Version); err != nil {
			return err
		}
		for _, ev := range evs {
			if err := tx.AppendEvents(ctx, events.Of(sc.ambitoID, ev.typ, "case", c.ID, ev.payload)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return Case{}, err
	}
	return sc.caseView(out), s.record(ctx, rec(sc, action, "case", out.ID, &out.CitizenID, nil))
}

// onDate checks the date of a change of a case: given or today, not in the future, not before
// the case was opened.
func (s *Service) onDate(f *errs.Fields, field string, on *Date, c Case) Date {
	if on == nil {
		return s.today()
	}
	if s.pastDate(f, field, *on) && *on < c.OpenedOn {
		f.Add(field, "must not be before the case was opened (%s)", c.OpenedOn)
	}
	return *on
}

// ChangeStatus suspends, resumes or reopens a case; every change is a row of its status
// history.
func (s *Service) ChangeStatus(ctx context.Context, id uuid.UUID, in StatusInput) (Case, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Case{}, err
	}
	var f errs.Fields
	switch in.Status {
	case StatusSuspended:
		codes("suspension_reason").Check(&f, "reason", in.Reason, true)
	case StatusOpen:
		valid.Line(&f, "reason", in.Reason, false, 500)
	case StatusClosed:
		f.Add("status", "a case is closed with its closure (POST /v1/cases/{id}/closure)")
	default:
		f.Add("status", "must be suspended or open")
	}
	if in.On != nil {
		s.pastDate(&f, "on", *in.On)
	}
	if err := f.Err(); err != nil {
		return Case{}, err
	}
	return s.change(ctx, sc, id, "case.status", func(tx Store, c *Case) ([]pending, error) {
		from := c.Status
		switch {
		case in.Status == StatusSuspended && from == StatusClosed:
			return nil, ErrCaseClosed
		case in.Status == from:
			return nil, errs.E(errs.FailedPrecondition, "the case is %s already", from)
		}
		var f errs.Fields
		on := s.onDate(&f, "on", in.On, *c)
		if err := f.Err(); err != nil {
			return nil, err
		}
		ch := StatusChange{Status: in.Status, Reason: in.Reason, On: on, By: sc.operator(), At: s.now()}
		if err := tx.AddStatusChange(ctx, sc.ambitoID, c.ID, ch); err != nil {
			return nil, err
		}
		c.Status = in.Status
		c.StatusHistory = append(c.StatusHistory, ch)
		payload := map[string]any{"id": c.ID, "citizen_id": c.CitizenID, "istat_code": c.ISTATCode, "from": from, "to": in.Status, "on": on}
		if in.Status == StatusSuspended {
			payload["reason"] = in.Reason // a code
		}
		if from == StatusClosed {
			payload["reopened"] = true
		}
		return []pending{{"case.status_changed", payload}}, nil
	})
}

// CloseCase closes an open or suspended case (phase E). A closed case is read-only until it is
// reopened (ChangeStatus to open); its closure stays in the record.
func (s *Service) CloseCase(ctx context.Context, id uuid.UUID, in ClosureInput) (Case, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Case{}, err
	}
	var f errs.Fields
	s.pastDate(&f, "closed_on", in.ClosedOn)
	f.Check(len(in.ResultsReached) <= maxResults, "results_reached", "must list at most %d results", maxResults)
	f.Check(len(in.ResultsNotReached) <= maxResults, "results_not_reached", "must list at most %d results", maxResults)
	texts(&f, "results_reached", in.ResultsReached, maxResult)
	texts(&f, "results_not_reached", in.ResultsNotReached, maxResult)
	codes("closure_reason").Check(&f, "closure_reason", in.ClosureReason, true)
	f.Check(in.NewProjectFollows != nil, "new_project_follows", "is required")
	if err := f.Err(); err != nil {
		return Case{}, err
	}
	return s.change(ctx, sc, id, "case.close", func(tx Store, c *Case) ([]pending, error) {
		if err := writable(*c); err != nil {
			return nil, err
		}
		if in.ClosedOn < c.OpenedOn {
			return nil, errs.InvalidField("closed_on", "must not be before the case was opened (%s)", c.OpenedOn)
		}
		cl := Closure{ClosedOn: in.ClosedOn, ResultsReached: nonNil(in.ResultsReached), ResultsNotReached: nonNil(in.ResultsNotReached),
			Reason: in.ClosureReason, NewProjectFollows: *in.NewProjectFollows, By: sc.operator(), At: s.now()}
		if err := tx.AddClosure(ctx, sc.ambitoID, c.ID, cl); err != nil {
			return nil, err
		}
		ch := StatusChange{Status: StatusClosed, Reason: in.ClosureReason, On: in.ClosedOn, By: cl.By, At: cl.At}
		if err := tx.AddStatusChange(ctx, sc.ambitoID, c.ID, ch); err != nil {
			return nil, err
		}
		from := c.Status
		c.Status, c.Closure = StatusClosed, &cl
		c.StatusHistory = append(c.StatusHistory, ch)
		return []pending{
			{"case.status_changed", map[string]any{"id": c.ID, "citizen_id": c.CitizenID, "istat_code": c.ISTATCode, "from": from, "to": StatusClosed, "on": in.ClosedOn}},
			{"case.closed", map[string]any{"id": c.ID, "citizen_id": c.CitizenID, "istat_code": c.ISTATCode, "closed_on": in.ClosedOn,
				"closure_reason": in.ClosureReason, "new_project_follows": *in.NewProjectFollows,
				"results_reached": len(cl.ResultsReached), "results_not_reached": len(cl.ResultsNotReached)}},
		}, nil
	})
}

// TransferCase moves a case to another social worker or comune (a service manager of the
// case's comune). After a move to another comune, the former comune's operators no longer see
// the case unless it is assigned to them.
func (s *Service) TransferCase(ctx context.Context, id uuid.UUID, in TransferInput) (Case, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Case{}, err
	}
	var f errs.Fields
	f.Check(in.ToSocialWorker != nil || in.ToComune != "", "to_social_worker", "give to_social_worker, to_comune or both")
	f.Check(in.ToSocialWorker == nil || *in.ToSocialWorker != uuid.Nil, "to_social_worker", "is not an id")
	if in.ToComune != "" {
		s.comune(&f, "to_comune", in.ToComune)
	}
	valid.Line(&f, "reason", in.Reason, true, 500)
	if in.On != nil {
		s.pastDate(&f, "on", *in.On)
	}
	if err := f.Err(); err != nil {
		return Case{}, err
	}
	return s.change(ctx, sc, id, "case.transfer", func(tx Store, c *Case) ([]pending, error) {
		if err := writable(*c); err != nil {
			return nil, err
		}
		if !sc.manages(*c) {
			return nil, errs.E(errs.Forbidden, "a case is transferred by a service manager of its comune")
		}
		var f errs.Fields
		on := s.onDate(&f, "on", in.On, *c)
		f.Check(in.ToComune == "" || in.ToComune != c.ISTATCode, "to_comune", "is the case's comune already")
		f.Check(in.ToSocialWorker == nil || *in.ToSocialWorker != c.ResponsibleID, "to_social_worker", "is the case's responsible social worker already")
		if err := f.Err(); err != nil {
			return nil, err
		}
		t := Transfer{ID: newID(), FromISTAT: c.ISTATCode, ToISTAT: c.ISTATCode, FromSocialWorker: c.ResponsibleID, ToSocialWorker: c.ResponsibleID,
			Reason: in.Reason, On: on, By: sc.operator(), At: s.now(), CaseID: c.ID, AmbitoID: sc.ambitoID}
		if in.ToComune != "" {
			t.ToISTAT = in.ToComune
		}
		if in.ToSocialWorker != nil {
			t.ToSocialWorker = *in.ToSocialWorker
		}
		if err := tx.AddTransfer(ctx, t); err != nil {
			return nil, err
		}
		c.ISTATCode, c.ResponsibleID = t.ToISTAT, t.ToSocialWorker
		c.Transfers = append(c.Transfers, t)
		return []pending{{"case.transferred", map[string]any{"id": c.ID, "citizen_id": c.CitizenID, "from_istat": t.FromISTAT, "to_istat": t.ToISTAT,
			"from_social_worker": t.FromSocialWorker, "to_social_worker": t.ToSocialWorker, "on": on}}}, nil
	})
}

// AuditTrail returns who read or changed the records of a case's citizen in intake (accesses,
// the case, its assessments, plan and diary), newest first: the privacy officer.
func (s *Service) AuditTrail(ctx context.Context, q AuditQuery) (cursor.Page[audit.Record], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[audit.Record]{}, err
	}
	// A case of another ambito (or none) is a 404, as everywhere else, not an empty trail.
	c, err := s.store.GetCase(ctx, sc.ambitoID, q.CaseID, false)
	if err != nil {
		return cursor.Page[audit.Record]{}, err
	}
	return audit.Read(ctx, s.audit, sc.claims, audit.Filter{CitizenID: c.CitizenID.String(), Limit: q.Limit, Cursor: q.Cursor},
		c.CitizenID.String(), map[string]any{"case_id": c.ID.String()})
}
