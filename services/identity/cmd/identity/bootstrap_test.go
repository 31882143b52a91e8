package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"flag"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
)

// runBootstrap runs 'identity bootstrap args' in-process, with no terminal, and returns what it
// printed.
func runBootstrap(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = bootstrap(context.Background(), args, stdio{out: &out, err: &errOut})
	return out.String(), errOut.String(), err
}

func newKey() []byte {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return b
}

// domainRows counts the rows a bootstrap writes, by table.
func domainRows(t *testing.T, dbURL string) map[string]int64 {
	t.Helper()
	pool, err := pgdb.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	all := pgtest.RowCounts(t, pool)
	out := map[string]int64{}
	for _, table := range []string{"ambiti", "organizations", "operators", "profiles"} {
		out[table] = all[table]
	}
	return out
}

func TestBootstrap(t *testing.T) {
	dbURL := pgtest.NewURL(t)
	key := newKey()
	t.Setenv("CSI_IDENTITY_MASTER_KEY", base64.StdEncoding.EncodeToString(key))
	t.Setenv("CSI_DATABASE_URL", "")
	t.Setenv("CSI_BOOTSTRAP_ADMIN_PASSWORD", "")
	fiscal, err := codicefiscale.Compute("Verdi", "Anna", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), codicefiscale.Female, "F205")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Sicura-Parola-42!"
	args := func(extra ...string) []string {
		return append([]string{"-database-url", dbURL, "-ambito-code", "ambito-test", "-ambito-name", "Ambito Test",
			"-email", "admin@test.example", "-fiscal-code", fiscal, "-given-name", "Anna", "-family-name", "Verdi"}, extra...)
	}

	// Refused input writes nothing.
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no ambito code", args: []string{"-database-url", dbURL, "-ambito-name", "A", "-email", "a@b.example",
			"-fiscal-code", fiscal, "-given-name", "Anna", "-family-name", "Verdi", "-password", password}, wantErr: "missing -ambito-code"},
		{name: "weak password", args: args("-password", "short"), wantErr: "password: must be at least 12 characters long"},
		{name: "password with the name", args: args("-password", "Anna-Verdi-1980"), wantErr: "must not contain your name"},
		{name: "bad fiscal code", args: append(args("-password", password), "-fiscal-code", "RSSMRA80A01H264X"), wantErr: "fiscal_code: is not a valid codice fiscale"},
		{name: "bad e-mail", args: append(args("-password", password), "-email", "not-an-email"), wantErr: "admin_email:"},
		{name: "no password and no terminal", args: args(), wantErr: "use -password, set CSI_BOOTSTRAP_ADMIN_PASSWORD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runBootstrap(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("bootstrap = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}
	none := map[string]int64{"ambiti": 0, "organizations": 0, "operators": 0, "profiles": 0}
	if diff := cmp.Diff(domainRows(t, dbURL), none); diff != "" {
		t.Errorf("rows after the refused bootstraps (-got +want):\n%s", diff)
	}

	out, _, err := runBootstrap(t, args("-password", password)...)
	if err != nil {
		t.Fatalf("first bootstrap: %v", err)
	}
	if !strings.Contains(out, `created ambito "ambito-test"`) || !strings.Contains(out, "admin@test.example") {
		t.Errorf("first bootstrap printed %q, want the created ambito and administrator", out)
	}
	want := map[string]int64{"ambiti": 1, "organizations": 1, "operators": 1, "profiles": 1}
	if diff := cmp.Diff(domainRows(t, dbURL), want); diff != "" {
		t.Errorf("rows after the first bootstrap (-got +want):\n%s", diff)
	}

	// Again, without a password (it is not needed): nothing changes.
	out, _, err = runBootstrap(t, args()...)
	if err != nil {
		t.Fatalf("second bootstrap: %v", err)
	}
	if !strings.Contains(out, "exists already: nothing changed") {
		t.Errorf("second bootstrap printed %q, want nothing changed", out)
	}
	if diff := cmp.Diff(domainRows(t, dbURL), want); diff != "" {
		t.Errorf("rows after the second bootstrap (-got +want):\n%s", diff)
	}

	// The service mounted on that database with the same master key (identity.Mount, as run
	// does) signs the administrator in, in the azienda.
	s := servicetest.New(t, servicetest.Config{Service: "identity", Sets: []pgdb.MigrationSet{postgres.Migrations},
		OpenAPI: identity.OpenAPI(), DatabaseURL: dbURL,
		Mount: func(ctx context.Context, a *app.App, _ *authtest.Issuer) (http.Handler, error) {
			_, h, err := identity.Mount(ctx, a, identity.Parts{Store: postgres.New(a.Pool), Places: places.Default(),
				Config: identity.DefaultConfig(), MasterKey: key, KeyRotation: 24 * time.Hour})
			return h, err
		}})
	var tok identity.TokenResponse
	s.Must(http.StatusOK, s.Do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"password"},
		"username": {"admin@test.example"}, "password": {password}}, &tok))
	if tok.Profile == nil || tok.Profile.Role != "ambito_admin" || tok.Profile.OrganizationKind != "azienda" {
		t.Errorf("token profile = %+v, want ambito_admin in the azienda", tok.Profile)
	}

	// Now that the service has sealed signing keys, another master key is refused.
	t.Setenv("CSI_IDENTITY_MASTER_KEY", base64.StdEncoding.EncodeToString(newKey()))
	if _, _, err := runBootstrap(t, args()...); err == nil || !strings.Contains(err.Error(), "does not open the stored signing keys") {
		t.Errorf("bootstrap with another master key = %v, want it refused", err)
	}
	t.Setenv("CSI_IDENTITY_MASTER_KEY", "c2hvcnQ=")
	if _, _, err := runBootstrap(t, args()...); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("bootstrap with a short master key = %v, want it refused", err)
	}
}

