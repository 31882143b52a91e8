package registry_test

import (
	"context"
	"encoding/csv"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/services/registry"
)

// The benchmarks use b.Loop: their setup (loading citizens) runs once however many iterations
// are asked for. Figures and the commands that reproduce them are in BENCHMARKS.md.

// BenchmarkImport200k imports a 200,000-row extract through the HTTP API (receive, validate,
// COPY, then the chunked set-based upsert, name words and households) and reports the seconds
// it took.
func BenchmarkImport200k(b *testing.B) {
	s := newSuite(b, options{})
	tok := s.Tokens[auth.RoleAdministrative]
	csv := registerCSV(b, 0, 200_000, "")
	for b.Loop() {
		start := time.Now()
		var staged registry.Import
		s.Must(202, s.Do("POST", "/v1/imports?istat_code="+milano, tok, strings.NewReader(csv), &staged))
		received := time.Since(start)
		im := s.waitImport(tok, staged.ID.String())
		b.ReportMetric(received.Seconds(), "s/received")
		if im.Status != registry.ImportCompleted || im.Created+im.Unchanged+im.Updated != 200_000 {
			b.Fatalf("import = %+v", im)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/import")
	}
}

// benchCitizens is how many citizens the read benchmarks load: 100,000, or $CSI_BENCH_CITIZENS
// (fewer, for a quick comparison on a busy machine).
func benchCitizens(b *testing.B) int64 {
	v := os.Getenv("CSI_BENCH_CITIZENS")
	if v == "" {
		return 100_000
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 1000 {
		b.Fatalf("CSI_BENCH_CITIZENS=%q: want a number of at least 1000", v)
	}
	return n
}

// loaded returns a suite with n residents of Milano imported.
func loaded(b *testing.B, n int64, redisURL string) (*suite, []registry.Hit) {
	s := newSuite(b, options{redisURL: redisURL})
	tok := s.Tokens[auth.RoleAdministrative]
	s.importCSV(tok, milano, strings.NewReader(registerCSV(b, 0, n, "")))
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"birth_date": "1930-01-05", "limit": 100}, &page))
	if len(page.Items) == 0 {
		b.Fatal("no citizens loaded")
	}
	return s, page.Items
}

func p95(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)*95/100]
}

func reportP95(b *testing.B, lat []time.Duration) {
	b.ReportMetric(float64(p95(lat).Microseconds())/1000, "p95-ms")
}

// benchRead reads the loaded citizens one after the other with the request that read makes of
// each, through the cache (in-process) or, with cached false, each time from PostgreSQL (the
// citizen dropped from the cache first, as a change does). Every read is audited.
func benchRead(b *testing.B, cached bool, read func(s *suite, tok string, h registry.Hit)) {
	s, hits := loaded(b, benchCitizens(b), "")
	tok := s.Tokens[auth.RoleSocialWorker]
	var lat []time.Duration
	i := 0
	b.ReportAllocs()
	for b.Loop() {
		h := hits[i%len(hits)]
		i++
		if !cached {
			b.StopTimer()
			s.svc.InvalidateForBench(h.AmbitoID, h.ID, h.FiscalCode)
			b.StartTimer()
		}
		start := time.Now()
		read(s, tok, h)
		lat = append(lat, time.Since(start))
	}
	reportP95(b, lat)
}

func getByID(s *suite, tok string, h registry.Hit) {
	s.Must(200, s.Do("GET", "/v1/citizens/"+h.ID.String(), tok, nil, nil))
}

func getByCode(s *suite, tok string, h registry.Hit) {
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"fiscal_code": h.FiscalCode}, &page))
	if len(page.Items) != 1 || page.Items[0].ID != h.ID {
		s.T.Fatalf("read by code %s = %+v, want %s", h.FiscalCode, page.Items, h.ID)
	}
}

