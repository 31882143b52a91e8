package httpapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

func getJSON(t *testing.T, h http.Handler, path string) (int, map[string]any) {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
	var body map[string]any
	if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
		t.Fatalf("GET %s: body %q is not JSON: %v", path, rec.Body.String(), err)
	}
	return rec.Code, body
}

func TestHealth(t *testing.T) {
	ok := httpapi.Check{Name: "database", Check: func(context.Context) error { return nil }}
	down := httpapi.Check{Name: "redis", Check: func(context.Context) error { return errors.New("connection refused") }}
	deadline := httpapi.Check{Name: "slow", Check: func(ctx context.Context) error {
		if _, ok := ctx.Deadline(); !ok {
			return errors.New("check called without a deadline")
		}
		return nil
	}}
	tests := []struct {
		name       string
		checks     []httpapi.Check
		draining   bool
		wantStatus int
		wantBody   map[string]any
	}{
		{
			name:       "no checks",
			wantStatus: 200,
			wantBody:   map[string]any{"service": "things", "status": "ready"},
		},
		{
			name:       "passing checks",
			checks:     []httpapi.Check{ok, deadline},
			wantStatus: 200,
			wantBody:   map[string]any{"service": "things", "status": "ready"},
		},
		{
			name:       "a failing check",
			checks:     []httpapi.Check{ok, down},
			wantStatus: 503,
			wantBody: map[string]any{"service": "things", "status": "unready",
				"failed": map[string]any{"redis": "connection refused"}},
		},
		{
			name:       "draining",
			checks:     []httpapi.Check{ok},
			draining:   true,
			wantStatus: 503,
			wantBody:   map[string]any{"service": "things", "status": "draining"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			h := &httpapi.Health{Service: "things", Version: "1.2.3", Commit: "abc", Checks: tc.checks}
			mux := httpapi.NewMux()
			h.Register(mux)
			if tc.draining {
				h.SetDraining()
			}
			code, body := getJSON(t, mux, "/readyz")
			if code != tc.wantStatus {
				t.Errorf("/readyz status = %d, want %d", code, tc.wantStatus)
			}
			if diff := cmp.Diff(tc.wantBody, body); diff != "" {
				t.Errorf("/readyz body (-want +got):\n%s", diff)
			}
			// Liveness does not depend on checks or draining.
			code, body = getJSON(t, mux, "/healthz")
			if code != 200 {
				t.Errorf("/healthz status = %d, want 200", code)
			}
			want := map[string]any{"status": "ok", "service": "things", "version": "1.2.3", "commit": "abc"}
			if diff := cmp.Diff(want, body); diff != "" {
				t.Errorf("/healthz body (-want +got):\n%s", diff)
			}
		})
	}
}

func TestNewHTTPServerTimeouts(t *testing.T) {
	srv := httpapi.NewHTTPServer(":0", http.NotFoundHandler())
	for name, d := range map[string]time.Duration{"ReadHeaderTimeout": srv.ReadHeaderTimeout,
		"ReadTimeout": srv.ReadTimeout, "WriteTimeout": srv.WriteTimeout, "IdleTimeout": srv.IdleTimeout} {
		if d <= 0 {
			t.Errorf("%s = %v, want a timeout", name, d)
		}
	}
}

// TestServeDrains starts a real server, begins a slow request, cancels the context (SIGTERM)
// and checks that readiness turns false at once while the slow request still completes.
func TestServeDrains(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	started := make(chan struct{})
	release := make(chan struct{})
	health := &httpapi.Health{Service: "things"}
	mux := httpapi.NewMux()
	health.Register(mux)
	mux.HandleFunc("GET /v1/slow", func(w http.ResponseWriter, r *http.Request) {
		close(started)
		<-release
		_, _ = io.WriteString(w, "done")
	})
	srv := httpapi.NewHTTPServer(ln.Addr().String(), mux)
	shutdownStarted := make(chan struct{})
	srv.RegisterOnShutdown(func() { close(shutdownStarted) })

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	served := make(chan error, 1)
	log := slog.New(slog.DiscardHandler)
	// The drain delay is the window in which /readyz answers 503 before the listener closes;
	// it is generous so that the polling below never races it.
	go func() { served <- httpapi.Serve(ctx, log, srv, ln, health, time.Second, 30*time.Second) }()

	base := "http://" + ln.Addr().String()
	// Fresh connections for every probe: the slow request holds one.
	client := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 30 * time.Second}
	if code := status(t, client, base+"/readyz"); code != 200 {
		t.Fatalf("/readyz before shutdown = %d, want 200", code)
	}

	type result struct {
		code int
		body string
		err  error
	}
	slow := make(chan result, 1)
	go func() {
		resp, err := client.Get(base + "/v1/slow")
		if err != nil {
			slow <- result{err: err}
			return
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		slow <- result{code: resp.StatusCode, body: string(b), err: err}
	}()
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatal("the slow request never reached its handler")
	}

	cancel() // SIGTERM
	deadline := time.Now().Add(10 * time.Second)
	for {
		code := status(t, client, base+"/readyz")
		if code == http.StatusServiceUnavailable {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("/readyz after cancel = %d, want 503 while draining", code)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// Let the slow request finish only once Shutdown is waiting for it.
	select {
	case <-shutdownStarted:
	case <-time.After(10 * time.Second):
		t.Fatal("Shutdown never started")
	}
	select {
	case err := <-served:
		t.Fatalf("Serve returned %v while a request was in flight", err)
	default:
	}
	close(release)

	got := <-slow
	if got.err != nil || got.code != 200 || got.body != "done" {
		t.Errorf("slow request = %d %q %v, want 200 \"done\" <nil>", got.code, got.body, got.err)
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("Serve() = %v, want nil after a clean drain", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after the last request finished")
	}
	if _, err := client.Get(base + "/readyz"); err == nil {
		t.Error("the server still answers after Serve returned")
	}
}

func TestServeReturnsListenerError(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ln.Close()
	srv := httpapi.NewHTTPServer(ln.Addr().String(), http.NotFoundHandler())
	done := make(chan error, 1)
	go func() {
		done <- httpapi.Serve(context.Background(), slog.New(slog.DiscardHandler), srv, ln, nil, 0, time.Second)
	}()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve() on a closed listener = nil, want an error")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve on a closed listener did not return")
	}
}

func status(t *testing.T, c *http.Client, url string) int {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}
