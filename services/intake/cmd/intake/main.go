// Command intake serves the intake service (accesses and case files). Configuration is read
// from CSI_... environment variables (see the service README).
package main

import (
	"context"
	"os"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/intake"
	"github.com/csi-lombardia/csi/services/intake/postgres"
	"github.com/csi-lombardia/csi/services/intake/registryhttp"
)

func main() { os.Exit(app.Run(run)) }

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "intake", ":8083")
	ps := peers.LoadSettings(env, "intake", base.ConsulAddr, map[string]string{"registry": registryhttp.DefaultURL})
	if err := env.Err(); err != nil {
		return err
	}
	a, err := app.Start(ctx, base, env, app.Sets(postgres.Migrations)...)
	if err != nil {
		return err
	}
	set, err := peers.Open(ps, a.Log) // Consul (instances of csi-registry) or CSI_REGISTRY_URL
	if err != nil {
		return err
	}
	defer set.Close() // after the server has drained
	registry, err := registryhttp.FromSet(set)
	if err != nil {
		return err
	}
	_, h, err := intake.Mount(ctx, a, intake.Parts{Store: postgres.New(a.Pool), Registry: registry, Places: places.Default(),
		Config: intake.DefaultConfig(), Verifier: base.Verifier(auth.NewJWKS(base.JWKSURL, a.Log))})
	if err != nil {
		return err
	}
	return a.Serve(ctx, h)
}
