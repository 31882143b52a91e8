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

const cols = `data, version, created_at, updated_at`

func data(a interventions.Authorization) ([]byte, error) {
	a.Version = 0
	a.Citizen, a.CitizenUnavailable = nil, false // a read's, never stored
	return json.Marshal(a)
}

// nullID is id, or SQL NULL for the nil UUID (a draft from the PAI without its cooperative).
func nullID(id uuid.UUID) *uuid.UUID {
	if id == uuid.Nil {
		return nil
	}
	return &id
}

func scan(r pgx.Row, a *interventions.Authorization) error {
	var raw []byte
	var version int64
	var created, updated time.Time
	if err := r.Scan(&raw, &version, &created, &updated); err != nil {
		return err
	}
	*a = interventions.Authorization{}
	if err := json.Unmarshal(raw, a); err != nil {
		return err
	}
	a.Version, a.CreatedAt, a.UpdatedAt = version, created, updated
	return nil
}

func (s *Store) addVersion(ctx context.Context, a interventions.Authorization, v interventions.Version) error {
	d, err := data(v.Authorization)
	if err != nil {
		return err
	}
	by, err := json.Marshal(v.ChangedBy)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO authorization_versions (authorization_id, ambito_id, version, change, changed_by, changed_at, data)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, a.ID, a.AmbitoID, v.Version, v.Change, by, v.ChangedAt, d)
	return pgdb.Translate(err)
}

// CreateAuthorization implements interventions.Store.
func (s *Store) CreateAuthorization(ctx context.Context, a interventions.Authorization, v interventions.Version) error {
	d, err := data(a)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO authorizations (id, ambito_id, istat_code, case_id, citizen_id, cooperative_id, service_type,
		status, data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		a.ID, a.AmbitoID, a.ISTATCode, a.CaseID, a.CitizenID, nullID(a.CooperativeID), a.ServiceType, a.Status, d, a.Version, a.CreatedAt, a.UpdatedAt)
	if err != nil {
		return pgdb.Translate(err)
	}
	return s.addVersion(ctx, a, v)
}

// GetAuthorization implements interventions.Store.
func (s *Store) GetAuthorization(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (interventions.Authorization, error) {
	q := `SELECT ` + cols + ` FROM authorizations WHERE ambito_id = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var a interventions.Authorization
	err := scan(s.DB.QueryRow(ctx, q, ambitoID, id), &a)
	return a, pgdb.NotFound(err, "authorization")
}

// UpdateAuthorization implements interventions.Store.
func (s *Store) UpdateAuthorization(ctx context.Context, a interventions.Authorization, expected int64, v interventions.Version) (interventions.Authorization, error) {
	d, err := data(a)
	if err != nil {
		return interventions.Authorization{}, err
	}
	var out interventions.Authorization
	err = scan(s.DB.QueryRow(ctx, `UPDATE authorizations SET cooperative_id = $4, service_type = $5, status = $6, data = $7,
		version = version + 1, updated_at = $8 WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING `+cols,
		a.AmbitoID, a.ID, expected, nullID(a.CooperativeID), a.ServiceType, a.Status, d, a.UpdatedAt), &out)
	if err != nil {
		return interventions.Authorization{}, s.Versioned(ctx, err, "authorizations", a.ID, "authorization")
	}
	v.Version = out.Version
	return out, s.addVersion(ctx, out, v)
}

// ListAuthorizations implements interventions.Store.
func (s *Store) ListAuthorizations(ctx context.Context, f interventions.AuthorizationFilter) ([]interventions.Authorization, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+cols+` FROM authorizations
		WHERE ambito_id = $1
		  AND ($2 = '' OR istat_code = $2)
		  AND ($3::uuid IS NULL OR cooperative_id = $3)
		  AND ($4 = '' OR status = $4)
		  AND ($5 = '' OR service_type = $5)
		  AND ($6::uuid IS NULL OR citizen_id = $6)
		  AND ($7::uuid IS NULL OR case_id = $7)
		  AND ($8::uuid IS NULL OR id < $8)
		  AND NOT ($10 AND status = 'draft')
		ORDER BY id DESC LIMIT $9`,
		f.AmbitoID, f.ISTAT, f.Cooperative, f.Status, f.ServiceType, f.CitizenID, f.CaseID, f.Before, f.Limit, f.NoDrafts)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, a *interventions.Authorization) error { return scan(r, a) })
}

// Versions implements interventions.Store.
func (s *Store) Versions(ctx context.Context, ambitoID, id uuid.UUID, cooperative *uuid.UUID, after int64, limit int) ([]interventions.Version, error) {
	rows, err := s.DB.Query(ctx, `SELECT version, change, changed_by, changed_at, data FROM authorization_versions
		WHERE ambito_id = $1 AND authorization_id = $2 AND version > $3
		  AND ($5::uuid IS NULL OR (data->>'cooperative_id')::uuid = $5)
		ORDER BY version LIMIT $4`, ambitoID, id, after, limit, cooperative)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, v *interventions.Version) error {
		var by, raw []byte
		if err := r.Scan(&v.Version, &v.Change, &by, &v.ChangedAt, &raw); err != nil {
			return err
		}
		if err := json.Unmarshal(by, &v.ChangedBy); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, &v.Authorization); err != nil {
			return err
		}
		v.Authorization.Version = v.Version
		return nil
	})
}
