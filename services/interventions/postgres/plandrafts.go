package postgres

import (
	"context"
	"encoding/json"
	"errors"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/interventions"
)

// ClaimPlanService implements interventions.PlanDraftStore. The key's row is written first:
// when it exists (a redelivered event) nothing else is; otherwise, when an earlier version of
// the case's plan planned the same service (jsonb equality: the same members and values), the
// row points at that version's draft and no new one is made.
func (s *Store) ClaimPlanService(ctx context.Context, key interventions.PlanKey, service json.RawMessage, id uuid.UUID) (bool, error) {
	var carried bool
	err := s.DB.QueryRow(ctx, `
		WITH earlier AS (
			SELECT authorization_id FROM plan_drafts
			WHERE case_id = $1 AND plan_version < $2 AND service = $5::jsonb
			ORDER BY plan_version DESC LIMIT 1
		)
		INSERT INTO plan_drafts (case_id, plan_version, service_index, ambito_id, service, authorization_id, carried)
		SELECT $1, $2, $3, $4, $5::jsonb, coalesce((SELECT authorization_id FROM earlier), $6), EXISTS (SELECT 1 FROM earlier)
		ON CONFLICT (case_id, plan_version, service_index) DO NOTHING
		RETURNING carried`, key.CaseID, key.Version, key.Index, key.AmbitoID, []byte(service), id).Scan(&carried)
	if errors.Is(err, pgx.ErrNoRows) {
		return false, nil // handled already
	}
	if err != nil {
		return false, pgdb.Translate(err)
	}
	return !carried, nil
}
