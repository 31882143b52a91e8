package app

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// Sets are the migrations of a service on the skeleton, in order: the skeleton's own (the audit
// trail, the event outbox, the idempotency keys), then the service's. Its main passes them to
// Start, its tests to servicetest.
func Sets(service ...pgdb.MigrationSet) []pgdb.MigrationSet {
	return append([]pgdb.MigrationSet{audit.Migrations, events.Migrations, idempotency.Migrations}, service...)
}

// Wiring is what a service mounts on the skeleton: its routes, and the options of the parts the
// skeleton owns. A service's Mount function (called by its main and by its tests alike) fills it.
type Wiring struct {
	// Verifier checks the access tokens of every request but the open paths.
	Verifier *auth.Verifier
	// Routes registers the service's own routes; idem is the Idempotency-Key middleware for the
	// creates that cooperatives' and other services' systems call.
	Routes func(mux *httpapi.Mux, idem httpapi.Middleware)
	// OpenAPI is the service's contract, served at GET /openapi.yaml.
	OpenAPI []byte
	// IdempotencyMaxBody bounds a request body the idempotency store hashes (0: its default).
	IdempotencyMaxBody int64
	// NoEventFeed leaves out GET /v1/events (a service with no outbox).
	NoEventFeed bool
}

// IdempotencyTTL is how long a first answer is replayed: keys older than this are purged hourly.
const IdempotencyTTL = 24 * time.Hour

// Mount is the one composition path of every service: the idempotency store and its hourly
// purge (a background job of the App), the event feed at GET /v1/events, the service's routes,
// the contract at GET /openapi.yaml, and Handler's health, metrics, audit verification and middleware around them.
func (a *App) Mount(w Wiring) http.Handler {
	idem := idempotency.New(a.Pool, a.Log)
	if w.IdempotencyMaxBody > 0 {
		idem.MaxBody = w.IdempotencyMaxBody
	}
	a.Go(func(ctx context.Context) { a.purgeIdempotency(ctx, idem, time.Hour) })
	return a.Handler(w.Verifier, func(mux *httpapi.Mux) {
		if w.OpenAPI != nil {
			mux.HandleFunc("GET /openapi.yaml", func(rw http.ResponseWriter, _ *http.Request) {
				rw.Header().Set("Content-Type", "application/yaml")
				_, _ = rw.Write(w.OpenAPI)
			})
		}
		if w.Routes != nil {
			w.Routes(mux, idem.Middleware)
		}
		if !w.NoEventFeed {
			mux.Handle("GET /v1/events", httpapi.NewServer(a.Log, events.FeedEndpoint(a.Pool), events.DecodeFeedRequest))
		}
	})
}

// Eventually runs fn now (at Mount, before serving: work a start owes, like resuming interrupted
// jobs); when it fails (the database is not there yet: readiness says so), it logs the error and
// tries again every interval, as a background job of the App, until fn succeeds or the App
// closes.
func (a *App) Eventually(ctx context.Context, what string, interval time.Duration, fn func(context.Context) error) {
	err := fn(ctx)
	if err == nil {
		return
	}
	a.Log.Warn(what+": will try again", "err", err)
	a.Go(func(ctx context.Context) {
		t := time.NewTicker(interval)
		defer t.Stop()
		for err != nil {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			if err = fn(ctx); err != nil {
				a.Log.Warn(what+": will try again", "err", err)
			}
		}
	})
}

// purgeIdempotency drops the idempotency keys older than IdempotencyTTL, at start and every
// interval.
func (a *App) purgeIdempotency(ctx context.Context, idem *idempotency.Store, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		if n, err := idem.Purge(ctx, IdempotencyTTL); err != nil && ctx.Err() == nil {
			a.Log.Warn("idempotency purge", "err", err)
		} else if n > 0 {
			a.Log.Info("idempotency keys purged", "count", n)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// ErrMigratedOnly is returned by Start with CSI_MIGRATE_ONLY=true once the migrations are
// applied: the process has nothing more to do and ends with status 0 (ExitCode).
var ErrMigratedOnly = errors.New("migrations applied (CSI_MIGRATE_ONLY=true)")

// Run calls a service's run with a context that SIGINT or SIGTERM ends, and returns the status
// its main ends with (ExitCode). Every main is
//
//	func main() { os.Exit(app.Run(run)) }
func Run(run func(context.Context) error) int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return ExitCode(run(ctx))
}

// ExitCode is the status a main ends with after run returned err: 0 for nil and
// ErrMigratedOnly; otherwise err is printed and the status is 1.
func ExitCode(err error) int {
	if err == nil || errors.Is(err, ErrMigratedOnly) {
		return 0
	}
	fmt.Fprintln(os.Stderr, "fatal:", err)
	return 1
}
