package interventions_test

import (
	"context"
	"net/http"
	"net/url"
	"os"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/services/interventions/postgres"
)

// The statement benchmark's data: one ambito, benchCoops cooperatives of benchAuthsPerCoop
// authorizations each (SAD, 4.5 hours a week through 2025, 21.50 € an hour), and the visits of
// 2025 spread evenly over the authorizations and the days of the year (one in 17 absent, one in 23 with 15
// excess minutes, one in 101 voided), each with its own operator.
const (
	benchCoops        = 40
	benchAuthsPerCoop = 300
)

var benchAmbito = uuid.MustParse("0195a1b2-0000-7000-8000-00000000be01")

// benchVisits is how many visits the statement benchmark loads: 10 million, or
// $CSI_BENCH_VISITS (fewer, for a quick run).
func benchVisits(b *testing.B) int64 {
	v := os.Getenv("CSI_BENCH_VISITS")
	if v == "" {
		return 10_000_000
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 100_000 {
		b.Fatalf("CSI_BENCH_VISITS=%q: want a number of at least 100000", v)
	}
	return n
}

// benchDatabase is the database of the benchmark on the test server: $CSI_BENCH_DB, created
// when missing and kept after the benchmark, so that the next run loads only the visits not
// loaded yet; with no name, a fresh database dropped at the end.
func benchDatabase(b *testing.B) string {
	name := os.Getenv("CSI_BENCH_DB")
	if name == "" {
		return pgtest.NewURL(b)
	}
	ctx := context.Background()
	server := pgtest.ServerURL(b)
	u, err := url.Parse(server)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	if db, err := pgx.Connect(ctx, u.String()); err == nil {
		db.Close(ctx)
		b.Logf("database %s kept from an earlier run", name)
		return u.String()
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	b.Logf("database %s created; it is kept after the benchmark", name)
	return u.String()
}

func newBenchSuite(b *testing.B, dbURL string) *suite {
	s := &suite{identity: &identityDouble{}, cache: cache.NewMemory("interventions", 1000)}
	s.Suite = servicetest.New(b, servicetest.Config{Service: "interventions", Sets: sets, Clients: clientScopes, DatabaseURL: dbURL, Ambito: benchAmbito,
		Mount: func(ctx context.Context, a *app.App, iss *authtest.Issuer) (http.Handler, error) {
			_, h, err := interventions.Mount(ctx, a, interventions.Parts{Store: postgres.New(a.Pool), Identity: s.identity, Cache: s.cache,
				Places: places.Default(), Config: interventions.DefaultConfig(), Verifier: iss.Verifier()})
			return h, err
		}})
	return s
}

// benchCoop is the id of the benchmark's cooperative c (0 is the one whose statement is read).
func benchCoop(b *testing.B, s *suite, c int) uuid.UUID {
	var id uuid.UUID
	if err := s.App.Pool.QueryRow(context.Background(), `SELECT md5('coop' || $1::int)::uuid`, c).Scan(&id); err != nil {
		b.Fatal(err)
	}
	return id
}

// loadBench fills the database up to n visits (by chunks, each committed: a run stopped
// midway resumes where it was).
func loadBench(b *testing.B, s *suite, n int64) {
	ctx := context.Background()
	db, err := s.App.Pool.Acquire(ctx)
	if err != nil {
		b.Fatal(err)
	}
	defer db.Release()
	if _, err := db.Exec(ctx, `SET statement_timeout = 0`); err != nil {
		b.Fatal(err)
	}
	defer func() { _, _ = db.Exec(ctx, `RESET statement_timeout`) }()
	auths := int64(benchCoops * benchAuthsPerCoop)
	if _, err := db.Exec(ctx, `INSERT INTO authorizations (id, ambito_id, istat_code, case_id, citizen_id, cooperative_id, service_type,
			status, data, version, created_at, updated_at)
		SELECT md5('auth' || k)::uuid, $1, '015146', md5('case' || k)::uuid, md5('citizen' || k)::uuid, md5('coop' || (k % $3))::uuid, 'SAD',
			'active', jsonb_build_object('id', md5('auth' || k)::uuid, 'ambito_id', $1::uuid, 'istat_code', '015146',
				'case_id', md5('case' || k)::uuid, 'citizen_id', md5('citizen' || k)::uuid, 'service_type', 'SAD',
				'cooperative_id', md5('coop' || (k % $3))::uuid, 'period', '{"from": "2025-01-01", "to": "2025-12-31"}'::jsonb,
				'hours', '{"per_week": 4.5}'::jsonb, 'hourly_tariff_cents', 2150, 'status', 'active', 'schedule', '[]'::jsonb,
				'status_history', '[]'::jsonb), 2, now(), now()
		FROM generate_series(0, $2 - 1) AS k
		ON CONFLICT DO NOTHING`, benchAmbito, auths, benchCoops); err != nil {
		b.Fatal(err)
	}
	var have int64
	if err := db.QueryRow(ctx, `SELECT count(*) FROM visits WHERE ambito_id = $1`, benchAmbito).Scan(&have); err != nil {
		b.Fatal(err)
	}
	if have >= n {
		b.Logf("%d visits kept from an earlier run", have)
		return
	}
	start := time.Now()
	const chunk = 500_000
	for from := have; from < n; from += chunk {
		to := min(from+chunk, n)
		// Visit g: authorization g % auths, 09:00 for an hour on day (g / auths) × 37 % 365 of 2025
		// (37 is prime to 365: the rounds over the authorizations spread over the year).
		if _, err := db.Exec(ctx, `INSERT INTO visits (id, ambito_id, authorization_id, cooperative_id, service_type, citizen_id, operator_id,
				day, starts_at, ends_at, minutes, absent, place, activities, notes, excess_minutes, status, void_reason, voided_at,
				recorded_by, recorded_at)
			SELECT md5('visit' || g)::uuid, $1, md5('auth' || (g % $4))::uuid, md5('coop' || ((g % $4) % $5))::uuid, 'SAD',
				md5('citizen' || (g % $4))::uuid, md5('operator' || g)::uuid, d, d + time '09:00', d + time '10:00', 60, g % 17 = 0,
				'home', '{personal_care}', '', CASE WHEN g % 23 = 0 THEN 15 ELSE 0 END,
				CASE WHEN g % 101 = 0 THEN 'voided' ELSE 'valid' END, CASE WHEN g % 101 = 0 THEN 'errore' END,
				CASE WHEN g % 101 = 0 THEN now() END, '{"id": "bench", "role": "educator"}', now()
			FROM generate_series($2::bigint, $3::bigint - 1) AS g, LATERAL (SELECT date '2025-01-01' + ((g / $4) * 37 % 365)::int AS d) AS day`,
			benchAmbito, from, to, auths, benchCoops); err != nil {
			b.Fatal(err)
		}
		b.Logf("%d visits (%s)", to, time.Since(start).Round(time.Second))
	}
	if _, err := db.Exec(ctx, `VACUUM (ANALYZE) visits`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.Exec(ctx, `ANALYZE authorizations`); err != nil {
		b.Fatal(err)
	}
	b.Logf("%d visits loaded in %s", n-have, time.Since(start).Round(time.Second))
}

// BenchmarkStatement10M reads, through the HTTP API as its coordinator, the May 2025 statement
// of a cooperative with 300 authorizations while the visits table holds 10 million visits
// ($CSI_BENCH_VISITS; $CSI_BENCH_DB keeps the database between runs). It logs the plan of the
// visits query (it must use the visits_statement index) and reports the p50 and p95 latency
// (target ≤ 100 ms).
func BenchmarkStatement10M(b *testing.B) {
	s := newBenchSuite(b, benchDatabase(b))
	n := benchVisits(b)
	loadBench(b, s, n)
	coop := benchCoop(b, s, 0)
	rows, err := s.App.Pool.Query(context.Background(), `EXPLAIN (ANALYZE, BUFFERS) SELECT authorization_id,
			coalesce(sum(minutes) FILTER (WHERE NOT absent), 0), count(*) FILTER (WHERE absent),
			coalesce(sum(excess_minutes) FILTER (WHERE NOT absent), 0)
		FROM visits WHERE ambito_id = $1 AND cooperative_id = $2 AND day BETWEEN '2025-05-01'::date AND '2025-05-31'::date AND status = 'valid'
		GROUP BY authorization_id`, benchAmbito, coop)
	if err != nil {
		b.Fatal(err)
	}
	plan, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	b.Logf("plan of the visits query:\n%s", strings.Join(plan, "\n"))
	if !strings.Contains(strings.Join(plan, "\n"), "visits_statement") {
		b.Error("the visits query does not use the visits_statement index")
	}
	// The parts of a read, timed apart: the visits query, the authorizations query.
	store := postgres.New(s.App.Pool)
	for range 3 {
		t0 := time.Now()
		vt, err := store.VisitTotals(context.Background(), benchAmbito, coop, "2025-05-01", "2025-05-31")
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		as, err := store.StatementAuthorizations(context.Background(), benchAmbito, coop, "2025-05-01", "2025-05-31", nil)
		if err != nil {
			b.Fatal(err)
		}
		b.Logf("visit totals: %d in %s; authorizations: %d in %s", len(vt), t1.Sub(t0), len(as), time.Since(t1))
	}
	var lat []time.Duration
	var st interventions.Statement
	for b.Loop() {
		tok := s.Operator(auth.RoleCoopCoordinator, coop, "cooperativa", "")
		start := time.Now()
		s.Must(200, s.Do("GET", stPath(coop, "2025-05"), tok, nil, &st))
		lat = append(lat, time.Since(start))
	}
	if len(st.Lines) != benchAuthsPerCoop || st.TotalAmount == 0 {
		b.Fatalf("%d lines, total %d", len(st.Lines), st.TotalAmount)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*95/100].Microseconds())/1000, "p95-ms")
	b.ReportMetric(float64(n), "visits")
}
