// Command identity serves the identity service. Configuration is read from CSI_...
// environment variables (see the README's configuration section).
//
//	identity                  serve
//	identity bootstrap -h     create the first ambito and its administrator on the database, and exit
package main

import (
	"context"
	"os"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "bootstrap" {
		os.Exit(bootstrapMain(os.Args[2:]))
	}
	os.Exit(app.Run(run))
}

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "identity", ":8081")
	cfg := identity.DefaultConfig()
	cfg.Issuer = base.Issuer
	cfg.AccessTTL = env.Duration("CSI_IDENTITY_ACCESS_TTL", cfg.AccessTTL)
	cfg.RefreshTTL = env.Duration("CSI_IDENTITY_REFRESH_TTL", cfg.RefreshTTL)
	cfg.ClientAccessTTL = env.Duration("CSI_IDENTITY_CLIENT_ACCESS_TTL", cfg.ClientAccessTTL)
	cfg.MaxFailures = env.Int("CSI_IDENTITY_MAX_FAILURES", cfg.MaxFailures)
	cfg.LockBase = env.Duration("CSI_IDENTITY_LOCK_BASE", cfg.LockBase)
	parts := identity.Parts{Places: places.Default(), Config: cfg, MasterKey: env.Base64Key("CSI_IDENTITY_MASTER_KEY", 32),
		KeyRotation: env.Duration("CSI_IDENTITY_KEY_ROTATION", 24*time.Hour), Bootstrap: identity.Bootstrap{
			AmbitoCode:      env.String("CSI_BOOTSTRAP_AMBITO_CODE", ""),
			AmbitoName:      env.String("CSI_BOOTSTRAP_AMBITO_NAME", ""),
			AziendaName:     env.String("CSI_BOOTSTRAP_AZIENDA_NAME", ""),
			AdminEmail:      env.String("CSI_BOOTSTRAP_ADMIN_EMAIL", ""),
			AdminPassword:   env.Secret("CSI_BOOTSTRAP_ADMIN_PASSWORD", ""),
			AdminFiscalCode: env.String("CSI_BOOTSTRAP_ADMIN_FISCAL_CODE", ""),
			AdminGivenName:  env.String("CSI_BOOTSTRAP_ADMIN_GIVEN_NAME", ""),
			AdminFamilyName: env.String("CSI_BOOTSTRAP_ADMIN_FAMILY_NAME", ""),
		}}
	if err := env.Err(); err != nil {
		return err
	}
	a, err := app.Start(ctx, base, env, app.Sets(postgres.Migrations)...)
	if err != nil {
		return err
	}
	parts.Store = postgres.New(a.Pool)
	_, h, err := identity.Mount(ctx, a, parts)
	if err != nil {
		return err
	}
	return a.Serve(ctx, h)
}
