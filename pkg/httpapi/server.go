package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"sync/atomic"
	"time"
)

// Check is one readiness check (database reachable, migrations applied, ...).
type Check struct {
	Name  string
	Check func(ctx context.Context) error
}

// Health serves /healthz (alive: the process answers) and /readyz (every check passes and the
// server is not draining).
type Health struct {
	Service, Version, Commit string
	Checks                   []Check
	draining                 atomic.Bool
}

// SetDraining makes /readyz answer 503 from now on (SIGTERM received).
func (h *Health) SetDraining() { h.draining.Store(true) }

// Register adds GET /healthz and GET /readyz to mux.
func (h *Health) Register(mux *Mux) {
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok", "service": h.Service, "version": h.Version, "commit": h.Commit})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		body := map[string]any{"service": h.Service}
		if h.draining.Load() {
			body["status"] = "draining"
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		failed := map[string]string{}
		for _, c := range h.Checks {
			ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
			if err := c.Check(ctx); err != nil {
				failed[c.Name] = err.Error()
			}
			cancel()
		}
		if len(failed) > 0 {
			body["status"] = "unready"
			body["failed"] = failed
			writeJSON(w, http.StatusServiceUnavailable, body)
			return
		}
		body["status"] = "ready"
		writeJSON(w, http.StatusOK, body)
	})
}

func writeJSON(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v)
}

// NewHTTPServer returns a server with read, write and idle timeouts set.
func NewHTTPServer(addr string, h http.Handler) *http.Server {
	return &http.Server{
		Addr:              addr,
		Handler:           h,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    64 << 10,
	}
}

// Serve runs srv on ln until ctx is cancelled (SIGTERM), then drains: readiness turns false,
// it waits drainDelay so load balancers stop sending, and shuts down within grace, letting
// in-flight requests finish.
func Serve(ctx context.Context, log *slog.Logger, srv *http.Server, ln net.Listener, health *Health, drainDelay, grace time.Duration) error {
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: no longer ready, draining", "delay", drainDelay, "grace", grace)
	if health != nil {
		health.SetDraining()
	}
	if drainDelay > 0 {
		time.Sleep(drainDelay)
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("server stopped")
	return nil
}
