package identity_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/metrics/metricstest"
	"github.com/csi-lombardia/csi/pkg/openapitest"

	"github.com/csi-lombardia/csi/services/identity"
)

// TestRoleMatrix calls every endpoint with every role (and with a machine client and no token)
// and checks the status: DESIGN.md "Authorization".
func TestRoleMatrix(t *testing.T) {
	s := newSuite(t)
	var cl identity.ClientWithSecret
	s.must(201, s.do("POST", "/v1/clients", s.admin, map[string]any{"name": "Reporting", "scopes": []string{"events:read", "accreditations:read", "organizations:read"}}, &cl))
	var ctr identity.TokenResponse
	s.must(200, s.do("POST", "/v1/oauth/token", "", url.Values{"grant_type": {"client_credentials"}, "client_id": {cl.ID.String()}, "client_secret": {cl.Secret}}, &ctr))

	// Fixtures the calls act on: an educator of coop A (the coordinator's cooperative).
	educator := s.createOperator(s.admin, s.coopA.ID, auth.RoleEducator, false)
	var acc identity.Accreditation
	s.must(201, s.do("POST", "/v1/accreditations", s.admin, map[string]any{"cooperative_id": s.coopA.ID, "service_type": "SAD",
		"valid_from": "2025-01-01", "hourly_tariff_cents": 2300}, &acc))

	const (
		A   = "admin"    // ambito administrator only
		M   = "managers" // ambito administrator and coordinator
		ANY = "operators"
	)
	type call struct {
		name, method, path string
		body               func() any
		allowed            string
		okStatus           int
		client             int // status for the machine client
		hdr                []string
	}
	calls := []call{
		{"me", "GET", "/v1/me", nil, ANY, 200, 403, nil},
		{"list ambiti", "GET", "/v1/ambiti", nil, ANY, 200, 403, nil},
		{"get ambito", "GET", "/v1/ambiti/" + s.ambito.ID.String(), nil, ANY, 200, 403, nil},
		{"list organizations", "GET", "/v1/organizations", nil, ANY, 200, 200, nil},
		{"get organization", "GET", "/v1/organizations/" + s.coopA.ID.String(), nil, ANY, 200, 200, nil},
		{"create organization", "POST", "/v1/organizations", func() any {
			return map[string]any{"kind": "ats", "name": fmt.Sprintf("ATS %d", seq.Add(1))}
		}, A, 201, 403, nil},
		{"update organization", "PATCH", "/v1/organizations/" + s.ats.ID.String(), func() any { return map[string]any{"email": "ats@example.org"} }, A, 200, 403, []string{"If-Match", "*"}},
		{"list accreditations", "GET", "/v1/accreditations", nil, ANY, 200, 200, nil},
		{"get accreditation", "GET", "/v1/accreditations/" + acc.ID.String(), nil, ANY, 200, 200, nil},
		{"create accreditation", "POST", "/v1/accreditations", func() any {
			return map[string]any{"cooperative_id": s.coopA.ID, "service_type": "ADM", "valid_from": "2025-01-01", "hourly_tariff_cents": 2500}
		}, A, 201, 403, nil},
		{"update accreditation", "PATCH", "/v1/accreditations/" + acc.ID.String(), func() any { return map[string]any{"hourly_tariff_cents": 2400} }, A, 200, 403, []string{"If-Match", "*"}},
		{"list operators", "GET", "/v1/operators", nil, M, 200, 403, nil},
		{"get operator", "GET", "/v1/operators/" + educator.ID.String(), nil, M, 200, 403, nil},
		{"create operator", "POST", "/v1/operators", func() any { return s.operatorBody(s.coopA.ID, auth.RoleEducator, false) }, M, 201, 403, nil},
		{"update operator", "PATCH", "/v1/operators/" + educator.ID.String(), func() any { return map[string]any{"phone": "02 555"} }, M, 200, 403, []string{"If-Match", "*"}},
		{"add profile", "POST", "/v1/operators/" + educator.ID.String() + "/profiles", func() any {
			return map[string]any{"organization_id": s.coopA.ID, "role": "oss", "valid_from": "2025-01-01"}
		}, M, 201, 403, nil},
		{"reset password", "POST", "/v1/operators/" + educator.ID.String() + "/password", func() any { return map[string]any{"new_password": "Nuova-Parola-Sicura-5"} }, M, 204, 403, nil},
		{"import operators", "POST", "/v1/operators:import?organization_id=" + s.coopA.ID.String() + "&role=educator", func() any {
			fiscal, given, family, email := person(t)
			return fmt.Sprintf("fiscal_code,given_name,family_name,email\n%s,%s,%s,%s\n", fiscal, given, family, email)
		}, M, 201, 403, []string{"Content-Type", "text/csv"}},
		{"list clients", "GET", "/v1/clients", nil, A, 200, 403, nil},
		{"create client", "POST", "/v1/clients", func() any { return map[string]any{"name": "X", "scopes": []string{"events:read"}} }, A, 201, 403, nil},
		{"events feed", "GET", "/v1/events", nil, "nobody", 200, 200, nil},
		{"audit trail", "GET", "/v1/audit", nil, "privacy", 200, 403, nil},
		{"verify audit trail", "GET", "/v1/audit:verify", nil, "privacy", 200, 403, nil},
	}
	allowed := func(c call, role auth.Role) bool {
		switch c.allowed {
		case ANY:
			return true
		case A:
			return role == auth.RoleAmbitoAdmin
		case M:
			return role == auth.RoleAmbitoAdmin || role == auth.RoleCoopCoordinator
		case "privacy":
			return role == auth.RolePrivacyOfficer
		}
		return false
	}
	// ETags move as the matrix updates things: "*" is replaced by the current version.
	current := func(c call) []string {
		if len(c.hdr) == 2 && c.hdr[1] == "*" {
			resp := s.do("GET", c.path, s.admin, nil, nil)
			return []string{"If-Match", resp.Header.Get("ETag")}
		}
		return c.hdr
	}
	covered := map[string]bool{}
	for _, c := range calls {
		covered[c.method+" "+c.path] = true
		t.Run(c.name, func(t *testing.T) {
			for _, role := range auth.Roles {
				var body any
				if c.body != nil {
					body = c.body()
				}
				want := 403
				if allowed(c, role) {
					want = c.okStatus
				}
				if resp := s.do(c.method, c.path, s.tokens[role], body, nil, current(c)...); resp.StatusCode != want {
					t.Errorf("%s: %s %s = %d, want %d", role, c.method, c.path, resp.StatusCode, want)
				}
			}
			var body any
			if c.body != nil {
				body = c.body()
			}
			if resp := s.do(c.method, c.path, ctr.AccessToken, body, nil, current(c)...); resp.StatusCode != c.client {
				t.Errorf("client: %s %s = %d, want %d", c.method, c.path, resp.StatusCode, c.client)
			}
			if resp := s.do(c.method, c.path, "", body, nil, current(c)...); resp.StatusCode != 401 {
				t.Errorf("no token: %s %s = %d, want 401", c.method, c.path, resp.StatusCode)
			}
		})
	}
	// Every authenticated operation of the contract is in the matrix (the token endpoints and
	// the open ones have their own tests).
	skip := map[string]bool{"POST /v1/oauth/token": true, "POST /v1/oauth/revoke": true, "POST /v1/me/password": true,
		"DELETE /v1/operators/{id}/profiles/{profile_id}": true, "POST /v1/clients/{id}/secret": true, "DELETE /v1/clients/{id}": true}
	contract := openapitest.Load(t, identity.OpenAPI())
	templates := map[string]bool{}
	for _, c := range calls {
		templates[c.method+" "+templateOf(c.path)] = true
	}
	for _, op := range contract.Operations() {
		key := op.Method + " " + op.Path
		if slices.Contains(auth.OpenPaths, op.Path) || skip[key] {
			continue
		}
		if !templates[key] {
			t.Errorf("the role matrix does not cover %s", key)
		}
	}
	// The document names, for each operation, the scopes that admit a machine client: the
	// matrix's client (it holds cl.Scopes) must be admitted exactly where the document says so.
	ops := map[string]openapitest.Operation{}
	for _, op := range contract.Operations() {
		ops[op.Method+" "+op.Path] = op
	}
	for _, c := range calls {
		op := ops[c.method+" "+templateOf(c.path)]
		documented := slices.ContainsFunc(contract.Scopes(op), func(sc string) bool { return slices.Contains(cl.Scopes, sc) })
		if admitted := c.client != 403; admitted != documented {
			t.Errorf("%s: a client with %v is admitted: %v; the document's security (%v) says %v", op, cl.Scopes, admitted, contract.Scopes(op), documented)
		}
	}
}

