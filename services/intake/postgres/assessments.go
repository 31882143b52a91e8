package postgres

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/intake"
)

func scanAssessment(r pgx.Row, a *intake.Assessment) error {
	var raw []byte
	if err := r.Scan(&raw); err != nil {
		return err
	}
	*a = intake.Assessment{}
	return unmarshal(raw, a)
}

// CreateAssessment implements intake.Store.
func (s *Store) CreateAssessment(ctx context.Context, a intake.Assessment) error {
	d, err := json.Marshal(a)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO assessments (id, ambito_id, case_id, assessed_on, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		a.ID, a.AmbitoID, a.CaseID, a.AssessedOn, d, a.CreatedAt)
	return pgdb.Translate(err)
}

// GetAssessment implements intake.Store.
func (s *Store) GetAssessment(ctx context.Context, ambitoID, caseID, id uuid.UUID) (intake.Assessment, error) {
	var a intake.Assessment
	err := scanAssessment(s.DB.QueryRow(ctx, `SELECT data FROM assessments WHERE ambito_id = $1 AND case_id = $2 AND id = $3`,
		ambitoID, caseID, id), &a)
	return a, pgdb.NotFound(err, "assessment")
}

// ListAssessments implements intake.Store.
func (s *Store) ListAssessments(ctx context.Context, ambitoID, caseID uuid.UUID, limit int, before *uuid.UUID) ([]intake.Assessment, error) {
	rows, err := s.DB.Query(ctx, `SELECT data FROM assessments WHERE ambito_id = $1 AND case_id = $2 AND ($3::uuid IS NULL OR id < $3)
		ORDER BY id DESC LIMIT $4`, ambitoID, caseID, before, limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, a *intake.Assessment) error { return scanAssessment(r, a) })
}