func getHousehold(s *suite, tok string, h registry.Hit) {
	var hh registry.Household
	s.Must(200, s.Do("GET", "/v1/citizens/"+h.ID.String()+"/household", tok, nil, &hh))
	if len(hh.Members) == 0 {
		s.T.Fatalf("household of %s has no members", h.ID)
	}
}

// BenchmarkGetCached reads citizens by id through the cache (in-process; every read is audited).
func BenchmarkGetCached(b *testing.B) { benchRead(b, true, getByID) }

// BenchmarkGetUncached reads citizens by id from PostgreSQL.
func BenchmarkGetUncached(b *testing.B) { benchRead(b, false, getByID) }

// BenchmarkGetByCode reads citizens by codice fiscale (POST /v1/citizens:search {fiscal_code})
// through the cache.
func BenchmarkGetByCode(b *testing.B) { benchRead(b, true, getByCode) }

// BenchmarkGetByCodeUncached reads citizens by codice fiscale from PostgreSQL.
func BenchmarkGetByCodeUncached(b *testing.B) { benchRead(b, false, getByCode) }

// BenchmarkHousehold reads the households of citizens (GET /v1/citizens/{id}/household).
func BenchmarkHousehold(b *testing.B) { benchRead(b, true, getHousehold) }

// dropLetter makes a typo: the family name without its middle letter.
func dropLetter(family string) string {
	r := []rune(family)
	if len(r) < 4 {
		return family
	}
	return string(r[:len(r)/2]) + string(r[len(r)/2+1:])
}

// BenchmarkSearchName searches 100,000 citizens by a name with a typo.
func BenchmarkSearchName(b *testing.B) {
	s, hits := loaded(b, 100_000, "")
	benchSearch(b, s, s.Tokens[auth.RoleSocialWorker], func(i int) string {
		h := hits[i%len(hits)]
		return dropLetter(h.FamilyName) + " " + h.GivenName
	})
}