// TestBootstrapEnvironment runs the bootstrap from the CSI_BOOTSTRAP_... variables and
// CSI_DATABASE_URL alone, as in a pod of the service.
func TestBootstrapEnvironment(t *testing.T) {
	dbURL := pgtest.NewURL(t)
	fiscal, err := codicefiscale.Compute("Bianchi", "Luca", time.Date(1975, 3, 2, 0, 0, 0, 0, time.UTC), codicefiscale.Male, "F205")
	if err != nil {
		t.Fatal(err)
	}
	for name, value := range map[string]string{
		"CSI_DATABASE_URL":                dbURL,
		"CSI_IDENTITY_MASTER_KEY":         base64.StdEncoding.EncodeToString(newKey()),
		"CSI_BOOTSTRAP_AMBITO_CODE":       "ambito-env",
		"CSI_BOOTSTRAP_AMBITO_NAME":       "Ambito Env",
		"CSI_BOOTSTRAP_AZIENDA_NAME":      "Azienda Speciale Env",
		"CSI_BOOTSTRAP_ADMIN_EMAIL":       "admin@env.example",
		"CSI_BOOTSTRAP_ADMIN_PASSWORD":    "Sicura-Parola-42!",
		"CSI_BOOTSTRAP_ADMIN_FISCAL_CODE": fiscal,
		"CSI_BOOTSTRAP_ADMIN_GIVEN_NAME":  "Luca",
		"CSI_BOOTSTRAP_ADMIN_FAMILY_NAME": "Bianchi",
	} {
		t.Setenv(name, value)
	}
	out, _, err := runBootstrap(t)
	if err != nil {
		t.Fatalf("bootstrap from the environment: %v", err)
	}
	for _, s := range []string{`created ambito "ambito-env"`, "Azienda Speciale Env", "Luca Bianchi <admin@env.example>"} {
		if !strings.Contains(out, s) {
			t.Errorf("bootstrap printed %q, want %q in it", out, s)
		}
	}
}

func TestBootstrapUsage(t *testing.T) {
	t.Setenv("CSI_DATABASE_URL", "")
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr error
		wantOut string // on stderr
	}{
		{name: "help", args: []string{"-h"}, wantErr: flag.ErrHelp, wantOut: "Usage: identity bootstrap"},
		{name: "unknown flag", args: []string{"-nope"}, wantErr: errUsage, wantOut: "-nope"},
		{name: "positional argument", args: []string{"extra"}, wantErr: errUsage, wantOut: "unexpected arguments"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, errOut, err := runBootstrap(t, tc.args...)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("bootstrap %q = %v, want %v", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(errOut, tc.wantOut) {
				t.Errorf("bootstrap %q printed %q, want %q in it", tc.args, errOut, tc.wantOut)
			}
		})
	}
}
