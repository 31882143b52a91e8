package httpapi_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// TestInFlight holds max requests inside the handler and checks that one more is refused at once
// with a 503 problem and Retry-After, that health and metrics still answer, and that a slot
// freed is taken again.
func TestInFlight(t *testing.T) {
	const max = 3
	release := make(chan struct{})
	entered := make(chan struct{}, max)
	h := httpapi.InFlight(max)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/slow" {
			entered <- struct{}{}
			<-release
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	var wg sync.WaitGroup
	codes := make(chan int, max)
	for range max {
		wg.Add(1)
		go func() {
			defer wg.Done()
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, httptest.NewRequest("GET", "/slow", nil))
			codes <- rec.Code
		}()
	}
	for range max {
		<-entered
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/citizens", nil))
	var p struct {
		Status int    `json:"status"`
		Detail string `json:"detail"`
	}
	if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil || rec.Code != http.StatusServiceUnavailable ||
		rec.Header().Get("Retry-After") != "1" || rec.Header().Get("Content-Type") != httpapi.ProblemContentType || p.Status != 503 {
		t.Fatalf("request beyond the bound = %d %q %s (%v); want a 503 problem with Retry-After 1", rec.Code, rec.Header(), rec.Body, err)
	}
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", path, nil))
		if rec.Code != http.StatusNoContent {
			t.Errorf("%s at capacity = %d; want it served", path, rec.Code)
		}
	}
	close(release)
	wg.Wait()
	close(codes)
	for c := range codes {
		if c != http.StatusNoContent {
			t.Errorf("a request within the bound answered %d", c)
		}
	}
	rec = httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/v1/citizens", nil))
	if rec.Code != http.StatusNoContent {
		t.Errorf("after the slots were freed: %d; want served", rec.Code)
	}
}

// TestInFlightUnbounded: with 0, any number of requests are served at once.
func TestInFlightUnbounded(t *testing.T) {
	const n = 50
	release := make(chan struct{})
	entered := make(chan struct{}, n)
	h := httpapi.InFlight(0)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		entered <- struct{}{}
		<-release
	}))
	var wg sync.WaitGroup
	for range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest("GET", "/v1/citizens", nil))
		}()
	}
	for range n { // blocks (and the test times out) if any request were held back
		<-entered
	}
	close(release)
	wg.Wait()
}
