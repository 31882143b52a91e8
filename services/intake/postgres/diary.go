package postgres

import (
	"context"
	"encoding/json"

	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/intake"
)

// CreateDiaryEntry implements intake.Store.
func (s *Store) CreateDiaryEntry(ctx context.Context, e intake.DiaryEntry) error {
	d, err := json.Marshal(e)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO diary_entries (id, ambito_id, case_id, visibility, cooperative_id, author_id, data, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, e.ID, e.AmbitoID, e.CaseID, e.Visibility, e.CooperativeID, e.Author.ID, d, e.CreatedAt)
	return pgdb.Translate(err)
}

// ListDiary implements intake.Store.
func (s *Store) ListDiary(ctx context.Context, f intake.DiaryFilter) ([]intake.DiaryEntry, error) {
	rows, err := s.DB.Query(ctx, `SELECT data FROM diary_entries
		WHERE ambito_id = $1 AND case_id = $2
		  AND CASE WHEN $3 <> '' THEN visibility = 'cooperative' AND cooperative_id::text = $3
		           ELSE visibility <> 'team' OR $4 OR author_id = $5 END
		  AND ($6::uuid IS NULL OR id < $6)
		ORDER BY id DESC LIMIT $7`, f.AmbitoID, f.CaseID, f.Cooperative, f.Team, f.Author, f.Before, f.Limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, e *intake.DiaryEntry) error {
		var raw []byte
		if err := r.Scan(&raw); err != nil {
			return err
		}
		return json.Unmarshal(raw, e)
	})
}
