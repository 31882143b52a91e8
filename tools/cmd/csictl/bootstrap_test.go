package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// runCtl runs csictl with args and returns what it printed.
func runCtl(t *testing.T, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), args, stdio{out: &out, err: &errOut})
	return out.String(), errOut.String(), err
}

func newKey() string {
	b := make([]byte, 32)
	_, _ = rand.Read(b)
	return base64.StdEncoding.EncodeToString(b)
}

// rowCounts counts what a bootstrap writes.
func rowCounts(t *testing.T, dbURL string) map[string]int {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	out := map[string]int{}
	for _, table := range []string{"ambiti", "organizations", "operators", "profiles"} {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+table).Scan(&n); err != nil {
			t.Fatalf("count %s: %v", table, err)
		}
		out[table] = n
	}
	return out
}

func TestBootstrap(t *testing.T) {
	dbURL := pgtest.NewURL(t)
	key := newKey()
	t.Setenv("CSI_IDENTITY_MASTER_KEY", key)
	t.Setenv("CSI_DATABASE_URL", "")
	t.Setenv("CSI_BOOTSTRAP_ADMIN_PASSWORD", "")
	fiscal, err := codicefiscale.Compute("Verdi", "Anna", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), codicefiscale.Female, "F205")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Sicura-Parola-42!"
	args := func(extra ...string) []string {
		return append([]string{"bootstrap", "-database-url", dbURL, "-ambito-code", "ambito-test", "-ambito-name", "Ambito Test",
			"-email", "admin@test.example", "-fiscal-code", fiscal, "-given-name", "Anna", "-family-name", "Verdi"}, extra...)
	}

	// Refused input writes nothing.
	for _, tc := range []struct {
		name    string
		args    []string
		wantErr string
	}{
		{name: "no ambito code", args: []string{"bootstrap", "-database-url", dbURL, "-ambito-name", "A", "-email", "a@b.example",
			"-fiscal-code", fiscal, "-given-name", "Anna", "-family-name", "Verdi", "-password", password}, wantErr: "missing -ambito-code"},
		{name: "weak password", args: args("-password", "short"), wantErr: "password: must be at least 12 characters long"},
		{name: "password with the name", args: args("-password", "Anna-Verdi-1980"), wantErr: "must not contain your name"},
		{name: "bad fiscal code", args: append(args("-password", password), "-fiscal-code", "RSSMRA80A01H264X"), wantErr: "fiscal_code: is not a valid codice fiscale"},
		{name: "no password and no terminal", args: args(), wantErr: "use -password, set CSI_BOOTSTRAP_ADMIN_PASSWORD"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := runCtl(t, tc.args...)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("bootstrap = %v, want an error with %q", err, tc.wantErr)
			}
		})
	}

	out, _, err := runCtl(t, args("-password", password)...)
	if err != nil {
		t.Fatalf("first bootstrap: %v", err)
	}
	if !strings.Contains(out, `created ambito "ambito-test"`) || !strings.Contains(out, "admin@test.example") {
		t.Errorf("first bootstrap printed %q, want the created ambito and administrator", out)
	}
	want := map[string]int{"ambiti": 1, "organizations": 1, "operators": 1, "profiles": 1}
	if diff := cmp.Diff(rowCounts(t, dbURL), want); diff != "" {
		t.Errorf("rows after the first bootstrap (-got +want):\n%s", diff)
	}

	// Again, without a password (it is not needed): nothing changes.
	out, _, err = runCtl(t, args()...)
	if err != nil {
		t.Fatalf("second bootstrap: %v", err)
	}
	if !strings.Contains(out, "exists already: nothing changed") {
		t.Errorf("second bootstrap printed %q, want nothing changed", out)
	}
	if diff := cmp.Diff(rowCounts(t, dbURL), want); diff != "" {
		t.Errorf("rows after the second bootstrap (-got +want):\n%s", diff)
	}

	// The service started on that database with the same master key signs the administrator in.
	srv := identitytest.Start(t, identitytest.Options{DatabaseURL: dbURL, MasterKey: key})
	c := idclient.New(srv.URL, nil)
	tok, err := c.SignIn(context.Background(), "admin@test.example", password, "")
	if err != nil {
		t.Fatalf("sign in as the bootstrapped administrator: %v", err)
	}
	if tok.Profile == nil || tok.Profile.Role != "ambito_admin" || tok.Profile.OrganizationKind != "azienda" {
		t.Errorf("token profile = %+v, want ambito_admin in the azienda", tok.Profile)
	}

	// Now that the service has sealed signing keys, another master key is refused.
	t.Setenv("CSI_IDENTITY_MASTER_KEY", newKey())
	if _, _, err := runCtl(t, args()...); err == nil || !strings.Contains(err.Error(), "does not open the stored signing keys") {
		t.Errorf("bootstrap with another master key = %v, want it refused", err)
	}
	t.Setenv("CSI_IDENTITY_MASTER_KEY", "c2hvcnQ=")
	if _, _, err := runCtl(t, args()...); err == nil || !strings.Contains(err.Error(), "32 bytes") {
		t.Errorf("bootstrap with a short master key = %v, want it refused", err)
	}
}

func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		name    string
		args    []string
		wantOut string
		wantErr error
	}{
		{name: "help lists the commands", args: []string{"help"}, wantOut: "import-operators"},
		{name: "version", args: []string{"version"}, wantOut: "csictl dev"},
		{name: "no command", args: nil, wantErr: errUsage},
		{name: "unknown command", args: []string{"frobnicate"}, wantErr: errUsage},
		{name: "unknown flag", args: []string{"token", "-nope"}, wantErr: errUsage},
		{name: "import without a file", args: []string{"import-operators"}, wantErr: errUsage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, _, err := runCtl(t, tc.args...)
			if !errors.Is(err, tc.wantErr) {
				t.Errorf("csictl %q = %v, want %v", tc.args, err, tc.wantErr)
			}
			if !strings.Contains(out, tc.wantOut) {
				t.Errorf("csictl %q printed %q, want %q in it", tc.args, out, tc.wantOut)
			}
		})
	}
}
