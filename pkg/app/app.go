// Package app is the process skeleton every service shares, so that six services are wired the
// same way: configuration from CSI_... variables, the logger, the metrics registry, the
// PostgreSQL pool and migrations, the HTTP server with its middleware chain (request id,
// recovery, metrics, access log, authentication), health endpoints, Consul registration,
// pprof on a separate debug port, and the shutdown sequence on SIGTERM.
package app

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/logging"
	"github.com/csi-lombardia/csi/pkg/metrics"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// Version and Commit are stamped at build time with -ldflags -X.
var (
	Version = "dev"
	Commit  = "unknown"
)

// Base is the configuration every service reads.
type Base struct {
	Service       string
	HTTPAddr      string        // CSI_HTTP_ADDR
	DebugAddr     string        // CSI_DEBUG_ADDR: pprof; empty disables
	DatabaseURL   string        // CSI_DATABASE_URL
	RedisURL      string        // CSI_REDIS_URL: empty means an in-process cache
	ConsulAddr    string        // CSI_CONSUL_ADDR: empty means static peers
	AdvertiseAddr string        // CSI_ADVERTISE_ADDR: host the Consul health check reaches
	JWKSURL       string        // CSI_JWKS_URL: identity's key set (not used by identity itself)
	Issuer        string        // CSI_TOKEN_ISSUER
	ClockLeeway   time.Duration // CSI_AUTH_CLOCK_LEEWAY: clock skew tolerated on a token's exp, nbf and iat
	LogFormat     string        // CSI_LOG_FORMAT: json or text
	LogLevel      string        // CSI_LOG_LEVEL
	Migrate       bool          // CSI_MIGRATE: apply migrations at start (development; a Helm hook Job in clusters)
	MigrateOnly   bool          // CSI_MIGRATE_ONLY: apply migrations, then exit 0 (the Helm hook Job)
	DrainDelay    time.Duration // CSI_DRAIN_DELAY: unready before the server stops accepting
	Grace         time.Duration // CSI_SHUTDOWN_GRACE: time in-flight requests get to finish
	MemoryLimit   int           // CSI_MEMORY_LIMIT_MIB: the container's memory limit; GOMEMLIMIT at 90% of it unless set
	MaxInFlight   int           // CSI_MAX_IN_FLIGHT: requests served at once; one more is answered 503 (0: no bound)
	Audit         AuditConfig   // CSI_AUDIT_...: see OpenAudit
}

// LoadBase reads the common configuration of service, listening on defaultAddr by default.
func LoadBase(env *Env, service, defaultAddr string) Base {
	return Base{
		Service:       service,
		HTTPAddr:      env.String("CSI_HTTP_ADDR", defaultAddr),
		DebugAddr:     env.String("CSI_DEBUG_ADDR", ""),
		DatabaseURL:   env.Required("CSI_DATABASE_URL", false),
		RedisURL:      env.String("CSI_REDIS_URL", ""),
		ConsulAddr:    env.String("CSI_CONSUL_ADDR", ""),
		AdvertiseAddr: env.String("CSI_ADVERTISE_ADDR", "127.0.0.1"),
		JWKSURL:       env.String("CSI_JWKS_URL", "http://127.0.0.1:8081/.well-known/jwks.json"),
		Issuer:        env.String("CSI_TOKEN_ISSUER", "csi-identity"),
		ClockLeeway:   env.DurationMax("CSI_AUTH_CLOCK_LEEWAY", auth.DefaultLeeway, auth.MaxLeeway),
		LogFormat:     env.String("CSI_LOG_FORMAT", "json"),
		LogLevel:      env.String("CSI_LOG_LEVEL", "info"),
		Migrate:       env.Bool("CSI_MIGRATE", true),
		MigrateOnly:   env.Bool("CSI_MIGRATE_ONLY", false),
		DrainDelay:    env.Duration("CSI_DRAIN_DELAY", 2*time.Second),
		Grace:         env.Duration("CSI_SHUTDOWN_GRACE", 20*time.Second),
		MemoryLimit:   env.Int("CSI_MEMORY_LIMIT_MIB", 0),
		MaxInFlight:   env.Int("CSI_MAX_IN_FLIGHT", 256),
		Audit:         loadAudit(env, service),
	}
}

