package metrics_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/metrics"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// sample is one gathered series: its labels and value.
type sample struct {
	Labels map[string]string
	Value  float64
}

// gather returns the samples of one metric family (counter, gauge, or histogram count).
func gather(t *testing.T, reg *prometheus.Registry, name string) []sample {
	t.Helper()
	mfs, err := reg.Gather()
	if err != nil {
		t.Fatalf("Gather() = %v", err)
	}
	var out []sample
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			s := sample{Labels: map[string]string{}}
			for _, l := range m.GetLabel() {
				s.Labels[l.GetName()] = l.GetValue()
			}
			switch {
			case m.GetCounter() != nil:
				s.Value = m.GetCounter().GetValue()
			case m.GetGauge() != nil:
				s.Value = m.GetGauge().GetValue()
			case m.GetHistogram() != nil:
				s.Value = float64(m.GetHistogram().GetSampleCount())
			}
			out = append(out, s)
		}
	}
	sort.Slice(out, func(i, j int) bool { return key(out[i].Labels) < key(out[j].Labels) })
	return out
}

func key(l map[string]string) string {
	ks := make([]string, 0, len(l))
	for k, v := range l {
		ks = append(ks, k+"="+v)
	}
	sort.Strings(ks)
	return strings.Join(ks, ",")
}

func TestHTTP(t *testing.T) {
	reg := metrics.NewRegistry("things", "1.0.0", "abc")
	mux := httpapi.NewMux()
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") == "missing" {
			http.NotFound(w, r)
			return
		}
		_, _ = io.WriteString(w, "{}")
	})
	mux.HandleFunc("POST /v1/things", func(w http.ResponseWriter, r *http.Request) { w.WriteHeader(http.StatusCreated) })
	h := httpapi.Chain(mux, httpapi.RequestIDs(), metrics.HTTP(reg, "things"))

	requests := []struct{ method, path string }{
		{"GET", "/v1/things/1"},
		{"GET", "/v1/things/2"},
		{"GET", "/v1/things/RSSMRA80A01F205X"},
		{"GET", "/v1/things/missing"},
		{"POST", "/v1/things"},
		{"GET", "/v1/no/such/path/42"},
		{"DELETE", "/v1/things/3"},
		{"BREW", "/v1/things/4"},       // a method nobody serves
		{"XYZZY-1234", "/v1/things/5"}, // clients choose methods: they must not mint series
	}
	for _, rq := range requests {
		h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(rq.method, rq.path, nil))
	}

	got := gather(t, reg, "csi_things_http_requests_total")
	want := []sample{
		{Labels: map[string]string{"method": "DELETE", "route": "unmatched", "status": "405"}, Value: 1},
		{Labels: map[string]string{"method": "GET", "route": "GET /v1/things/{id}", "status": "200"}, Value: 3},
		{Labels: map[string]string{"method": "GET", "route": "GET /v1/things/{id}", "status": "404"}, Value: 1},
		{Labels: map[string]string{"method": "GET", "route": "unmatched", "status": "404"}, Value: 1},
		{Labels: map[string]string{"method": "OTHER", "route": "unmatched", "status": "405"}, Value: 2},
		{Labels: map[string]string{"method": "POST", "route": "POST /v1/things", "status": "201"}, Value: 1},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("csi_things_http_requests_total (-want +got):\n%s", diff)
	}
	for _, s := range got {
		for _, v := range s.Labels {
			if strings.Contains(v, "RSSMRA") || strings.Contains(v, "/v1/things/1") || strings.Contains(v, "/no/such") {
				t.Errorf("label value %q holds a raw path", v)
			}
		}
	}

	lat := gather(t, reg, "csi_things_http_request_duration_seconds")
	wantLat := []sample{
		{Labels: map[string]string{"method": "DELETE", "route": "unmatched"}, Value: 1},
		{Labels: map[string]string{"method": "GET", "route": "GET /v1/things/{id}"}, Value: 4},
		{Labels: map[string]string{"method": "GET", "route": "unmatched"}, Value: 1},
		{Labels: map[string]string{"method": "OTHER", "route": "unmatched"}, Value: 2},
		{Labels: map[string]string{"method": "POST", "route": "POST /v1/things"}, Value: 1},
	}
	if diff := cmp.Diff(wantLat, lat); diff != "" {
		t.Errorf("csi_things_http_request_duration_seconds observations (-want +got):\n%s", diff)
	}
	inflight := gather(t, reg, "csi_things_http_requests_in_flight")
	if diff := cmp.Diff([]sample{{Labels: map[string]string{}, Value: 0}}, inflight); diff != "" {
		t.Errorf("in flight after all requests (-want +got):\n%s", diff)
	}
}

