package postgres

import (
	"context"
	"encoding/json"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/intake"
)

// CreatePlan implements intake.Store.
func (s *Store) CreatePlan(ctx context.Context, p intake.Plan) error {
	d, err := json.Marshal(p)
	if err != nil {
		return err
	}
	coops := []uuid.UUID{}
	for _, ps := range p.PlannedServices {
		if ps.PreferredCooperative != nil {
			coops = append(coops, *ps.PreferredCooperative)
		}
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO case_plans (case_id, version, ambito_id, cooperatives, data, created_at) VALUES ($1, $2, $3, $4, $5, $6)`,
		p.CaseID, p.Version, p.AmbitoID, coops, d, p.CreatedAt)
	return pgdb.Translate(err)
}

// GetPlan implements intake.Store.
func (s *Store) GetPlan(ctx context.Context, ambitoID, caseID uuid.UUID, version int64) (intake.Plan, error) {
	var raw []byte
	err := s.DB.QueryRow(ctx, `SELECT data FROM case_plans WHERE ambito_id = $1 AND case_id = $2 AND ($3 = 0 OR version = $3)
		ORDER BY version DESC LIMIT 1`, ambitoID, caseID, version).Scan(&raw)
	if err != nil {
		return intake.Plan{}, pgdb.NotFound(err, "plan")
	}
	var p intake.Plan
	if err := json.Unmarshal(raw, &p); err != nil {
		return intake.Plan{}, err
	}
	p.AmbitoID = ambitoID
	return p, nil
}

// ListPlans implements intake.Store.
func (s *Store) ListPlans(ctx context.Context, ambitoID, caseID uuid.UUID, limit int, before int64) ([]intake.PlanVersion, error) {
	rows, err := s.DB.Query(ctx, `SELECT version, data->'created_by', created_at, data->>'review_on' FROM case_plans
		WHERE ambito_id = $1 AND case_id = $2 AND ($3 = 0 OR version < $3) ORDER BY version DESC LIMIT $4`, ambitoID, caseID, before, limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, v *intake.PlanVersion) error {
		var by []byte
		if err := r.Scan(&v.Version, &by, &v.CreatedAt, &v.ReviewOn); err != nil {
			return err
		}
		return json.Unmarshal(by, &v.CreatedBy)
	})
}
