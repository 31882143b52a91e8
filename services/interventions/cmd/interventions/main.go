// Command interventions serves the interventions service (service types, authorizations and
// their documents and diary, visits, monthly statements, the drafts from intake's PAI, the
// cooperatives' citizen card).
// Configuration is read from CSI_... environment variables (see the service README).
package main

import (
	"context"
	"os"
	"time"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/services/interventions/identityhttp"
	"github.com/csi-lombardia/csi/services/interventions/postgres"
	"github.com/csi-lombardia/csi/services/interventions/registryhttp"
)

// DefaultIntakeURL is intake's base URL on a development machine (CSI_INTAKE_URL).
const DefaultIntakeURL = "http://127.0.0.1:8083"

func main() { os.Exit(app.Run(run)) }

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "interventions", ":8084")
	ps := peers.LoadSettings(env, "interventions", base.ConsulAddr, map[string]string{"identity": identityhttp.DefaultURL,
		"intake": DefaultIntakeURL, "registry": registryhttp.DefaultURL})
	cfg := interventions.DefaultConfig()
	cfg.AccreditationTTL = env.DurationMax("CSI_INTERVENTIONS_ACCREDITATION_TTL", cfg.AccreditationTTL, 24*time.Hour)
	cfg.OperatorTTL = env.DurationMax("CSI_INTERVENTIONS_OPERATOR_TTL", cfg.OperatorTTL, 24*time.Hour)
	cfg.CitizenCardTTL = env.DurationMax("CSI_INTERVENTIONS_CITIZEN_TTL", cfg.CitizenCardTTL, 24*time.Hour)
	// Drafts from the PAI: intake's feed followed for plan.versioned (README, "Drafts from the PAI").
	planDrafts := env.Bool("CSI_INTERVENTIONS_PLAN_DRAFTS", true)
	feedIdle := env.DurationMax("CSI_INTERVENTIONS_FEED_INTERVAL", events.DefaultIdle, time.Minute)
	docCfg := interventions.LoadDocumentsConfig(env, base.HTTPAddr)
	if err := env.Err(); err != nil {
		return err
	}
	a, err := app.Start(ctx, base, env, app.Sets(events.ConsumerMigrations, postgres.Migrations)...)
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
	registry, err := registryhttp.FromSet(set) // the cooperatives' citizen card
	if err != nil {
		return err
	}
	docs, err := interventions.OpenDocuments(ctx, a, docCfg, a.Log)
	if err != nil {
		return err
	}
	svc, h, err := interventions.Mount(ctx, a, interventions.Parts{Store: postgres.New(a.Pool), Identity: identity, Registry: registry, Cache: c,
		Places: places.Default(), Config: cfg, Verifier: base.Verifier(auth.NewJWKS(base.JWKSURL, a.Log)), Documents: docs})
	if err != nil {
		return err
	}
	if planDrafts {
		intake, err := set.Client("intake") // Consul (instances of csi-intake) or CSI_INTAKE_URL
		if err != nil {
			return err
		}
		consumer := &events.Consumer{Name: "intake-plans", Source: intake.Feed(), Pool: a.Pool, Apply: svc.ApplyIntakeEvents,
			Idle: feedIdle, Log: a.Log.With("feed", "intake"), Metrics: events.NewConsumerMetrics(a.Registry, "interventions")}
		a.Go(func(ctx context.Context) { _ = consumer.Run(ctx) }) // stopped by a.Close, after serving
	}
	return a.Serve(ctx, h)
}
