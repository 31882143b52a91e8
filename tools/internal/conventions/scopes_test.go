package conventions

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// TestEveryRequiredScopeIsGrantable reads the OpenAPI document of every service: each scope a
// service requires of machine clients (its clientCredentials scheme, and every operation's
// security) must be one identity can grant, or the operation is unreachable for clients with
// the shipped configuration. Each service's own tests check its document against its code.
func TestEveryRequiredScopeIsGrantable(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	docs, err := filepath.Glob(filepath.Join(root, "services", "*", "api", "openapi.yaml"))
	if err != nil || len(docs) < 2 {
		t.Fatalf("service documents: %v, %v", docs, err)
	}
	grantable := identity.DefaultClientScopes
	for _, path := range docs {
		service := filepath.Base(filepath.Dir(filepath.Dir(path)))
		data, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		c := openapitest.Load(t, data)
		declared := c.DeclaredScopes()
		if len(declared) == 0 {
			t.Errorf("%s: the document declares no scopes (a clientCredentials scheme listing them)", service)
		}
		for _, s := range declared {
			if !slices.Contains(grantable, s) {
				t.Errorf("%s requires scope %q, which identity cannot grant (identity.DefaultClientScopes %v)", service, s, grantable)
			}
		}
		for _, op := range c.Operations() {
			for _, s := range c.Scopes(op) {
				if !slices.Contains(declared, s) {
					t.Errorf("%s: %s names scope %q, which the document's oauth2 schemes do not declare", service, op, s)
				}
			}
		}
	}
}
