package interventions

import (
	"context"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// The visibility levels of a diary entry, from the widest to the narrowest. The writer always
// reads their own entries; the comune's (and the azienda's) social workers and service managers
// read every level.
const (
	// VisibilityTeam: everyone on the authorization, the cooperative's operators (coordinator,
	// educators, ASA, OSS) and the social service.
	VisibilityTeam = "team"
	// VisibilityCoordinator: the cooperative's coordinator and the social service, not the
	// cooperative's other operators.
	VisibilityCoordinator = "coordinator"
	// VisibilitySocialServices: the social service only (and the writer): an educator
	// reporting a concern that the cooperative's other staff must not read.
	VisibilitySocialServices = "social_services"
)

// DiaryVisibilities are the levels, from the widest to the narrowest.
var DiaryVisibilities = []string{VisibilityTeam, VisibilityCoordinator, VisibilitySocialServices}

// DiaryCategories are the codes of what an entry is about.
var DiaryCategories = []string{"observation", "incident", "family_contact", "school_contact", "health", "progress", "other"}

const maxDiaryTextLen = 4000

// DiaryEntry is an entry of an authorization's diary: never changed nor deleted; a correction is
// a new entry that names the one it corrects, and both stay.
type DiaryEntry struct {
	ID              uuid.UUID  `json:"id"`
	AuthorizationID uuid.UUID  `json:"authorization_id"`
	Category        string     `json:"category"`
	Text            string     `json:"text"`
	OccurredOn      Date       `json:"occurred_on"`
	Visibility      string     `json:"visibility"`
	Corrects        *uuid.UUID `json:"corrects"`
	// CorrectedBy are the later entries that correct this one, of those the reader may read.
	CorrectedBy []uuid.UUID `json:"corrected_by"`
	Author      Operator    `json:"author"`
	CreatedAt   time.Time   `json:"created_at"`

	AmbitoID uuid.UUID `json:"-"`
}

// DiaryInput writes an entry.
type DiaryInput struct {
	Category   string     `json:"category"`
	Text       string     `json:"text"`
	OccurredOn Date       `json:"occurred_on"`
	Visibility string     `json:"visibility"`
	Corrects   *uuid.UUID `json:"corrects"`
}

// DiaryReader is what a reader may read of a diary: the levels, and their own entries whatever
// the level.
type DiaryReader struct {
	Levels   []string
	AuthorID string
}

// DiaryStore is what the diary needs of the database.
type DiaryStore interface {
	CreateDiaryEntry(ctx context.Context, e DiaryEntry) error
	// GetDiaryEntry returns an entry of the authorization that r may read (NotFound otherwise).
	GetDiaryEntry(ctx context.Context, ambitoID, authorizationID, id uuid.UUID, r DiaryReader) (DiaryEntry, error)
	// ListDiary lists the entries of an authorization r may read, newest first, before before;
	// CorrectedBy holds the corrections r may read.
	ListDiary(ctx context.Context, ambitoID, authorizationID uuid.UUID, r DiaryReader, before *uuid.UUID, limit int) ([]DiaryEntry, error)
}

// diaryReader is what the caller reads of the diaries of the authorizations they see.
func (sc scope) diaryReader() DiaryReader {
	r := DiaryReader{AuthorID: sc.claims.Subject}
	switch {
	case sc.coop == uuid.Nil: // the comune's or the azienda's social service
		r.Levels = DiaryVisibilities
	case sc.claims.Role == auth.RoleCoopCoordinator:
		r.Levels = []string{VisibilityTeam, VisibilityCoordinator}
	default:
		r.Levels = []string{VisibilityTeam}
	}
	return r
}

// AddDiaryEntry writes an entry in the diary of an authorization the caller sees (otherwise
// 404). A correction names an earlier entry of the same diary that the caller may read, and is
// at least as restricted as it (a correction never shows more widely what it corrects).
func (s *Service) AddDiaryEntry(ctx context.Context, authorizationID uuid.UUID, in DiaryInput) (DiaryEntry, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return DiaryEntry{}, err
	}
	var f errs.Fields
	f.Check(slices.Contains(DiaryCategories, in.Category), "category", "must be one of %s", strings.Join(DiaryCategories, ", "))
	f.Check(slices.Contains(DiaryVisibilities, in.Visibility), "visibility", "must be one of %s", strings.Join(DiaryVisibilities, ", "))
	valid.Text(&f, "text", in.Text, true, maxDiaryTextLen)
	if _, ok := valid.Date(&f, "occurred_on", in.OccurredOn, valid.Suite); ok {
		f.Check(in.OccurredOn <= s.now().In(s.cfg.Location).Format(time.DateOnly), "occurred_on", "must not be in the future")
	}
	f.Check(in.Corrects == nil || *in.Corrects != uuid.Nil, "corrects", "is not an id")
	if err := f.Err(); err != nil {
		return DiaryEntry{}, err
	}
	a, err := s.visible(ctx, sc, authorizationID)
	if err != nil {
		return DiaryEntry{}, err
	}
	e := DiaryEntry{ID: newID(), AuthorizationID: a.ID, Category: in.Category, Text: in.Text, OccurredOn: in.OccurredOn,
		Visibility: in.Visibility, Corrects: in.Corrects, CorrectedBy: []uuid.UUID{}, Author: sc.operator(), CreatedAt: s.now(), AmbitoID: a.AmbitoID}
	if in.Corrects != nil {
		prev, err := s.store.GetDiaryEntry(ctx, a.AmbitoID, a.ID, *in.Corrects, sc.diaryReader())
		if errs.Is(err, errs.NotFound) {
			return DiaryEntry{}, errs.InvalidField("corrects", "is not an entry of this diary that you may read")
		} else if err != nil {
			return DiaryEntry{}, err
		}
		if slices.Index(DiaryVisibilities, e.Visibility) < slices.Index(DiaryVisibilities, prev.Visibility) {
			return DiaryEntry{}, errs.InvalidField("visibility", "must be %s or narrower: the entry corrected is %s", prev.Visibility, prev.Visibility)
		}
	}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateDiaryEntry(ctx, e); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(a.AmbitoID, "diary.entry_added", "diary_entry", e.ID, diaryEvent{ID: e.ID, AuthorizationID: a.ID,
			CitizenID: a.CitizenID, CooperativeID: a.CooperativeID, Category: e.Category, Visibility: e.Visibility, Corrects: e.Corrects}))
	})
	if err != nil {
		return DiaryEntry{}, err
	}
	details := map[string]any{"entry_id": e.ID.String(), "visibility": e.Visibility, "category": e.Category}
	if e.Corrects != nil {
		details["corrects"] = e.Corrects.String()
	}
	return e, s.record(ctx, rec(sc, "diary.write", a, details))
}

