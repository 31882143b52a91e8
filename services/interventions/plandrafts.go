package interventions

import (
	"context"
	"encoding/json"
	"math"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
)

// Drafts from the PAI. intake appends plan.versioned to its feed for every new version of a
// case's individual plan (PAI), with the services it plans; the consumer of intake's feed
// (events.Consumer, wired in cmd/interventions) hands each page to ApplyIntakeEvents, which
// turns each planned service of a home-care type (SAD, SADH, ADH, ADM, AES) into a draft
// authorization for the service manager to complete, in the consumer's transaction.
//
// A draft takes from the planned service what it has: the service type, the weekly hours (to
// the nearest quarter of an hour, at least one), the period when the plan gives both start_on
// and end_on, the preferred cooperative when the plan names one (its accreditation is checked
// when the draft is activated, not here: identity may be down, and the feed must not wait).
// What is missing the service manager completes with PATCH; activation refuses a draft without
// cooperative, period or hours (409, authorization_incomplete, naming them). The planned
// service itself is kept in the draft's plan member.
//
// Once only. Each planned service is keyed by case, plan version and its index in the plan
// (plan_drafts): a redelivered event makes nothing twice. A planned service that an earlier
// version of the same case's plan already had, unchanged, makes no new draft either: the draft
// of the earlier version stands for it (a new PAI version that only changes the goals does not
// duplicate the case's authorizations).

// PlanSource is the planned service of an intake PAI a draft was made from.
type PlanSource struct {
	CaseID               uuid.UUID  `json:"case_id"`
	Version              int64      `json:"version"` // the plan's version
	Index                int        `json:"index"`   // the service's index in the plan's planned_services
	ServiceType          string     `json:"service_type"`
	Frequency            string     `json:"frequency,omitempty"`
	HoursPerWeek         float64    `json:"hours_per_week"`
	PreferredCooperative *uuid.UUID `json:"preferred_cooperative,omitempty"`
	StartOn              *Date      `json:"start_on,omitempty"`
	EndOn                *Date      `json:"end_on,omitempty"`
}

// PlanKey identifies a planned service of a version of a case's plan.
type PlanKey struct {
	AmbitoID uuid.UUID
	CaseID   uuid.UUID
	Version  int64
	Index    int
}

// PlanDraftStore is what the drafts from the PAI need of the store.
type PlanDraftStore interface {
	// ClaimPlanService records that the planned service at key is handled, by the draft id or
	// (when an earlier version of the case's plan had the same service, planned as service)
	// by that earlier version's draft. It returns whether a new draft is to be made: false when
	// the key was handled already or an earlier version's draft stands for it.
	ClaimPlanService(ctx context.Context, key PlanKey, service json.RawMessage, id uuid.UUID) (bool, error)
	// AfterCommit runs fn once the consumer's transaction commits.
	AfterCommit(ctx context.Context, fn func(context.Context))
}

// SystemOperator is the author of what the service does by itself: the drafts from the PAI.
var SystemOperator = Operator{ID: "interventions:intake-feed", Role: "system"}

// planVersioned is the payload of intake's plan.versioned that interventions reads.
type planVersioned struct {
	CaseID          uuid.UUID         `json:"case_id"`
	CitizenID       uuid.UUID         `json:"citizen_id"`
	ISTATCode       string            `json:"istat_code"`
	Version         int64             `json:"version"`
	PlannedServices []json.RawMessage `json:"planned_services"`
}

// plannedService is a planned service as intake's plan.versioned carries it.
type plannedService struct {
	ServiceType          string     `json:"service_type"`
	Frequency            string     `json:"frequency"`
	HoursPerWeek         float64    `json:"hours_per_week"`
	PreferredCooperative *uuid.UUID `json:"preferred_cooperative"`
	StartOn              *Date      `json:"start_on"`
	EndOn                *Date      `json:"end_on"`
}

// ApplyIntakeEvents makes the drafts of the plan.versioned events of a page of intake's feed,
// in the transaction ctx carries (events.ApplyFunc). Other events are ignored; an event whose
// payload cannot be read is logged and skipped (it would otherwise hold the feed back forever).
// An error (the database) fails the whole page.
func (s *Service) ApplyIntakeEvents(ctx context.Context, evs []events.Event) error {
	var recs []audit.Record
	err := s.store.InTx(ctx, func(tx Store) error {
		for _, ev := range evs {
			if ev.Type != "plan.versioned" {
				continue
			}
			made, err := s.draftsOf(ctx, tx, ev)
			if err != nil {
				return err
			}
			for _, a := range made {
				r := audit.Record{ActorID: SystemOperator.ID, ActorRole: SystemOperator.Role, AmbitoID: a.AmbitoID.String(),
					Action: "authorization.create", ResourceType: "authorization", ResourceID: a.ID.String(),
					CitizenID: a.CitizenID.String(), Outcome: audit.OutcomeSuccess,
					Details: map[string]any{"source": "plan.versioned", "event_id": ev.ID.String(), "plan_version": a.Plan.Version}}
				recs = append(recs, r)
			}
		}
		return nil
	})
	if err != nil || len(recs) == 0 {
		return err
	}
	// The audit trail once the drafts are committed: a rolled-back page leaves no record.
	s.store.AfterCommit(ctx, func(ctx context.Context) {
		if err := s.record(ctx, recs...); err != nil {
			s.log.ErrorContext(ctx, "drafts from the PAI: audit records not written", "err", err, "records", len(recs))
		}
	})
	return nil
}

