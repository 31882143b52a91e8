package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/progress"
	"github.com/csi-lombardia/csi/tools/internal/regclient"
	"github.com/csi-lombardia/csi/tools/internal/suite"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// benchEmail is the bench's own operator: an administrative of the Ufficio di Piano, whose
// scope is the whole ambito (imports of every comune, reads and creates anywhere). None of
// the demo sign-ins has that: the demo administrative works for a comune.
const benchEmail = "bench.administrative@demo.csi.example"

// today fixes the ages of the synthetic people, so that the same seed gives the same data.
var today = time.Date(2025, 6, 1, 0, 0, 0, 0, time.UTC)

// people are the synthetic citizens: the ones imported, by comune, and fresh ones to create.
type people struct {
	comuni   []synth.Comune
	imported [][]synth.Person
	fresh    []synth.Person // never imported: for the creates of the suite and of the floor
	bench    synth.Person   // the bench operator
}

func generate(seed uint64, citizens, fresh int) (people, error) {
	cat := places.Default()
	comuni, err := synth.DemoComuni(cat)
	if err != nil {
		return people{}, err
	}
	g := synth.New(seed, cat, today)
	imported, err := g.Ambito(comuni, citizens)
	if err != nil {
		return people{}, err
	}
	// The same generator keeps codes unique across everything it made.
	extra, err := g.Comune(comuni[0], fresh+1)
	if err != nil {
		return people{}, err
	}
	return people{comuni: comuni, imported: imported, fresh: extra[1:], bench: extra[0]}, nil
}

// freshRegistry drops the registry's database when an earlier bench left citizens in it, and
// starts the registry again on an empty one: every run imports and creates the same rows.
func freshRegistry(ctx context.Context, s *suite.Suite, logw io.Writer) error {
	conn, err := pgx.Connect(ctx, s.DatabaseURL("registry"))
	if err != nil {
		return fmt.Errorf("connect to the registry database: %w", err)
	}
	var n int64
	err = conn.QueryRow(ctx, `SELECT count(*) FROM citizens`).Scan(&n)
	var db string
	_ = conn.QueryRow(ctx, `SELECT current_database()`).Scan(&db)
	conn.Close(ctx)
	if err != nil {
		return fmt.Errorf("count citizens: %w", err)
	}
	if n == 0 {
		return nil
	}
	fmt.Fprintf(logw, "==> the registry database %s holds %d citizens of an earlier run: starting it afresh\n", db, n)
	return recreate(ctx, s, "registry", db)
}

// credentials are what the operations sign in with.
type credentials struct {
	clientID, clientSecret string // a machine client
	user, password         string // a demo sign-in (token by password)
	ambito                 uuid.UUID
}

// prepareIdentity makes sure the bench operator and a machine client with a known secret exist.
func prepareIdentity(ctx context.Context, s *suite.Suite, p people) (credentials, error) {
	c := idclient.New(s.URL("identity"), nil)
	admin := s.Demo().Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return credentials{}, fmt.Errorf("sign in as %s: %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	orgs, err := c.Organizations(ctx, identity.OrgAzienda)
	if err != nil || len(orgs) == 0 {
		return credentials{}, fmt.Errorf("find the azienda (%d found): %v", len(orgs), err)
	}
	az := orgs[0]
	ops, err := c.Operators(ctx, &az.ID, "bench.administrative")
	if err != nil {
		return credentials{}, fmt.Errorf("list operators: %w", err)
	}
	if len(ops) == 0 {
		if _, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: p.bench.FiscalCode, GivenName: p.bench.GivenName,
			FamilyName: p.bench.FamilyName, Email: benchEmail, Password: s.Demo().Admin().Password,
			Profiles: []identity.ProfileInput{{OrganizationID: az.ID, Role: auth.RoleAdministrative, ValidFrom: "2024-01-01"}}}); err != nil {
			return credentials{}, fmt.Errorf("create the bench operator: %w", err)
		}
	}
	cr := credentials{ambito: az.AmbitoID}
	if ci := s.Client(); ci.Secret != "" {
		cr.clientID, cr.clientSecret = ci.ID, ci.Secret
	} else {
		cl, err := c.CreateClient(ctx, identity.ClientInput{Name: "Bench client " + time.Now().UTC().Format(time.RFC3339),
			Scopes: []string{"events:read"}})
		if err != nil {
			return credentials{}, fmt.Errorf("create a machine client: %w", err)
		}
		cr.clientID, cr.clientSecret = cl.ID.String(), cl.Secret
	}
	sw, ok := s.Demo().DemoUser(auth.RoleSocialWorker)
	if !ok {
		return credentials{}, fmt.Errorf("the demo data has no social worker")
	}
	cr.user, cr.password = sw.Email, sw.Password
	return cr, nil
}

// benchToken signs the bench operator in (tokens last 15 minutes: each ramp takes a new one).
func benchToken(ctx context.Context, s *suite.Suite) (string, error) {
	tok, err := idclient.New(s.URL("identity"), nil).SignIn(ctx, benchEmail, s.Demo().Admin().Password, "")
	if err != nil {
		return "", fmt.Errorf("sign in as %s: %w", benchEmail, err)
	}
	return tok.AccessToken, nil
}

// importAll loads every comune's extract through POST /v1/imports, one after the other, and
// waits for each to complete. It returns the wall time of the whole load.
func importAll(ctx context.Context, s *suite.Suite, p people, logw io.Writer) (time.Duration, error) {
	total := 0
	for _, c := range p.imported {
		total += len(c)
	}
	bar := progress.New(logw, total, "importing citizens")
	defer bar.Close()
	rc := &regclient.Client{BaseURL: s.URL("registry"), HTTP: &http.Client{Timeout: 5 * time.Minute},
		Token: func(ctx context.Context) (string, error) { return benchToken(ctx, s) }}
	start := time.Now()
	done := 0
	for i, c := range p.comuni {
		if _, err := rc.ImportPeople(ctx, c.ISTAT, p.imported[i], func(n int64) { _ = bar.Set(done + int(n)) }); err != nil {
			return 0, err
		}
		done += len(p.imported[i])
		_ = bar.Set(done)
	}
	return time.Since(start), nil
}

// citizen is an imported citizen as the operations pick them.
type citizen struct {
	ID         uuid.UUID
	FiscalCode string
	Name       string // family and given name, as an operator would type them
	ISTAT      string // the comune of residence
}

// loaded reads the imported citizens back from the registry's database in a fixed pseudo-random
// order, so that consecutive requests hit unrelated rows.
func loaded(ctx context.Context, dbURL string) ([]citizen, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return nil, fmt.Errorf("connect to the registry database: %w", err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT id, fiscal_code, family_name, given_name, coalesce(residence_istat, '') FROM citizens
		WHERE fiscal_code IS NOT NULL ORDER BY md5(fiscal_code)`)
	if err != nil {
		return nil, fmt.Errorf("read citizens: %w", err)
	}
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (citizen, error) {
		var c citizen
		var family, given string
		err := r.Scan(&c.ID, &c.FiscalCode, &family, &given, &c.ISTAT)
		c.Name = family + " " + given
		return c, err
	})
}