// ListDiary lists the entries of an authorization's diary that the caller may read, newest
// first.
func (s *Service) ListDiary(ctx context.Context, authorizationID uuid.UUID, limit int, cur string) (cursor.Page[DiaryEntry], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	a, err := s.visible(ctx, sc, authorizationID)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	list := cursor.For("diary", a.ID.String())
	before, err := list.DecodeID(cur)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	items, err := s.store.ListDiary(ctx, sc.ambitoID, a.ID, sc.diaryReader(), before, limit+1)
	if err != nil {
		return cursor.Page[DiaryEntry]{}, err
	}
	p := cursor.PageOf(items, limit, list, func(e DiaryEntry) string { return e.ID.String() })
	return p, s.record(ctx, rec(sc, "diary.read", a, map[string]any{"count": len(p.Items)}))
}

// diaryEvent is the payload of diary.entry_added: ids and codes, never the text.
type diaryEvent struct {
	ID              uuid.UUID  `json:"id"`
	AuthorizationID uuid.UUID  `json:"authorization_id"`
	CitizenID       uuid.UUID  `json:"citizen_id"`
	CooperativeID   uuid.UUID  `json:"cooperative_id"`
	Category        string     `json:"category"`
	Visibility      string     `json:"visibility"`
	Corrects        *uuid.UUID `json:"corrects,omitempty"`
}