func TestHTTPInFlight(t *testing.T) {
	reg := prometheus.NewRegistry()
	var during float64
	h := httpapi.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		during = gather(t, reg, "csi_things_http_requests_in_flight")[0].Value
	}), httpapi.RequestIDs(), metrics.HTTP(reg, "things"))
	h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodGet, "/", nil))
	if during != 1 {
		t.Errorf("in flight during a request = %v, want 1", during)
	}
}

func TestNewRegistry(t *testing.T) {
	reg := metrics.NewRegistry("things", "1.0.0", "abc")
	got := gather(t, reg, "csi_build_info")
	want := []sample{{Labels: map[string]string{"service": "things", "version": "1.0.0", "commit": "abc"}, Value: 1}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("csi_build_info (-want +got):\n%s", diff)
	}
	if len(gather(t, reg, "go_goroutines")) != 1 {
		t.Error("no Go runtime metrics")
	}
	// Two registries in one process (a test building a service twice) do not collide.
	metrics.HTTP(reg, "things")
	metrics.HTTP(metrics.NewRegistry("things", "1.0.0", "abc"), "things")
}

func TestHandler(t *testing.T) {
	reg := metrics.NewRegistry("things", "1.0.0", "abc")
	rec := httptest.NewRecorder()
	metrics.Handler(reg).ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	if rec.Code != 200 {
		t.Fatalf("GET /metrics = %d", rec.Code)
	}
	if !strings.Contains(rec.Body.String(), `csi_build_info{commit="abc",service="things",version="1.0.0"} 1`) {
		t.Errorf("GET /metrics lacks the build info:\n%s", rec.Body.String())
	}
}

func TestRegisterPool(t *testing.T) {
	pool := pgtest.New(t)
	reg := prometheus.NewRegistry()
	metrics.RegisterPool(reg, "things", pool)

	ctx := context.Background()
	conn, err := pool.Acquire(ctx)
	if err != nil {
		t.Fatal(err)
	}
	value := func(name string) float64 {
		t.Helper()
		s := gather(t, reg, "csi_things_db_pool_"+name)
		if len(s) != 1 {
			t.Fatalf("csi_things_db_pool_%s: %d samples, want 1", name, len(s))
		}
		return s[0].Value
	}
	got := map[string]float64{
		"max_connections":      value("max_connections"),
		"acquired_connections": value("acquired_connections"),
		"total_connections":    value("total_connections"),
	}
	want := map[string]float64{"max_connections": 20, "acquired_connections": 1, "total_connections": 1}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("pool gauges with one connection held (-want +got):\n%s", diff)
	}
	conn.Release()
	if got := value("acquired_connections"); got != 0 {
		t.Errorf("acquired_connections after release = %v, want 0", got)
	}
	if got := value("idle_connections"); got != 1 {
		t.Errorf("idle_connections after release = %v, want 1", got)
	}
	if got := value("acquires_total"); got < 1 {
		t.Errorf("acquires_total = %v, want at least 1", got)
	}
	for _, name := range []string{"empty_acquires_total", "acquire_wait_seconds_total", "canceled_acquires_total"} {
		value(name)
	}
}