// draftsOf makes the drafts of one plan.versioned event.
func (s *Service) draftsOf(ctx context.Context, tx Store, ev events.Event) ([]Authorization, error) {
	skip := func(why string, args ...any) ([]Authorization, error) {
		s.log.WarnContext(ctx, "drafts from the PAI: plan.versioned skipped: "+why, append([]any{"event_id", ev.ID, "seq", ev.Seq}, args...)...)
		return nil, nil
	}
	ambitoID, err := uuid.Parse(ev.AmbitoID)
	if err != nil {
		return skip("the event names no ambito")
	}
	var p planVersioned
	if err := json.Unmarshal(ev.Payload, &p); err != nil {
		return skip("its payload cannot be read", "err", err)
	}
	if p.CaseID == uuid.Nil || p.CitizenID == uuid.Nil || p.Version < 1 {
		return skip("its payload lacks case_id, citizen_id or version")
	}
	if _, ok := s.places.ByISTAT(p.ISTATCode); !ok {
		return skip("istat_code is not a current comune", "istat_code", p.ISTATCode)
	}
	var made []Authorization
	for i, raw := range p.PlannedServices {
		var ps plannedService
		if err := json.Unmarshal(raw, &ps); err != nil {
			s.log.WarnContext(ctx, "drafts from the PAI: planned service skipped: it cannot be read", "event_id", ev.ID, "index", i, "err", err)
			continue
		}
		if !isServiceType(ps.ServiceType) || ps.HoursPerWeek <= 0 || ps.HoursPerWeek > maxWeeklyHours {
			continue // not delivered by the cooperatives through interventions (or not a service at all)
		}
		a := s.draftOf(ambitoID, p, i, ps)
		fresh, err := tx.ClaimPlanService(ctx, PlanKey{AmbitoID: ambitoID, CaseID: p.CaseID, Version: p.Version, Index: i}, raw, a.ID)
		if err != nil {
			return nil, err
		}
		if !fresh {
			continue
		}
		v := Version{Version: 1, Change: "created", ChangedBy: SystemOperator, ChangedAt: a.CreatedAt, Authorization: a}
		if err := tx.CreateAuthorization(ctx, a, v); err != nil {
			return nil, err
		}
		if err := tx.AppendEvents(ctx, events.Of(ambitoID, "authorization.created", "authorization", a.ID, event(a, nil))); err != nil {
			return nil, err
		}
		made = append(made, a)
	}
	return made, nil
}

// draftOf is the draft of the planned service ps, the i-th of the plan p.
func (s *Service) draftOf(ambitoID uuid.UUID, p planVersioned, i int, ps plannedService) Authorization {
	now := s.now()
	hours := max(math.Round(ps.HoursPerWeek*4)/4, 0.25)
	a := Authorization{ID: newID(), AmbitoID: ambitoID, ISTATCode: p.ISTATCode, CaseID: p.CaseID, CitizenID: p.CitizenID,
		ServiceType: ps.ServiceType, Hours: Hours{PerWeek: &hours}, Schedule: []Slot{}, Status: StatusDraft,
		StatusHistory: []StatusChange{}, CreatedBy: SystemOperator, Version: 1, CreatedAt: now, UpdatedAt: now,
		Plan: &PlanSource{CaseID: p.CaseID, Version: p.Version, Index: i, ServiceType: ps.ServiceType, Frequency: ps.Frequency,
			HoursPerWeek: ps.HoursPerWeek, PreferredCooperative: ps.PreferredCooperative, StartOn: ps.StartOn, EndOn: ps.EndOn}}
	if ps.PreferredCooperative != nil {
		a.CooperativeID = *ps.PreferredCooperative
	}
	if ps.StartOn != nil && ps.EndOn != nil && *ps.StartOn <= *ps.EndOn {
		a.Period = Period{From: *ps.StartOn, To: *ps.EndOn}
	}
	return a
}

// complete reports what an authorization lacks to be activated (a draft from the PAI not yet
// completed): a problem naming the members, or nil.
func complete(a Authorization) error {
	var missing []errs.FieldError
	if a.CooperativeID == uuid.Nil {
		missing = append(missing, errs.FieldError{Field: "cooperative_id", Message: "is required to activate the authorization"})
	}
	if a.Period.From == "" || a.Period.To == "" {
		missing = append(missing, errs.FieldError{Field: "period", Message: "is required to activate the authorization"})
	}
	if a.Hours.PerWeek == nil && a.Hours.Total == nil {
		missing = append(missing, errs.FieldError{Field: "hours", Message: "is required to activate the authorization"})
	}
	if len(missing) == 0 {
		return nil
	}
	return &errs.Error{Kind: errs.FailedPrecondition, Message: "the draft is not complete: set the members named before activating it",
		Fields: missing, Extra: map[string]any{"code": "authorization_incomplete"}}
}

// incomplete reports whether a lacks what the accreditation check needs: a draft from the PAI
// whose cooperative or period is not set yet.
func incomplete(a Authorization) bool {
	return a.CooperativeID == uuid.Nil || a.Period.From == "" || a.Period.To == ""
}
