package main

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit/audittest"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// TestAuditVerify runs csictl audit verify against the real identity service, with signed
// checkpoints: an intact trail passes; a record deleted behind the service's back is named and
// the command fails; so does a service that cannot be verified.
func TestAuditVerify(t *testing.T) {
	ctx := context.Background()
	t.Setenv("CSI_AUDIT_CHECKPOINT_KEY", base64.StdEncoding.EncodeToString(make([]byte, 32)))
	t.Setenv("CSI_AUDIT_CHECKPOINT_DIR", filepath.Join(t.TempDir(), "checkpoints"))
	t.Setenv("CSI_TOKEN", "")
	t.Setenv("CSI_PASSWORD", "")
	d, err := demo.Generate(demo.DefaultSeed, places.Default())
	if err != nil {
		t.Fatal(err)
	}
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: d.Bootstrap()})
	admin := d.Admin()
	c := idclient.New(srv.URL, nil)
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok.AccessToken)
	aziende, err := c.Organizations(ctx, identity.OrgAzienda)
	if err != nil || len(aziende) != 1 {
		t.Fatalf("aziende: %v, %v", aziende, err)
	}
	po, _ := d.DemoUser(auth.RolePrivacyOfficer)
	if _, err := c.CreateOperator(ctx, identity.OperatorInput{FiscalCode: po.FiscalCode, GivenName: po.GivenName, FamilyName: po.FamilyName,
		Email: po.Email, Password: po.Password, Profiles: []identity.ProfileInput{
			{OrganizationID: aziende[0].ID, Role: auth.RolePrivacyOfficer, ValidFrom: "2024-01-01"}}}); err != nil {
		t.Fatal(err)
	}
	verify := []string{"audit", "verify", "-url", srv.URL, "-email", po.Email, "-password", po.Password, "-service", srv.URL}

	out, errOut, err := runCtl(t, verify...)
	if err != nil {
		t.Fatalf("verify an intact trail: %v\nstdout:\n%s\nstderr:\n%s", err, out, errOut)
	}
	if want := "identity (" + srv.URL + "): OK: "; !strings.HasPrefix(out, want) || !strings.Contains(out, "chains compared with their signed checkpoint") {
		t.Errorf("stdout:\n%s\nwant it to start with %q and mention the checkpoints", out, want)
	}

	// Delete the second record of the first chain, with the triggers disabled.
	pool, err := pgdb.Open(ctx, srv.DatabaseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var chain uuid.UUID
	if err := pool.QueryRow(ctx, `SELECT chain_id FROM audit_records WHERE seq = 3 ORDER BY chain_id LIMIT 1`).Scan(&chain); err != nil {
		t.Fatalf("a chain of 3 records or more: %v", err)
	}
	audittest.Tamper(t, pool, fmt.Sprintf(`DELETE FROM audit_records WHERE chain_id = '%s' AND seq = 2`, chain))

	out, _, err = runCtl(t, verify...)
	if !errors.Is(err, errReported) {
		t.Fatalf("verify a broken trail = %v, want a failure\n%s", err, out)
	}
	for _, want := range []string{
		"identity (" + srv.URL + "): BROKEN: ",
		fmt.Sprintf("  first broken: chain %s seq 2: missing record: seq 2 to 2 missing\n", chain),
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout lacks %q; it is:\n%s", want, out)
		}
	}

	// A service that does not answer is not verified, and the command fails.
	out, _, err = runCtl(t, append(verify[:len(verify)-2], "-service", "http://127.0.0.1:1")...)
	if !errors.Is(err, errReported) || !strings.Contains(out, "http://127.0.0.1:1): NOT VERIFIED: ") {
		t.Errorf("verify an unreachable service = %v, stdout:\n%s", err, out)
	}
}
