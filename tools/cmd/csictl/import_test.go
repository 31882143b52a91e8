package main

import (
	"bytes"
	"context"
	"encoding/csv"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// writeCSV writes rows under the import header to a file and returns its path.
func writeCSV(t *testing.T, name string, rows [][]string) string {
	t.Helper()
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write([]string{"fiscal_code", "given_name", "family_name", "email", "role"})
	_ = w.WriteAll(rows)
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// TestWithService runs the commands that call the identity service against the real one.
func TestWithService(t *testing.T) {
	d, err := demo.Generate(demo.DefaultSeed, places.Default())
	if err != nil {
		t.Fatal(err)
	}
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: d.Bootstrap()})
	ctx := context.Background()
	admin := d.Admin()
	c := idclient.New(srv.URL, nil)
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok.AccessToken)
	coop, err := c.CreateOrganization(ctx, d.Cooperatives[0].Input())
	if err != nil {
		t.Fatal(err)
	}
	t.Run("import-operators", func(t *testing.T) { testImport(t, srv, c, d, coop.ID.String(), tok.AccessToken) })
	t.Run("token", func(t *testing.T) { testToken(t, srv, c, d) })
}

// testImport imports a file in chunks of two rows: the chunk with bad rows is refused and its
// errors are printed with the rows' lines in the whole file; the rest, fixed, is imported.
func testImport(t *testing.T, srv *identitytest.Server, c *idclient.Client, d demo.Data, coopID, token string) {
	ctx := context.Background()
	admin := d.Admin()
	var people [][]string
	for _, p := range d.Operators {
		if p.OrgKey == d.Cooperatives[0].Key && len(people) < 5 {
			people = append(people, []string{p.FiscalCode, p.GivenName, p.FamilyName, p.Email, string(p.Role)})
		}
	}
	bad := make([][]string, len(people))
	for i, p := range people {
		bad[i] = append([]string(nil), p...)
	}
	bad[2][0] = "RSSMRA80A01H264X" // row 3, line 4: wrong check character
	bad[3][3] = "not-an-email"     // row 4, line 5
	t.Setenv("CSI_TOKEN", "")
	t.Setenv("CSI_PASSWORD", "")
	signIn := []string{"-url", srv.URL, "-email", admin.Email, "-password", admin.Password, "-organization", coopID}

	out, errOut, err := runCtl(t, append([]string{"import-operators", "-file", writeCSV(t, "bad.csv", bad), "-chunk", "2"}, signIn...)...)
	if !errors.Is(err, errReported) {
		t.Fatalf("import of a file with bad rows = %v (stdout %q), want it refused", err, out)
	}
	for _, want := range []string{
		"import refused: the request has invalid fields (HTTP 400)\n",
		"\n  rows[4].fiscal_code: is not a valid codice fiscale: check character should be B, not X\n",
		"\n  rows[5].email: must be an e-mail address\n",
		"the chunks before were imported: 2 of 5 rows (rows[2] to rows[3])",
	} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q; it is:\n%s", want, errOut)
		}
	}

	// The rest of the file, fixed, with a token instead of a password.
	t.Setenv("CSI_TOKEN", token)
	out, errOut, err = runCtl(t, "import-operators", "-url", srv.URL, "-organization", coopID,
		"-file", writeCSV(t, "rest.csv", people[2:]), "-chunk", "2")
	if err != nil {
		t.Fatalf("import of the fixed rows: %v\n%s", err, errOut)
	}
	if got, want := out, "imported 3 operators\n"; got != want {
		t.Errorf("stdout = %q, want %q", got, want)
	}
	id := uuid.MustParse(coopID)
	ops, err := c.Operators(ctx, &id, "")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := len(ops), len(people); got != want {
		t.Errorf("%d operators in the cooperative, want %d", got, want)
	}

	// A row repeated in another chunk is refused by the service as a conflict, named by its
	// line in the whole file.
	out, errOut, err = runCtl(t, "import-operators", "-url", srv.URL, "-organization", coopID,
		"-file", writeCSV(t, "again.csv", people[:1]))
	if !errors.Is(err, errReported) || !strings.Contains(errOut, "rows[2].email: or fiscal_code already in use") ||
		!strings.Contains(errOut, "nothing was imported") {
		t.Errorf("import of an existing operator = %v, stdout %q, stderr:\n%s", err, out, errOut)
	}
}

// testToken signs in with csictl token: an operator with two profiles is shown them and picks
// one with -profile; a wrong password is refused.
func testToken(t *testing.T, srv *identitytest.Server, c *idclient.Client, d demo.Data) {
	ctx := context.Background()
	comune, err := c.CreateOrganization(ctx, d.Comuni[0].Input())
	if err != nil {
		t.Fatal(err)
	}
	aziende, err := c.Organizations(ctx, identity.OrgAzienda)
	if err != nil || len(aziende) != 1 {
		t.Fatalf("aziende: %v, %v", aziende, err)
	}
	u, _ := d.DemoUser(auth.RoleSocialWorker)
	op, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: u.FiscalCode, GivenName: u.GivenName, FamilyName: u.FamilyName,
		Email: u.Email, Password: u.Password, Profiles: []identity.ProfileInput{
			{OrganizationID: comune.ID, Role: auth.RoleSocialWorker, ValidFrom: "2024-01-01"},
			{OrganizationID: aziende[0].ID, Role: auth.RoleAdministrative, ValidFrom: "2024-01-01"}}})
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv("CSI_PASSWORD", u.Password)
	base := []string{"token", "-url", srv.URL, "-email", u.Email}

	_, errOut, err := runCtl(t, base...)
	if !errors.Is(err, errReported) {
		t.Fatalf("token without -profile = %v, want the profiles listed", err)
	}
	for _, p := range op.Profiles {
		if want := "-profile " + p.ID.String() + "   " + string(p.Role) + " in " + p.OrganizationName; !strings.Contains(errOut, want) {
			t.Errorf("stderr lacks %q; it is:\n%s", want, errOut)
		}
	}

	out, _, err := runCtl(t, append(base, "-profile", op.Profiles[1].ID.String())...)
	if err != nil {
		t.Fatalf("token -profile: %v", err)
	}
	tok := strings.TrimSuffix(out, "\n")
	if strings.Count(tok, ".") != 2 || strings.ContainsAny(tok, " \n") {
		t.Fatalf("stdout %q is not a token alone", out)
	}
	c2 := idclient.New(srv.URL, nil)
	c2.SetToken(tok)
	if _, err := c2.Organizations(ctx, ""); err != nil {
		t.Errorf("the printed token does not work: %v", err)
	}

	if _, _, err := runCtl(t, append(base, "-password", "Wrong-Password-1")...); err == nil || !strings.Contains(err.Error(), "400") {
		t.Errorf("token with a wrong password = %v, want a 400 (invalid_grant)", err)
	}
}