// TestClientScopesDocumented: the scopes identity grants (DefaultClientScopes) are the enum of
// ClientScope in the document, and every scope identity itself requires is among them.
func TestClientScopesDocumented(t *testing.T) {
	contract := openapitest.Load(t, identity.OpenAPI())
	got, want := slices.Sorted(slices.Values(contract.Enum("ClientScope"))), slices.Sorted(slices.Values(identity.DefaultClientScopes))
	if !slices.Equal(got, want) {
		t.Errorf("ClientScope enum = %v, want DefaultClientScopes %v", got, want)
	}
	for _, sc := range contract.DeclaredScopes() {
		if !slices.Contains(identity.DefaultClientScopes, sc) {
			t.Errorf("identity requires %q, which it cannot grant", sc)
		}
	}
}

// templateOf turns "/v1/operators/<uuid>?x=1" into "/v1/operators/{id}".
func templateOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if _, err := uuid.Parse(p); err == nil {
			parts[i] = "{id}"
		}
	}
	return strings.Join(parts, "/")
}

// TestDashboardMetricsServed: after a few requests, /metrics serves every metric the chart's
// Grafana dashboard queries.
func TestDashboardMetricsServed(t *testing.T) {
	s := newSuite(t)
	s.must(200, s.do("GET", "/v1/me", s.admin, nil, nil))
	s.must(401, s.do("GET", "/v1/me", "", nil, nil))
	metricstest.CheckDashboard(t, s.srv.Client(), s.srv.URL+"/metrics", "../../charts/test/testdata/identity-dashboard-metrics.txt")
}
