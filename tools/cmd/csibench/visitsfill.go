package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/tools/internal/ivload"
)

// The statement's data: the visits table filled with generate_series to fillTarget rows once,
// in interventions' bench database, and kept between runs (the fill's rows have ids of their
// own, fillID, so a run counts them and adds only what is missing).
//
// The fill is the reference ambito's 20 cooperatives, 300 authorizations each (the statement
// cooperative's, made through the API, and 19 filler cooperatives' copies of them made by
// SQL), 19 operators a cooperative (380 in all), each making 8 one-hour visits a day from
// ivload.StmtFrom on, one in 25 a missed visit: 10 million visits are about 9 years of them, and a
// month of the statement cooperative holds about 4,700 visits on its 300 authorizations.
const (
	fillCoops     = 20
	fillOperators = 19
	fillPerDay    = 8
	fillChunk     = 500_000
	// stmtMonth is the month whose statement the bench reads: well inside the fill.
	stmtMonth = "2016-05"
)

// fillID is the id of the fill's g-th visit: ordered, and unlike any the service makes.
const fillIDSQL = `('b0000000-0000-4000-8000-' || lpad(to_hex(g), 12, '0'))::uuid`

func fillID(g int64) uuid.UUID {
	return uuid.MustParse(fmt.Sprintf("b0000000-0000-4000-8000-%012x", g))
}

// fillVisitsSQL inserts the fill's visits $3 <= g < $4 (fill_auths: the 20 cooperatives'
// authorizations, numbered).
const fillVisitsSQL = `INSERT INTO visits (id, ambito_id, authorization_id, cooperative_id, service_type, citizen_id, operator_id, day,
	starts_at, ends_at, minutes, absent, place, activities, notes, excess_minutes, status, recorded_by, recorded_at)
SELECT ` + fillIDSQL + `, $1, f.id, f.cooperative_id, f.service_type, f.citizen_id,
	md5('bench-fill-operator-' || (g % $2) || '-' || ((g / $2) % ` + "19" + `))::uuid,
	d.day, (d.day + make_time(8 + ((g / $2 / 19) % 8)::int, 0, 0)) AT TIME ZONE 'Europe/Rome',
	(d.day + make_time(9 + ((g / $2 / 19) % 8)::int, 0, 0)) AT TIME ZONE 'Europe/Rome',
	60, g % 25 = 0, 'home', '{personal_care}', '', 0, 'valid',
	jsonb_build_object('id', 'bench-fill', 'role', 'educator', 'org_id', f.cooperative_id), now()
FROM generate_series($3::bigint, $4::bigint - 1) g
CROSS JOIN LATERAL (SELECT (date '` + ivload.StmtFrom + `' + (g / $2 / 19 / 8)::int) AS day) d
JOIN fill_auths f ON f.ci = g % $2 AND f.ai = (g / $2) % 300`

