package postgres

import (
	"context"
	"encoding/json"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/interventions"
)

// VisitTotals implements interventions.StatementStore: one index-only scan of visits_statement
// (ambito, cooperative, day) over the month.
func (s *Store) VisitTotals(ctx context.Context, ambitoID, coop uuid.UUID, from, to interventions.Date) ([]interventions.VisitTotal, error) {
	rows, err := s.DB.Query(ctx, `SELECT authorization_id,
			coalesce(sum(minutes) FILTER (WHERE NOT absent), 0),
			count(*) FILTER (WHERE absent),
			coalesce(sum(excess_minutes) FILTER (WHERE NOT absent), 0)
		FROM visits
		WHERE ambito_id = $1 AND cooperative_id = $2 AND day BETWEEN $3::date AND $4::date AND status = 'valid'
		GROUP BY authorization_id`, ambitoID, coop, from, to)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, v *interventions.VisitTotal) error {
		return r.Scan(&v.AuthorizationID, &v.DeliveredMinutes, &v.MissedVisits, &v.ExcessMinutes)
	})
}

// StatementAuthorizations implements interventions.StatementStore.
func (s *Store) StatementAuthorizations(ctx context.Context, ambitoID, coop uuid.UUID, from, to interventions.Date, ids []uuid.UUID) ([]interventions.Authorization, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+cols+` FROM authorizations
		WHERE ambito_id = $1 AND (
			cooperative_id = $2 AND status <> 'draft' AND data->'period'->>'from' <= $4 AND data->'period'->>'to' >= $3
			OR id = ANY($5))`, ambitoID, coop, from, to, ids)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, a *interventions.Authorization) error { return scan(r, a) })
}

func firstDay(month string) string { return month + "-01" }

// GetStatement implements interventions.StatementStore.
func (s *Store) GetStatement(ctx context.Context, ambitoID, coop uuid.UUID, month string, forUpdate bool) (interventions.Statement, error) {
	q := `SELECT data, version FROM statements WHERE ambito_id = $1 AND cooperative_id = $2 AND month = $3::date`
	if forUpdate {
		// The month's lock, exclusive: the visits of the month hold it shared (LockedMonths)
		// until they commit, so a transition and a visit of the month never interleave, even
		// before the month has a row.
		// (The key: hashtextextended of ambito/cooperative/month, as visits.go's.)
		if _, err := s.DB.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended($1::uuid::text || '/' || $2::uuid::text || '/' || $3::date::text, 1217))`,
			ambitoID, coop, firstDay(month)); err != nil {
			return interventions.Statement{}, pgdb.Translate(err)
		}
		q += ` FOR UPDATE`
	}
	var raw []byte
	var st interventions.Statement
	if err := s.DB.QueryRow(ctx, q, ambitoID, coop, firstDay(month)).Scan(&raw, &st.Version); err != nil {
		return st, pgdb.NotFound(err, "statement")
	}
	version := st.Version
	if err := json.Unmarshal(raw, &st); err != nil {
		return st, err
	}
	st.AmbitoID, st.Version = ambitoID, version
	return st, nil
}

// SaveStatement implements interventions.StatementStore.
func (s *Store) SaveStatement(ctx context.Context, st interventions.Statement, expected int64, action string, by interventions.Operator) error {
	d, err := json.Marshal(st)
	if err != nil {
		return err
	}
	b, err := json.Marshal(by)
	if err != nil {
		return err
	}
	now := time.Now().UTC()
	if st.UpdatedAt != nil {
		now = *st.UpdatedAt
	}
	var tag interface{ RowsAffected() int64 }
	if expected == 1 {
		tag, err = s.DB.Exec(ctx, `INSERT INTO statements (ambito_id, cooperative_id, month, status, data, version, created_at, updated_at)
			VALUES ($1, $2, $3::date, $4, $5, $6, $7, $7) ON CONFLICT DO NOTHING`,
			st.AmbitoID, st.CooperativeID, firstDay(st.Month), st.Status, d, st.Version, now)
	} else {
		tag, err = s.DB.Exec(ctx, `UPDATE statements SET status = $4, data = $5, version = $6, updated_at = $7
			WHERE ambito_id = $1 AND cooperative_id = $2 AND month = $3::date AND version = $8`,
			st.AmbitoID, st.CooperativeID, firstDay(st.Month), st.Status, d, st.Version, now, expected)
	}
	if err != nil {
		return pgdb.Translate(err)
	}
	if tag.RowsAffected() != 1 {
		return errs.E(errs.PreconditionFailed, "the statement changed meanwhile: read it again")
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO statement_versions (ambito_id, cooperative_id, month, version, action, status, changed_by, changed_at, data)
		VALUES ($1, $2, $3::date, $4, $5, $6, $7, $8, $9)`,
		st.AmbitoID, st.CooperativeID, firstDay(st.Month), st.Version, action, st.Status, b, now, d)
	return pgdb.Translate(err)
}

// StatementsOf implements interventions.StatementStore.
func (s *Store) StatementsOf(ctx context.Context, ambitoID uuid.UUID, month string) ([]interventions.Statement, error) {
	rows, err := s.DB.Query(ctx, `SELECT data, version FROM statements WHERE ambito_id = $1 AND month = $2::date ORDER BY cooperative_id`,
		ambitoID, firstDay(month))
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, st *interventions.Statement) error {
		var raw []byte
		var version int64
		if err := r.Scan(&raw, &version); err != nil {
			return err
		}
		if err := json.Unmarshal(raw, st); err != nil {
			return err
		}
		st.AmbitoID, st.Version = ambitoID, version
		return nil
	})
}

// CooperativesOf implements interventions.StatementStore.
func (s *Store) CooperativesOf(ctx context.Context, ambitoID uuid.UUID, from, to interventions.Date) ([]uuid.UUID, error) {
	rows, err := s.DB.Query(ctx, `SELECT DISTINCT cooperative_id FROM authorizations
		WHERE ambito_id = $1 AND status <> 'draft' AND data->'period'->>'from' <= $3 AND data->'period'->>'to' >= $2
		ORDER BY cooperative_id`, ambitoID, from, to)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, id *uuid.UUID) error { return r.Scan(id) })
}
