package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/interventions"
)

// diaryCols reads an entry, with the corrections of it that the reader ($levels, $author) may
// read.
const diaryCols = `e.id, e.ambito_id, e.authorization_id, e.category, e.text, e.occurred_on, e.visibility, e.corrects, e.author, e.created_at,
	ARRAY(SELECT c.id FROM diary_entries c WHERE c.corrects = e.id AND (c.visibility = ANY($3) OR c.author_id = $4) ORDER BY c.id)`

func scanDiary(r pgx.Row, e *interventions.DiaryEntry) error {
	var by []byte
	var on time.Time
	if err := r.Scan(&e.ID, &e.AmbitoID, &e.AuthorizationID, &e.Category, &e.Text, &on, &e.Visibility, &e.Corrects, &by, &e.CreatedAt, &e.CorrectedBy); err != nil {
		return err
	}
	e.OccurredOn = on.Format(time.DateOnly)
	if e.CorrectedBy == nil {
		e.CorrectedBy = []uuid.UUID{}
	}
	return json.Unmarshal(by, &e.Author)
}

// CreateDiaryEntry implements interventions.Store.
func (s *Store) CreateDiaryEntry(ctx context.Context, e interventions.DiaryEntry) error {
	by, err := json.Marshal(e.Author)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO diary_entries (id, ambito_id, authorization_id, category, text, occurred_on, visibility, corrects,
		author_id, author, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		e.ID, e.AmbitoID, e.AuthorizationID, e.Category, e.Text, e.OccurredOn, e.Visibility, e.Corrects, e.Author.ID, by, e.CreatedAt)
	return pgdb.Translate(err)
}

// GetDiaryEntry implements interventions.Store.
func (s *Store) GetDiaryEntry(ctx context.Context, ambitoID, authorizationID, id uuid.UUID, r interventions.DiaryReader) (interventions.DiaryEntry, error) {
	var e interventions.DiaryEntry
	err := scanDiary(s.DB.QueryRow(ctx, `SELECT `+diaryCols+` FROM diary_entries e
		WHERE e.ambito_id = $1 AND e.authorization_id = $2 AND (e.visibility = ANY($3) OR e.author_id = $4) AND e.id = $5`,
		ambitoID, authorizationID, r.Levels, r.AuthorID, id), &e)
	return e, pgdb.NotFound(err, "diary entry")
}

// ListDiary implements interventions.Store.
func (s *Store) ListDiary(ctx context.Context, ambitoID, authorizationID uuid.UUID, r interventions.DiaryReader, before *uuid.UUID, limit int) ([]interventions.DiaryEntry, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+diaryCols+` FROM diary_entries e
		WHERE e.ambito_id = $1 AND e.authorization_id = $2 AND (e.visibility = ANY($3) OR e.author_id = $4)
		  AND ($5::uuid IS NULL OR e.id < $5)
		ORDER BY e.id DESC LIMIT $6`, ambitoID, authorizationID, r.Levels, r.AuthorID, before, limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, e *interventions.DiaryEntry) error { return scanDiary(r, e) })
}
