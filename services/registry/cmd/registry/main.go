// Command registry serves the registry service (the citizen record). Configuration is read from
// CSI_... environment variables (see the service README).
package main

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"os"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/registry"
	"github.com/csi-lombardia/csi/services/registry/postgres"
)

// pseudonymKeys are the pseudonym purposes and the variable holding each one's key.
var pseudonymKeys = []struct{ purpose, env string }{
	{"reporting", "CSI_REGISTRY_PSEUDONYM_KEY_REPORTING"},
	{"sinba", "CSI_REGISTRY_PSEUDONYM_KEY_SINBA"},
	{"research", "CSI_REGISTRY_PSEUDONYM_KEY_RESEARCH"},
}

func main() { os.Exit(app.Run(run)) }

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "registry", ":8082")
	cfg := registry.DefaultConfig()
	cfg.CacheTTL = env.Duration("CSI_REGISTRY_CACHE_TTL", cfg.CacheTTL)
	devKeys := env.Bool("CSI_REGISTRY_DEV_KEYS", false)
	for _, k := range pseudonymKeys {
		if devKeys && os.Getenv(k.env) == "" {
			cfg.PseudonymKeys[k.purpose] = devKey(k.purpose)
			continue
		}
		cfg.PseudonymKeys[k.purpose] = env.Base64Key(k.env, 32)
	}
	if err := env.Err(); err != nil {
		return err
	}

	a, err := app.Start(ctx, base, env, app.Sets(postgres.Migrations)...)
	if err != nil {
		return err
	}
	if devKeys {
		a.Log.Warn("CSI_REGISTRY_DEV_KEYS=true: pseudonym keys not configured are derived from a public seed; never use this in production")
	}
	c, closeCache, err := cache.Open(ctx, base.RedisURL, "registry", a.Log, a.Registry)
	if err != nil {
		return err
	}
	defer closeCache()
	_, h, err := registry.Mount(ctx, a, registry.Parts{Store: postgres.New(a.Pool), Cache: c, Places: places.Default(), Config: cfg,
		Verifier: base.Verifier(auth.NewJWKS(base.JWKSURL, a.Log))})
	if err != nil {
		return err
	}
	return a.Serve(ctx, h)
}

// devKey derives a development key from a public seed: stable across restarts, worthless as a
// secret.
func devKey(purpose string) []byte {
	m := hmac.New(sha256.New, []byte("csi-registry-development-only"))
	m.Write([]byte(purpose))
	return m.Sum(nil)
}
