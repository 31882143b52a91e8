package registry_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/registry"
)

// BenchmarkImport200k imports a 200,000-row extract through the HTTP API (receive, validate,
// COPY, then the chunked set-based upsert and households) and reports the seconds it took.
func BenchmarkImport200k(b *testing.B) {
	s := newSuite(b, options{})
	s.mapComune()
	tok := s.tokens[auth.RoleAdministrative]
	csv := registerCSV(b, 0, 200_000, "")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		start := time.Now()
		var staged registry.Import
		s.must(202, s.do("POST", "/v1/imports?istat_code="+milano, tok, strings.NewReader(csv), &staged))
		received := time.Since(start)
		im := s.waitImport(tok, staged.ID.String())
		b.ReportMetric(received.Seconds(), "s/received")
		if im.Status != registry.ImportCompleted || im.Created+im.Unchanged+im.Updated != 200_000 {
			b.Fatalf("import = %+v", im)
		}
		b.ReportMetric(time.Since(start).Seconds(), "s/import")
	}
}

// loaded returns a suite with n residents of Milano imported.
func loaded(b *testing.B, n int64, redisURL string) (*suite, []registry.Hit) {
	s := newSuite(b, options{redisURL: redisURL})
	s.mapComune()
	tok := s.tokens[auth.RoleAdministrative]
	s.importCSV(tok, milano, strings.NewReader(registerCSV(b, 0, n, "")))
	var page registry.Page[registry.Hit]
	s.must(200, s.do("POST", "/v1/citizens:search", tok, map[string]any{"birth_date": "1930-01-05", "limit": 100}, &page))
	if len(page.Items) == 0 {
		b.Fatal("no citizens loaded")
	}
	return s, page.Items
}

func p95(d []time.Duration) time.Duration {
	slices.Sort(d)
	return d[len(d)*95/100]
}

func benchGet(b *testing.B, cached bool) {
	s, hits := loaded(b, 100_000, "")
	tok := s.tokens[auth.RoleSocialWorker]
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := hits[i%len(hits)]
		if !cached {
			// A change invalidates the cached record: the next read goes to PostgreSQL.
			b.StopTimer()
			s.svc.InvalidateForBench(h.AmbitoID, h.ID)
			b.StartTimer()
		}
		start := time.Now()
		s.must(200, s.do("GET", "/v1/citizens/"+h.ID.String(), tok, nil, nil))
		lat = append(lat, time.Since(start))
	}
	b.ReportMetric(float64(p95(lat).Microseconds())/1000, "p95-ms")
}

// BenchmarkGetCached reads citizens by id through the cache (in-process; every read is audited).
func BenchmarkGetCached(b *testing.B) { benchGet(b, true) }

// BenchmarkGetUncached reads citizens by id from PostgreSQL.
func BenchmarkGetUncached(b *testing.B) { benchGet(b, false) }

// BenchmarkSearchName searches 100,000 citizens by a name with a typo.
func BenchmarkSearchName(b *testing.B) {
	s, hits := loaded(b, 100_000, "")
	tok := s.tokens[auth.RoleSocialWorker]
	lat := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h := hits[i%len(hits)]
		q := h.FamilyName[:len(h.FamilyName)-1] + " " + h.GivenName // drop a letter
		start := time.Now()
		var page registry.Page[registry.Hit]
		s.must(200, s.do("POST", "/v1/citizens:search", tok, map[string]any{"name": q, "limit": 10}, &page))
		lat = append(lat, time.Since(start))
		if len(page.Items) == 0 {
			b.Fatalf("no match for %q", q)
		}
	}
	b.ReportMetric(float64(p95(lat).Microseconds())/1000, "p95-ms")
}