// fillVisits makes sure the visits table holds the fill's target rows, and says how long it
// took when it had to add any.
func fillVisits(ctx context.Context, dbURL string, st ivload.Setup, target int64, logw io.Writer) (have int64, took time.Duration, err error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return 0, 0, fmt.Errorf("connect to interventions' database: %w", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	count := func() (int64, error) {
		var n int64
		err := conn.QueryRow(ctx, `SELECT count(*) FROM visits WHERE id BETWEEN $1 AND $2`, fillID(0), fillID(1<<47)).Scan(&n)
		return n, err
	}
	if have, err = count(); err != nil {
		return 0, 0, fmt.Errorf("count the fill's visits: %w", err)
	}
	if have >= target {
		fmt.Fprintf(logw, "==> the visits table holds the fill's %d visits already\n", have)
		return have, 0, nil
	}
	fmt.Fprintf(logw, "==> filling the visits table up to %d visits (generate_series, %d a transaction; it holds %d)\n", target, fillChunk, have)
	began := time.Now()
	// The filler cooperatives' authorizations: copies of the statement cooperative's.
	var ids []uuid.UUID
	for _, a := range st.StmtAuths {
		ids = append(ids, a.ID)
	}
	if _, err := conn.Exec(ctx, `INSERT INTO authorizations (id, ambito_id, istat_code, case_id, citizen_id, cooperative_id, service_type,
		status, data, version, created_at, updated_at)
		SELECT n.id, a.ambito_id, a.istat_code, n.case_id, n.citizen_id, n.coop, a.service_type, a.status,
			a.data || jsonb_build_object('id', n.id, 'case_id', n.case_id, 'citizen_id', n.citizen_id, 'cooperative_id', n.coop),
			a.version, a.created_at, a.updated_at
		FROM authorizations a, generate_series(1, $2 - 1) k,
			LATERAL (SELECT md5('bench-fill-auth-' || k || a.id)::uuid AS id, md5('bench-fill-case-' || k || a.id)::uuid AS case_id,
				md5('bench-fill-citizen-' || k || a.id)::uuid AS citizen_id, md5('bench-fill-coop-' || k)::uuid AS coop) n
		WHERE a.id = ANY($1)
		ON CONFLICT (id) DO NOTHING`, ids, fillCoops); err != nil {
		return have, 0, fmt.Errorf("the filler cooperatives' authorizations: %w", err)
	}
	if _, err := conn.Exec(ctx, `CREATE TEMP TABLE fill_auths AS
		SELECT CASE WHEN a.cooperative_id = $1 THEN 0 ELSE k.k END AS ci,
			row_number() OVER (PARTITION BY a.cooperative_id ORDER BY a.id) - 1 AS ai,
			a.id, a.cooperative_id, a.service_type, a.citizen_id
		FROM authorizations a
		LEFT JOIN generate_series(1, $3 - 1) k(k) ON a.cooperative_id = md5('bench-fill-coop-' || k.k)::uuid
		WHERE a.cooperative_id = $1 AND a.id = ANY($2) OR k.k IS NOT NULL`, st.StmtCoop, ids, fillCoops); err != nil {
		return have, 0, fmt.Errorf("the fill's authorizations: %w", err)
	}
	var n int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM fill_auths WHERE ai < 300`).Scan(&n); err != nil || n != fillCoops*ivload.StmtAuthorizations {
		return have, 0, fmt.Errorf("the fill has %d authorizations, want %d (%v)", n, fillCoops*ivload.StmtAuthorizations, err)
	}
	for from := int64(0); from < target; from += fillChunk {
		to := min(from+fillChunk, target)
		var there bool
		if err := conn.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM visits WHERE id = $1)`, fillID(to-1)).Scan(&there); err != nil {
			return have, 0, err
		}
		if there {
			continue
		}
		t0 := time.Now()
		if err := fillChunkOf(ctx, conn, st, from, to); err != nil {
			return have, time.Since(began), fmt.Errorf("fill visits %d to %d: %w", from, to, err)
		}
		fmt.Fprintf(logw, "    visits %d to %d in %s\n", from, to, time.Since(t0).Round(100*time.Millisecond))
	}
	if _, err := conn.Exec(ctx, `ANALYZE visits`); err != nil {
		return have, time.Since(began), err
	}
	took = time.Since(began)
	if have, err = count(); err != nil {
		return have, took, err
	}
	fmt.Fprintf(logw, "    the fill holds %d visits (%s)\n", have, took.Round(time.Second))
	return have, took, nil
}

// fillChunkOf inserts the fill's visits from <= g < to in one transaction, with the foreign
// key's per-row trigger off when the database's owner may (the fill's authorizations are
// there: it checks nothing the fill could break); the exclusion constraint still holds.
func fillChunkOf(ctx context.Context, conn *pgx.Conn, st ivload.Setup, from, to int64) error {
	tx, err := conn.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, `SAVEPOINT replica`); err != nil {
		return err
	}
	if _, err := tx.Exec(ctx, `SET LOCAL session_replication_role = replica`); err != nil {
		if _, err := tx.Exec(ctx, `ROLLBACK TO SAVEPOINT replica`); err != nil {
			return err
		}
	}
	if _, err := tx.Exec(ctx, fillVisitsSQL, st.Ambito, fillCoops, from, to); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// resetBenchVisits removes the visits an earlier run wrote for the write cooperative.
func resetBenchVisits(ctx context.Context, dbURL string, coop uuid.UUID, logw io.Writer) error {
	n, err := ivload.ResetVisits(ctx, dbURL, coop)
	if n > 0 {
		fmt.Fprintf(logw, "==> removed the %d visits an earlier run wrote for the bench cooperative\n", n)
	}
	return err
}
