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

func accessData(a intake.Access) ([]byte, error) {
	a.Version = 0
	return json.Marshal(a)
}

func outcomeOf(a intake.Access) *string {
	if a.Outcome == nil {
		return nil
	}
	return &a.Outcome.Kind
}

const accessCols = `data, version, created_at, updated_at`

func scanAccess(r pgx.Row, a *intake.Access) error {
	var raw []byte
	var version int64
	var created, updated time.Time
	if err := r.Scan(&raw, &version, &created, &updated); err != nil {
		return err
	}
	*a = intake.Access{}
	if err := unmarshal(raw, a); err != nil {
		return err
	}
	a.Version, a.CreatedAt, a.UpdatedAt = version, created, updated
	if a.Needs == nil {
		a.Needs = []string{}
	}
	return nil
}

// CreateAccess implements intake.Store.
func (s *Store) CreateAccess(ctx context.Context, a intake.Access) error {
	d, err := accessData(a)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO accesses (id, ambito_id, istat_code, access_date, citizen_id, outcome, recorded_by, data, version,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`,
		a.ID, a.AmbitoID, a.ISTATCode, a.Date, a.CitizenID, outcomeOf(a), a.Operator.ID, d, a.Version, a.CreatedAt, a.UpdatedAt)
	return pgdb.Translate(err)
}

// GetAccess implements intake.Store.
func (s *Store) GetAccess(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (intake.Access, error) {
	q := `SELECT ` + accessCols + ` FROM accesses WHERE ambito_id = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var a intake.Access
	err := scanAccess(s.DB.QueryRow(ctx, q, ambitoID, id), &a)
	return a, pgdb.NotFound(err, "access")
}

// UpdateAccess implements intake.Store.
func (s *Store) UpdateAccess(ctx context.Context, a intake.Access, expected int64) (intake.Access, error) {
	d, err := accessData(a)
	if err != nil {
		return intake.Access{}, err
	}
	var out intake.Access
	err = scanAccess(s.DB.QueryRow(ctx, `UPDATE accesses SET istat_code = $4, access_date = $5, citizen_id = $6, outcome = $7, data = $8,
		version = version + 1, updated_at = now() WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING `+accessCols,
		a.AmbitoID, a.ID, expected, a.ISTATCode, a.Date, a.CitizenID, outcomeOf(a), d), &out)
	if err != nil {
		return intake.Access{}, s.Versioned(ctx, err, "accesses", a.ID, "access")
	}
	return out, nil
}

// ListAccesses implements intake.Store.
func (s *Store) ListAccesses(ctx context.Context, f intake.AccessFilter) ([]intake.Access, error) {
	var from, to *string
	if f.From != "" {
		from = &f.From
	}
	if f.To != "" {
		to = &f.To
	}
	rows, err := s.DB.Query(ctx, `SELECT `+accessCols+` FROM accesses
		WHERE ambito_id = $1
		  AND ($2 = '' OR istat_code = $2 OR recorded_by = $3)
		  AND ($4 = '' OR istat_code = $4)
		  AND ($5::date IS NULL OR access_date >= $5)
		  AND ($6::date IS NULL OR access_date <= $6)
		  AND ($7 = '' OR $7 = 'none' AND outcome IS NULL OR outcome = $7)
		  AND ($8::uuid IS NULL OR citizen_id = $8)
		  AND ($9::uuid IS NULL OR id < $9)
		ORDER BY id DESC LIMIT $10`,
		f.AmbitoID, f.Scope, f.Recorder, f.ISTAT, from, to, f.Outcome, f.CitizenID, f.Before, f.Limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, a *intake.Access) error { return scanAccess(r, a) })
}
