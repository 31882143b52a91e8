package registry

import (
	"context"
	"errors"
	"slices"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// GetHousehold returns the household of a live citizen the caller may see. The citizen is read
// with the household, in one statement, not through the cache.
func (s *Service) GetHousehold(ctx context.Context, id uuid.UUID) (Household, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Household{}, err
	}
	h, err := s.store.GetHousehold(ctx, sc.ambitoID, id)
	if err != nil {
		return Household{}, err
	}
	if !sc.seesResident(h.ResidenceISTAT) {
		return Household{}, errs.E(errs.NotFound, "citizen not found")
	}
	if h.MergedInto != nil {
		return Household{}, &MergedError{ID: id, MergedInto: *h.MergedInto}
	}
	return h, s.record(ctx, sc, "household.read", id, "", audit.OutcomeSuccess, nil)
}

// AddMember puts a citizen in the household of the citizen of the path.
func (s *Service) AddMember(ctx context.Context, id uuid.UUID, in MemberInput) (Household, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Household{}, err
	}
	var f errs.Fields
	f.Check(in.CitizenID != uuid.Nil && in.CitizenID != id, "citizen_id", "must be another citizen")
	f.Check(slices.Contains(relationships, in.Relationship) && in.Relationship != "head", "relationship", "%s (but head)", oneOf(relationships))
	if in.ValidFrom == "" {
		in.ValidFrom = s.today()
	} else {
		valid.Date(&f, "valid_from", in.ValidFrom, valid.Life) // a household or guardianship can predate the suite
	}
	if err := f.Err(); err != nil {
		return Household{}, err
	}
	if err := s.visible(ctx, sc, id); err != nil {
		return Household{}, err
	}
	if err := s.visible(ctx, sc, in.CitizenID); err != nil {
		if errs.Is(err, errs.NotFound) {
			return Household{}, errs.InvalidField("citizen_id", "is not a citizen you can see")
		}
		if m, ok := errors.AsType[*MergedError](err); ok {
			return Household{}, errs.InvalidField("citizen_id", "was merged into %s: add that one", m.MergedInto)
		}
		return Household{}, err
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		hid, err := tx.AddMember(ctx, sc.ambitoID, id, in.CitizenID, in.Relationship, in.ValidFrom)
		if err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "household.changed", "household", hid,
			map[string]any{"household_id": hid, "citizen_id": in.CitizenID, "joined": true}))
	})
	if err != nil {
		return Household{}, err
	}
	if err := s.record(ctx, sc, "household.change", id, "", audit.OutcomeSuccess, map[string]any{"member_id": in.CitizenID.String()}); err != nil {
		return Household{}, err
	}
	return s.store.GetHousehold(ctx, sc.ambitoID, id)
}
