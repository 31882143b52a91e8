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

// caseData is the jsonb form of a case: the case without what columns and tables hold.
func caseData(c intake.Case) ([]byte, error) {
	c.StatusHistory, c.Transfers, c.Citizen, c.Version = nil, nil, nil, 0
	return json.Marshal(c)
}

const caseCols = `c.data, c.version, c.created_at, c.updated_at,
	coalesce((SELECT json_agg(json_build_object('status', h.status, 'reason', h.reason, 'on', h.on_date::text, 'by', h.by_operator, 'at', h.at)
		ORDER BY h.id) FROM case_status_history h WHERE h.case_id = c.id), '[]'),
	coalesce((SELECT json_agg(t.data ORDER BY t.at, t.id) FROM case_transfers t WHERE t.case_id = c.id), '[]')`

func scanCase(r pgx.Row, c *intake.Case) error {
	var raw, history, transfers []byte
	var version int64
	var created, updated time.Time
	if err := r.Scan(&raw, &version, &created, &updated, &history, &transfers); err != nil {
		return err
	}
	*c = intake.Case{}
	if err := unmarshal(raw, c); err != nil {
		return err
	}
	if err := unmarshal(history, &c.StatusHistory); err != nil {
		return err
	}
	if err := unmarshal(transfers, &c.Transfers); err != nil {
		return err
	}
	c.Version, c.CreatedAt, c.UpdatedAt = version, created, updated
	return nil
}

// CreateCase implements intake.Store.
func (s *Store) CreateCase(ctx context.Context, c intake.Case) error {
	d, err := caseData(c)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO cases (id, ambito_id, citizen_id, istat_code, status, responsible_id, case_manager_id, access_id,
		data, version, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
		c.ID, c.AmbitoID, c.CitizenID, c.ISTATCode, c.Status, c.ResponsibleID, c.CaseManagerID, c.AccessID, d, c.Version, c.CreatedAt, c.UpdatedAt)
	return pgdb.Translate(err)
}

// GetCase implements intake.Store.
func (s *Store) GetCase(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (intake.Case, error) {
	q := `SELECT ` + caseCols + ` FROM cases c WHERE c.ambito_id = $1 AND c.id = $2`
	if forUpdate {
		q += ` FOR UPDATE OF c`
	}
	var c intake.Case
	err := scanCase(s.DB.QueryRow(ctx, q, ambitoID, id), &c)
	return c, pgdb.NotFound(err, "case")
}

// UpdateCase implements intake.Store.
func (s *Store) UpdateCase(ctx context.Context, c intake.Case, expected int64) (intake.Case, error) {
	d, err := caseData(c)
	if err != nil {
		return intake.Case{}, err
	}
	var one int
	err = s.DB.QueryRow(ctx, `UPDATE cases SET istat_code = $4, status = $5, responsible_id = $6, case_manager_id = $7, data = $8,
		version = version + 1, updated_at = now() WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING 1`,
		c.AmbitoID, c.ID, expected, c.ISTATCode, c.Status, c.ResponsibleID, c.CaseManagerID, d).Scan(&one)
	if err != nil {
		return intake.Case{}, s.Versioned(ctx, err, "cases", c.ID, "case")
	}
	return s.GetCase(ctx, c.AmbitoID, c.ID, false)
}

// ListCases implements intake.Store.
func (s *Store) ListCases(ctx context.Context, f intake.CaseFilter) ([]intake.Case, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+caseCols+` FROM cases c
		WHERE c.ambito_id = $1
		  AND ($2 = '' OR c.istat_code = $2 OR c.responsible_id::text = $3 OR c.case_manager_id::text = $3)
		  AND ($4 = '' OR c.istat_code = $4)
		  AND ($5 = '' OR c.status = $5)
		  AND ($6 = '' OR c.responsible_id::text = $6 OR c.case_manager_id::text = $6)
		  AND ($7::uuid IS NULL OR c.citizen_id = $7)
		  AND ($8::uuid IS NULL OR c.id < $8)
		ORDER BY c.id DESC LIMIT $9`,
		f.AmbitoID, f.Scope, f.Assignee, f.ISTAT, f.Status, f.AssignedTo, f.CitizenID, f.Before, f.Limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, c *intake.Case) error { return scanCase(r, c) })
}

// AddStatusChange implements intake.Store.
func (s *Store) AddStatusChange(ctx context.Context, ambitoID, caseID uuid.UUID, ch intake.StatusChange) error {
	by, err := json.Marshal(ch.By)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO case_status_history (ambito_id, case_id, status, reason, on_date, by_operator, at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, ambitoID, caseID, ch.Status, ch.Reason, ch.On, by, ch.At)
	return pgdb.Translate(err)
}

// AddTransfer implements intake.Store.
func (s *Store) AddTransfer(ctx context.Context, t intake.Transfer) error {
	d, err := json.Marshal(t)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO case_transfers (id, ambito_id, case_id, data, at) VALUES ($1, $2, $3, $4, $5)`,
		t.ID, t.AmbitoID, t.CaseID, d, t.At)
	return pgdb.Translate(err)
}

// AddClosure implements intake.Store.
func (s *Store) AddClosure(ctx context.Context, ambitoID, caseID uuid.UUID, c intake.Closure) error {
	d, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO case_closures (ambito_id, case_id, data, at) VALUES ($1, $2, $3, $4)`, ambitoID, caseID, d, c.At)
	return pgdb.Translate(err)
}
