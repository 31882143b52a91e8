package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/intake"
)

// TaxonomyVersions implements intake.Store.
func (s *Store) TaxonomyVersions(ctx context.Context, ambitoID uuid.UUID) ([]intake.TaxonomyVersion, error) {
	rows, err := s.DB.Query(ctx, `SELECT version, jsonb_array_length(data->'areas'),
			(SELECT count(*) FROM jsonb_array_elements(data->'areas') a, jsonb_array_elements(a->'needs')),
			created_at, created_by
		FROM needs_taxonomies WHERE ambito_id = $1 ORDER BY version`, ambitoID)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, v *intake.TaxonomyVersion) error {
		var at time.Time
		if err := r.Scan(&v.Version, &v.Areas, &v.Needs, &at, &v.CreatedBy); err != nil {
			return err
		}
		v.CreatedAt = &at
		return nil
	})
}

// Taxonomy implements intake.Store.
func (s *Store) Taxonomy(ctx context.Context, ambitoID uuid.UUID, version int) (intake.Taxonomy, error) {
	var raw []byte
	err := s.DB.QueryRow(ctx, `SELECT data FROM needs_taxonomies WHERE ambito_id = $1 AND ($2 = 0 OR version = $2)
		ORDER BY version DESC LIMIT 1`, ambitoID, version).Scan(&raw)
	if err != nil {
		return intake.Taxonomy{}, pgdb.NotFound(err, "needs taxonomy version")
	}
	var t intake.Taxonomy
	return t, json.Unmarshal(raw, &t)
}

// CreateTaxonomy implements intake.Store.
func (s *Store) CreateTaxonomy(ctx context.Context, ambitoID uuid.UUID, t intake.Taxonomy, by string) error {
	d, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO needs_taxonomies (ambito_id, version, data, created_by) VALUES ($1, $2, $3, $4)`,
		ambitoID, t.Version, d, by)
	return pgdb.Translate(err)
}