// Verifier returns the verifier of the suite's access tokens, from b.Issuer, with keys from
// keys and b.ClockLeeway of clock skew.
func (b Base) Verifier(keys auth.KeySet) *auth.Verifier {
	v := auth.NewVerifier(keys, b.Issuer)
	v.Leeway = b.ClockLeeway
	return v
}

// App is a started process: logger, metrics registry and database pool, and what it owns and
// stops after serving: background jobs (Go) and the audit log (OpenAudit).
type App struct {
	Base     Base
	Log      *slog.Logger
	Registry *prometheus.Registry
	Pool     *pgxpool.Pool
	Health   *httpapi.Health
	sets     []pgdb.MigrationSet

	bg       context.Context // the background jobs' context, cancelled by Close
	stopBg   context.CancelFunc
	jobs     sync.WaitGroup
	auditLog *audit.Log
	verifier *audit.Verifier
	closed   sync.Once
}

// Start builds the logger and registry, opens the pool and applies (or, with CSI_MIGRATE=false,
// checks) the migrations. The pool does not need the database to be up: readiness says so.
// With CSI_MIGRATE_ONLY=true it applies the migrations and returns ErrMigratedOnly, which main
// turns into status 0 (ExitCode): the Helm pre-install/pre-upgrade hook Job runs the service's
// own image that way.
func Start(ctx context.Context, b Base, env *Env, sets ...pgdb.MigrationSet) (*App, error) {
	log := logging.New(os.Stderr, b.LogFormat, b.LogLevel, b.Service, Version)
	log.Info("starting", "commit", Commit, "config", env.Masked())
	setMemoryLimit(log, b.MemoryLimit)
	reg := metrics.NewRegistry(b.Service, Version, Commit)
	pool, err := pgdb.Open(ctx, b.DatabaseURL)
	if err != nil {
		return nil, err
	}
	a := New(b, log, reg, pool, sets...)
	if b.Migrate || b.MigrateOnly {
		if err := a.migrateWithRetry(ctx); err != nil {
			pool.Close()
			return nil, err
		}
	}
	if b.MigrateOnly {
		log.Info("migrations applied; exiting (CSI_MIGRATE_ONLY=true)")
		pool.Close()
		return nil, ErrMigratedOnly
	}
	return a, nil
}

// New assembles an App from parts already built (Start does it from configuration; tests do it
// with a test database and a discarding logger).
func New(b Base, log *slog.Logger, reg *prometheus.Registry, pool *pgxpool.Pool, sets ...pgdb.MigrationSet) *App {
	metrics.RegisterPool(reg, b.Service, pool)
	a := &App{Base: b, Log: log, Registry: reg, Pool: pool, sets: sets}
	a.bg, a.stopBg = context.WithCancel(context.Background())
	a.Health = &httpapi.Health{Service: b.Service, Version: Version, Commit: Commit, Checks: []httpapi.Check{
		{Name: "database", Check: func(ctx context.Context) error { return pgdb.Ping(ctx, pool) }},
		{Name: "migrations", Check: a.migrationsApplied},
	}}
	return a
}

// migrateWithRetry waits for the database for up to a minute (it may start after us).
func (a *App) migrateWithRetry(ctx context.Context) error {
	deadline := time.Now().Add(time.Minute)
	for {
		err := pgdb.Migrate(ctx, a.Pool, a.Log, a.sets...)
		if err == nil || !pgdb.IsConnError(err) || time.Now().After(deadline) {
			return err
		}
		a.Log.Warn("database not reachable yet; retrying migrations", "err", err)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
		}
	}
}

func (a *App) migrationsApplied(ctx context.Context) error {
	pending, err := pgdb.Pending(ctx, a.Pool, a.sets...)
	if err != nil {
		return err
	}
	if pending {
		return errors.New("migrations pending")
	}
	return nil
}

