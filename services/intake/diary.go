package intake

import (
	"context"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

const maxDiaryText = 10_000

// AddDiaryEntry appends an entry to the diary of a case the caller may see. The diary is
// append-only.
func (s *Service) AddDiaryEntry(ctx context.Context, caseID uuid.UUID, in DiaryInput) (DiaryEntry, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return DiaryEntry{}, err
	}
	var f errs.Fields
	s.pastDate(&f, "entry_on", in.EntryOn)
	valid.Text(&f, "text", in.Text, true, maxDiaryText)
	codes("diary_visibility").Check(&f, "visibility", in.Visibility, true)
	switch {
	case in.Visibility == VisibilityCooperative && in.CooperativeID == nil:
		f.Add("cooperative_id", "is required when the visibility is cooperative")
	case in.Visibility != VisibilityCooperative && in.CooperativeID != nil:
		f.Add("cooperative_id", "applies only when the visibility is cooperative")
	case in.CooperativeID != nil && *in.CooperativeID == uuid.Nil:
		f.Add("cooperative_id", "is not an id")
	}
	if err := f.Err(); err != nil {
		return DiaryEntry{}, err
	}
	e := DiaryEntry{ID: newID(), CaseID: caseID, EntryOn: in.EntryOn, Text: in.Text, Visibility: in.Visibility, CooperativeID: in.CooperativeID,
		Author: sc.operator(), CreatedAt: s.now(), AmbitoID: sc.ambitoID}
	var c Case
	err = s.store.InTx(ctx, func(tx Store) error {
		if c, err = s.visibleCase(ctx, tx, sc, caseID, true); err != nil {
			return err
		}
		if err := writable(c); err != nil {
			return err
		}
		if e.CooperativeID != nil {
			p, err := tx.GetPlan(ctx, sc.ambitoID, caseID, 0)
			if err != nil && !errs.Is(err, errs.NotFound) {
				return err
			}
			if err != nil || !p.names(e.CooperativeID.String()) {
				return errs.InvalidField("cooperative_id", "is not a cooperative the case's current plan names")
			}
		}
		return tx.CreateDiaryEntry(ctx, e)
	})
	if err != nil {
		return DiaryEntry{}, err
	}
	return e, s.record(ctx, rec(sc, "diary.create", "diary_entry", e.ID, &c.CitizenID, map[string]any{"case_id": caseID.String()}))
}

// ListDiary lists the diary entries of a case the caller may read, newest first. A
// cooperative's operators read only the entries shared with their cooperative, of cases whose
// current plan names it (other cases are a 404); the social service reads the rest as its
// visibility says.
func (s *Service) ListDiary(ctx context.Context, caseID uuid.UUID, limit int, cur string) (cursor.Page[DiaryEntry], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	list := cursor.For("diary", caseID.String())
	before, err := list.DecodeID(cur)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	f := DiaryFilter{AmbitoID: sc.ambitoID, CaseID: caseID, Limit: limit + 1, Before: before}
	var c Case
	if sc.coop != "" {
		if c, err = s.store.GetCase(ctx, sc.ambitoID, caseID, false); err != nil {
			return cursor.Page[DiaryEntry]{}, err
		}
		p, err := s.store.GetPlan(ctx, sc.ambitoID, caseID, 0)
		if errs.Is(err, errs.NotFound) || err == nil && !p.names(sc.coop) {
			return cursor.Page[DiaryEntry]{}, errs.E(errs.NotFound, "case not found")
		}
		if err != nil {
			return cursor.Page[DiaryEntry]{}, err
		}
		f.Cooperative = sc.coop
	} else {
		if c, err = s.visibleCase(ctx, s.store, sc, caseID, false); err != nil {
			return cursor.Page[DiaryEntry]{}, err
		}
		f.Team = sc.assigned(c) || sc.manages(c)
		f.Author = sc.me()
	}
	items, err := s.store.ListDiary(ctx, f)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	p := cursor.PageOf(items, limit, list, func(e DiaryEntry) string { return e.ID.String() })
	return p, s.record(ctx, rec(sc, "diary.list", "case", caseID, &c.CitizenID, map[string]any{"entries": len(p.Items)}))
}
