// Command identity serves the identity service. Configuration is read from CSI_...
// environment variables (see the README's configuration section).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.ExitCode(run(ctx))
	stop()
	os.Exit(code)
}

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "identity", ":8081")
	cfg := identity.DefaultConfig()
	cfg.Issuer = base.Issuer
	cfg.AccessTTL = env.Duration("CSI_IDENTITY_ACCESS_TTL", cfg.AccessTTL)
	cfg.RefreshTTL = env.Duration("CSI_IDENTITY_REFRESH_TTL", cfg.RefreshTTL)
	cfg.MaxFailures = env.Int("CSI_IDENTITY_MAX_FAILURES", cfg.MaxFailures)
	cfg.LockBase = env.Duration("CSI_IDENTITY_LOCK_BASE", cfg.LockBase)
	rotation := env.Duration("CSI_IDENTITY_KEY_ROTATION", 24*time.Hour)
	master := env.Base64Key("CSI_IDENTITY_MASTER_KEY", 32)
	boot := identity.Bootstrap{
		AmbitoCode:      env.String("CSI_BOOTSTRAP_AMBITO_CODE", ""),
		AmbitoName:      env.String("CSI_BOOTSTRAP_AMBITO_NAME", ""),
		AziendaName:     env.String("CSI_BOOTSTRAP_AZIENDA_NAME", ""),
		AdminEmail:      env.String("CSI_BOOTSTRAP_ADMIN_EMAIL", ""),
		AdminPassword:   env.Secret("CSI_BOOTSTRAP_ADMIN_PASSWORD", ""),
		AdminFiscalCode: env.String("CSI_BOOTSTRAP_ADMIN_FISCAL_CODE", ""),
		AdminGivenName:  env.String("CSI_BOOTSTRAP_ADMIN_GIVEN_NAME", ""),
		AdminFamilyName: env.String("CSI_BOOTSTRAP_ADMIN_FAMILY_NAME", ""),
	}
	if err := env.Err(); err != nil {
		return err
	}

	a, err := app.Start(ctx, base, env, audit.Migrations, events.Migrations, idempotency.Migrations, postgres.Migrations)
	if err != nil {
		return err
	}
	store := postgres.New(a.Pool)
	keys, err := identity.NewKeyRing(store, master, rotation, cfg.AccessTTL+time.Hour)
	if err != nil {
		return err
	}
	if err := keys.Rotate(ctx, time.Now().UTC()); err != nil {
		return err
	}
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		return err
	}
	svc := identity.NewService(store, keys, auditLog, places.Default(), cfg, a.Log)

	if boot.AmbitoCode != "" {
		res, err := svc.EnsureBootstrap(ctx, boot)
		if err != nil {
			return err
		}
		if res.Created {
			a.Log.Info("bootstrap: ambito and first administrator created", "ambito", res.Ambito.Code, "admin", res.Admin.Email)
		}
	}

	// Background jobs are owned by the skeleton: stopped after serving, before the audit log and
	// the pool are closed.
	a.Go(func(ctx context.Context) {
		keys.Run(ctx, time.Minute, func(err error) { a.Log.Error("signing key rotation", "err", err) })
	})
	idem := idempotency.New(a.Pool, a.Log)
	idem.MaxBody = identity.MaxImportBytes
	a.Go(func(ctx context.Context) { purge(ctx, idem, a) })

	verifier := base.Verifier(keys)
	h := a.Handler(verifier, func(mux *httpapi.Mux) {
		identity.Routes(mux, identity.MakeEndpoints(svc), a.Log, idem.Middleware, keys.Public)
		mux.Handle("GET /v1/events", httpapi.NewServer(a.Log, events.FeedEndpoint(a.Pool), events.DecodeFeedRequest))
	})
	return a.Serve(ctx, h)
}

// purge drops idempotency keys older than a day, hourly.
func purge(ctx context.Context, idem *idempotency.Store, a *app.App) {
	t := time.NewTicker(time.Hour)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if n, err := idem.Purge(ctx, 24*time.Hour); err != nil {
				a.Log.Warn("idempotency purge", "err", err)
			} else if n > 0 {
				a.Log.Info("idempotency keys purged", "count", n)
			}
		}
	}
}