func benchSearch(b *testing.B, s *suite, tok string, query func(i int) string) {
	var lat []time.Duration
	i, found := 0, 0
	for b.Loop() {
		q := query(i)
		i++
		start := time.Now()
		var page cursor.Page[registry.Hit]
		s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": q, "limit": 10}, &page))
		lat = append(lat, time.Since(start))
		if len(page.Items) > 0 {
			found++
		}
	}
	reportP95(b, lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms") // sorted by reportP95
	b.ReportMetric(float64(found)/float64(i), "found/op")
}

// BenchmarkSearchName1M loads the extracts that csisynth wrote into $CSI_BENCH_EXTRACTS (one
// CSV file per comune, <ambito>-<ISTAT code>.csv, a million people in all with
// `csisynth -citizens 1000000 -comuni 10`) through POST /v1/imports, then searches the whole
// ambito (an Ufficio di Piano operator) by family name with a letter dropped and given name
// of people drawn from the extracts. It reports the load time, and the search p95.
func BenchmarkSearchName1M(b *testing.B) {
	dir := os.Getenv("CSI_BENCH_EXTRACTS")
	if dir == "" {
		b.Fatal("CSI_BENCH_EXTRACTS is not set: write the extracts first (go run ./tools/cmd/csisynth -citizens 1000000 -comuni 10 -out DIR)")
	}
	files, err := filepath.Glob(filepath.Join(dir, "*.csv"))
	if err != nil || len(files) == 0 {
		b.Fatalf("no extracts in %s", dir)
	}
	o := keptDatabase(b, os.Getenv("CSI_BENCH_DB"))
	s := newSuite(b, o)
	done := completedImports(b, s)
	var people [][2]string // family and given names of every 997th row
	start := time.Now()
	total := int64(0)
	for _, path := range files {
		people = append(people, sample(b, path, 997)...)
		_, istat, _ := strings.Cut(strings.TrimSuffix(filepath.Base(path), ".csv"), "-")
		if done[istat] {
			continue
		}
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		// A token for each extract: on a busy machine the whole load outlasts one.
		tok := s.ClientToken(s.Ambito, clientScopes["writer"])
		var im registry.Import
		s.Must(202, s.Do("POST", "/v1/imports?istat_code="+istat, tok, f, &im))
		f.Close()
		for deadline := time.Now().Add(30 * time.Minute); im.Status == registry.ImportProcessing; time.Sleep(time.Second) {
			if time.Now().After(deadline) {
				b.Fatalf("import of %s still processing: %+v", path, im)
			}
			s.Must(200, s.Do("GET", "/v1/imports/"+im.ID.String(), tok, nil, &im))
		}
		if im.Status != registry.ImportCompleted || im.RowsInvalid != 0 {
			b.Fatalf("import of %s = %+v", path, im)
		}
		total += im.Created + im.Updated + im.Unchanged
	}
	b.Logf("%d citizens loaded in %s (%d extracts loaded before)", total, time.Since(start).Round(time.Second), len(done))
	s.Tokens[auth.RolePlanningOffice] = s.Iss.Token(b, s.Claims(auth.RolePlanningOffice))
	benchSearch(b, s, s.Tokens[auth.RolePlanningOffice], func(i int) string {
		p := people[(i*7919)%len(people)]
		return dropLetter(p[0]) + " " + p[1]
	})
}

// keptDatabase returns the suite's options for the benchmark database name on the test server
// ($CSI_BENCH_DB): created when missing and kept after the benchmark, so that the next run
// imports only the extracts not loaded yet (completedImports), in the same ambito. With no
// name, a fresh database dropped at the end.
func keptDatabase(b *testing.B, name string) (o options) {
	if name == "" {
		return options{}
	}
	ctx := context.Background()
	server := pgtest.ServerURL(b)
	u, err := url.Parse(server)
	if err != nil {
		b.Fatal(err)
	}
	u.Path = "/" + name
	o.dbURL = u.String()
	if db, err := pgx.Connect(ctx, o.dbURL); err == nil {
		// The ambito of the citizens imported by the runs before.
		var ambito *uuid.UUID
		err := db.QueryRow(ctx, `SELECT min(ambito_id::text)::uuid FROM imports`).Scan(&ambito)
		db.Close(ctx)
		if err == nil && ambito != nil {
			b.Logf("database %s kept from an earlier run", name)
			o.ambito = *ambito
			return o
		}
	}
	conn, err := pgx.Connect(ctx, server)
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
		b.Fatal(err)
	}
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		b.Fatal(err)
	}
	b.Logf("database %s created; it is kept after the benchmark", name)
	return o
}

// completedImports waits for the imports the service resumed at start (an earlier run stopped
// mid-import) and returns the ISTAT codes of the comuni whose import completed.
func completedImports(b *testing.B, s *suite) map[string]bool {
	ctx := context.Background()
	for deadline := time.Now().Add(30 * time.Minute); ; time.Sleep(time.Second) {
		var processing int
		if err := s.App.Pool.QueryRow(ctx, `SELECT count(*) FROM imports WHERE status = 'processing'`).Scan(&processing); err != nil {
			b.Fatal(err)
		}
		if processing == 0 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("%d imports still processing", processing)
		}
	}
	rows, err := s.App.Pool.Query(ctx, `SELECT DISTINCT istat_code FROM imports WHERE status = 'completed'`)
	if err != nil {
		b.Fatal(err)
	}
	codes, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		b.Fatal(err)
	}
	done := map[string]bool{}
	for _, c := range codes {
		done[c] = true
	}
	return done
}

// sample returns the family and given names of every nth row of an extract.
func sample(b *testing.B, path string, n int) [][2]string {
	f, err := os.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	r := csv.NewReader(f)
	if _, err := r.Read(); err != nil {
		b.Fatal(err)
	}
	var out [][2]string
	for i := 0; ; i++ {
		rec, err := r.Read()
		if err == io.EOF {
			return out
		}
		if err != nil {
			b.Fatal(err)
		}
		if i%n == 0 {
			out = append(out, [2]string{rec[1], rec[2]})
		}
	}
}