// Go runs job in the background until Close (after serving stops) cancels its context; Close
// waits for it to return. Every goroutine of a service's own has an owner and a stop path so.
func (a *App) Go(job func(ctx context.Context)) {
	a.jobs.Add(1)
	go func() {
		defer a.jobs.Done()
		job(a.bg)
	}()
}

// Close stops what the App owns, in order: the background jobs (waited for), then the audit log
// (its queued records committed, its last checkpoint written, within ctx), then the pool. Serve
// calls it once the server has stopped; a test that does not Serve calls it itself. It can be
// called more than once.
func (a *App) Close(ctx context.Context) error {
	var err error
	a.closed.Do(func() {
		a.stopBg()
		a.jobs.Wait()
		if a.auditLog != nil {
			if cerr := a.auditLog.Close(ctx); cerr != nil {
				a.Log.Error("closing the audit log", "err", cerr)
				err = cerr
			}
		}
		a.Pool.Close()
	})
	return err
}

// Handler builds the service's HTTP handler: health, metrics, the audit verification (when
// OpenAudit was called), the routes registered by routes, behind request ids, recovery,
// metrics, access log, the bound on requests in flight, the refusal of paths with dot segments
// (before authentication, so that every path gets the same 400) and authentication.
func (a *App) Handler(verifier *auth.Verifier, routes func(mux *httpapi.Mux)) http.Handler {
	mux := httpapi.NewMux()
	a.Health.Register(mux)
	mux.Handle("GET /metrics", metrics.Handler(a.Registry))
	a.auditRoutes(mux)
	routes(mux)
	return httpapi.Chain(mux,
		httpapi.RequestIDs(),
		metrics.HTTP(a.Registry, a.Base.Service),
		httpapi.AccessLog(a.Log),
		httpapi.Recover(a.Log),
		httpapi.InFlight(a.Base.MaxInFlight),
		httpapi.CanonicalPaths(),
		auth.Authenticate(verifier, a.Log),
	)
}

// Serve listens, registers in Consul when configured, serves until ctx ends, then drains,
// deregisters, and closes (Close) the background jobs, the audit log and the pool, in that order.
func (a *App) Serve(ctx context.Context, h http.Handler) error {
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), a.Base.Grace+5*time.Second)
		defer cancel()
		_ = a.Close(cctx)
	}()
	ln, err := net.Listen("tcp", a.Base.HTTPAddr)
	if err != nil {
		return err
	}
	a.Log.Info("listening", "addr", ln.Addr().String())
	if a.Base.DebugAddr != "" {
		go a.serveDebug(ctx)
	}
	if a.Base.ConsulAddr != "" {
		dereg, err := a.register(ctx, ln.Addr())
		if err != nil {
			return err
		}
		defer func() {
			dctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			if err := dereg(dctx); err != nil {
				a.Log.Warn("consul deregistration failed", "err", err)
			}
		}()
	}
	return httpapi.Serve(ctx, a.Log, httpapi.NewHTTPServer(a.Base.HTTPAddr, h), ln, a.Health, a.Base.DrainDelay, a.Base.Grace)
}

func (a *App) register(ctx context.Context, addr net.Addr) (func(context.Context) error, error) {
	client, err := discovery.NewClient(a.Base.ConsulAddr)
	if err != nil {
		return nil, err
	}
	_, portStr, _ := net.SplitHostPort(addr.String())
	port, _ := strconv.Atoi(portStr)
	return discovery.Register(ctx, client, discovery.Registration{
		Service: "csi-" + a.Base.Service, Address: a.Base.AdvertiseAddr, Port: port,
		Tags: []string{"csi", Version}, Meta: map[string]string{"version": Version, "commit": Commit},
		HealthPath: "/readyz",
	}, a.Log)
}

func (a *App) serveDebug(ctx context.Context) {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Addr: a.Base.DebugAddr, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		_ = srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		a.Log.Warn("debug server", "err", err)
	}
}
