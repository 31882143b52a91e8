package registry

import (
	"context"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Merge merges other into the survivor id: the other record stays, pointing to the survivor,
// with its own history; the survivor lists it in merged_from and takes its codice fiscale when
// it had none.
func (s *Service) Merge(ctx context.Context, id uuid.UUID, in MergeInput) (Citizen, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Citizen{}, err
	}
	var f errs.Fields
	f.Check(in.OtherID != uuid.Nil, "other_id", "is required")
	f.Check(in.OtherID != id, "other_id", "must be another citizen")
	valid.Text(&f, "reason", in.Reason, false, 500)
	if err := f.Err(); err != nil {
		return Citizen{}, err
	}
	var out, other Citizen
	err = s.store.InTx(ctx, func(tx Store) error {
		first, second := id, in.OtherID
		if second.String() < first.String() {
			first, second = second, first
		}
		a, err := tx.GetCitizen(ctx, sc.ambitoID, first, true)
		if err != nil {
			return err
		}
		b, err := tx.GetCitizen(ctx, sc.ambitoID, second, true)
		if err != nil {
			return err
		}
		survivor := a
		other = b
		if a.ID != id {
			survivor, other = b, a
		}
		if !sc.sees(survivor) || !sc.sees(other) {
			return errs.E(errs.NotFound, "citizen not found")
		}
		if survivor.MergedInto != nil || other.MergedInto != nil {
			return errs.E(errs.FailedPrecondition, "a merged record cannot be merged again")
		}
		if survivor.FiscalCode != "" && other.FiscalCode != "" && survivor.FiscalCodeCanonical != other.FiscalCodeCanonical {
			return errs.InvalidField("other_id", "has another codice fiscale: correct one of them first")
		}
		if err := tx.MarkMerged(ctx, sc.ambitoID, other.ID, survivor.ID); err != nil {
			return err
		}
		// The merged record leaves its household; the survivor takes its place unless it has one.
		hid, err := tx.TakeOverMembership(ctx, sc.ambitoID, other.ID, survivor.ID, newID(), s.today())
		if err != nil {
			return err
		}
		if hid != nil {
			if err := tx.AppendEvents(ctx, events.Of(sc.ambitoID, "household.changed", "household", *hid,
				map[string]any{"household_id": *hid, "citizen_id": other.ID, "merged_into": survivor.ID})); err != nil {
				return err
			}
		}
		reason := ""
		if survivor.FiscalCode == "" && other.FiscalCode != "" {
			survivor.FiscalCode, survivor.FiscalCodeCanonical, survivor.NoFiscalCodeReason, reason = other.FiscalCode, other.FiscalCodeCanonical, "", "merge"
		}
		survivor.MergedFrom = append(survivor.MergedFrom, other.ID)
		if out, err = tx.UpdateCitizen(ctx, survivor, survivor.Version, reason); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "citizen.merged", "citizen", survivor.ID,
			map[string]any{"survivor_id": survivor.ID, "merged_id": other.ID}))
	})
	if err != nil {
		return Citizen{}, err
	}
	s.invalidate(ctx, sc.ambitoID, []uuid.UUID{id, in.OtherID}, out.FiscalCode, other.FiscalCode)
	details := map[string]any{"survivor_id": id.String(), "merged_id": in.OtherID.String(), "reason": in.Reason}
	return out, s.audit.Write(ctx,
		auditRecord(sc, "citizen.merge", id.String(), "", audit.OutcomeSuccess, details),
		auditRecord(sc, "citizen.merge", in.OtherID.String(), "", audit.OutcomeSuccess, details))
}
