// Command interventions serves the interventions service (service types and authorizations).
// Configuration is read from CSI_... environment variables (see the service README).
package main

import (
	"context"
	"os"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/services/interventions/identityhttp"
	"github.com/csi-lombardia/csi/services/interventions/postgres"
)

func main() { os.Exit(app.Run(run)) }

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "interventions", ":8084")
	ps := peers.LoadSettings(env, "interventions", base.ConsulAddr, map[string]string{"identity": identityhttp.DefaultURL})
	cfg := interventions.DefaultConfig()
	cfg.AccreditationTTL = env.DurationMax("CSI_INTERVENTIONS_ACCREDITATION_TTL", cfg.AccreditationTTL, 24*time.Hour)
	cfg.OperatorTTL = env.DurationMax("CSI_INTERVENTIONS_OPERATOR_TTL", cfg.OperatorTTL, 24*time.Hour)
	if err := env.Err(); err != nil {
		return err
	}
	a, err := app.Start(ctx, base, env, app.Sets(postgres.Migrations)...)
	if err != nil {
		return err
	}
	c, closeCache, err := cache.Open(ctx, base.RedisURL, "interventions", a.Log, a.Registry)
	if err != nil {
		return err
	}
	defer closeCache()
	set, err := peers.Open(ps, a.Log) // Consul (instances of csi-identity) or CSI_IDENTITY_URL
	if err != nil {
		return err
	}
	defer set.Close() // after the server has drained
	identity, err := identityhttp.FromSet(set)
	if err != nil {
		return err
	}
	_, h, err := interventions.Mount(ctx, a, interventions.Parts{Store: postgres.New(a.Pool), Identity: identity, Cache: c,
		Places: places.Default(), Config: cfg, Verifier: base.Verifier(auth.NewJWKS(base.JWKSURL, a.Log))})
	if err != nil {
		return err
	}
	return a.Serve(ctx, h)
}
