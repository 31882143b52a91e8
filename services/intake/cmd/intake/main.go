// Command intake serves the intake service (accesses and case files). Configuration is read
// from CSI_... environment variables (see the service README).
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/intake"
	"github.com/csi-lombardia/csi/services/intake/postgres"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := app.ExitCode(run(ctx))
	stop()
	os.Exit(code)
}

func run(ctx context.Context) error {
	env := &app.Env{}
	base := app.LoadBase(env, "intake", ":8083")
	if err := env.Err(); err != nil {
		return err
	}
	a, err := app.Start(ctx, base, env, audit.Migrations, events.Migrations, idempotency.Migrations, postgres.Migrations)
	if err != nil {
		return err
	}
	_, h, err := intake.Mount(ctx, a, intake.Parts{Store: postgres.New(a.Pool), Registry: noRegistry{}, Places: places.Default(),
		Config: intake.DefaultConfig(), Verifier: base.Verifier(auth.NewJWKS(base.JWKSURL, a.Log))})
	if err != nil {
		return err
	}
	return a.Serve(ctx, h)
}

// noRegistry stands in for the registry's HTTP client until it is wired: every write that
// refers to a citizen answers 503 (nothing is written); everything else works.
type noRegistry struct{}

func (noRegistry) Citizen(context.Context, uuid.UUID) (intake.CitizenSummary, error) {
	return intake.CitizenSummary{}, &errs.Error{Kind: errs.Unavailable, Message: "the registry client is not configured", RetryAfter: 30 * time.Second}
}
