package identity_test

import (
	"fmt"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/metrics/metricstest"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/servicetest"

	"github.com/csi-lombardia/csi/services/identity"
)

// The roles of identity's operations.
var (
	everyone = auth.Roles
	admins   = []auth.Role{auth.RoleAmbitoAdmin}
	// managers manage operators: the ambito administrator all, a coordinator their cooperative's.
	managers = []auth.Role{auth.RoleAmbitoAdmin, auth.RoleCoopCoordinator}
	privacy  = []auth.Role{auth.RolePrivacyOfficer}
)

// clientScopes are the machine clients of the suite (created and signed in through the API):
// one reading the reference data, one the event feed, one holding a scope identity never asks.
var clientScopes = map[string][]string{"reference": {"organizations:read", "accreditations:read"}, "events": {events.ScopeRead},
	"citizens": {"citizens:read"}, "operators": {identity.ScopeOperatorsRead}}

// roleTable is identity's role × endpoint table (DESIGN.md "Authorization"), on fixtures of s:
// who may call each operation and what they get. TestRoleMatrix and TestContractSweep both read
// it. The fixtures: an educator of coop A (the coordinator's cooperative), two accreditations
// (a list of two pages of one), two machine clients to rotate and to disable.
func roleTable(t *testing.T, s *suite) []servicetest.Call {
	educator := s.createOperator(s.admin, s.coopA.ID, auth.RoleEducator, false)
	var acc identity.Accreditation
	for _, st := range []string{"SAD", "ADM"} {
		s.Must(201, s.Do("POST", "/v1/accreditations", s.admin, map[string]any{"cooperative_id": s.coopA.ID, "service_type": st,
			"valid_from": "2025-01-01", "hourly_tariff_cents": 2300}, &acc))
	}
	var rotated, disabled identity.ClientWithSecret
	s.Must(201, s.Do("POST", "/v1/clients", s.admin, map[string]any{"name": "Rotated", "scopes": []string{"events:read"}}, &rotated))
	s.Must(201, s.Do("POST", "/v1/clients", s.admin, map[string]any{"name": "Disabled", "scopes": []string{"events:read"}}, &disabled))
	op := "/v1/operators/" + educator.ID.String()
	ref := map[string]int{"reference": 200}
	// newProfile gives the educator a profile to end, and returns its path.
	newProfile := func() string {
		var o identity.Operator
		s.Must(201, s.Do("POST", op+"/profiles", s.admin, map[string]any{"organization_id": s.coopA.ID, "role": "oss", "valid_from": "2025-01-01"}, &o))
		return op + "/profiles/" + slices.MaxFunc(o.Profiles, func(a, b identity.Profile) int { return strings.Compare(a.ID.String(), b.ID.String()) }).ID.String()
	}
	return []servicetest.Call{
		{Name: "revoke", Method: "POST", Path: "/v1/oauth/revoke", Body: func() any { return url.Values{"token": {"unknown"}} }, Roles: everyone, OK: 204},
		{Name: "me", Method: "GET", Path: "/v1/me", Roles: everyone, OK: 200},
		{Name: "own password", Method: "POST", Path: "/v1/me/password", Body: func() any {
			return map[string]any{"current_password": password, "new_password": "Nuova-Parola-Sicura-5"}
		}, Roles: everyone, OK: 204},
		{Name: "list ambiti", Method: "GET", Path: "/v1/ambiti", Roles: everyone, OK: 200},
		{Name: "get ambito", Method: "GET", Path: "/v1/ambiti/" + s.ambito.ID.String(), Roles: everyone, OK: 200},
		{Name: "list organizations", Method: "GET", Path: "/v1/organizations", Roles: everyone, OK: 200, Clients: ref},
		{Name: "get organization", Method: "GET", Path: "/v1/organizations/" + s.coopA.ID.String(), Roles: everyone, OK: 200, Clients: ref},
		{Name: "create organization", Method: "POST", Path: "/v1/organizations", Body: func() any {
			return map[string]any{"kind": "ats", "name": fmt.Sprintf("ATS %d", seq.Add(1))}
		}, Roles: admins, OK: 201},
		{Name: "update organization", Method: "PATCH", Path: "/v1/organizations/" + s.ats.ID.String(), Body: func() any {
			return map[string]any{"email": "ats@example.org"}
		}, Roles: admins, OK: 200, IfMatch: true},
		{Name: "list accreditations", Method: "GET", Path: "/v1/accreditations", Roles: everyone, OK: 200, Clients: ref},
		{Name: "get accreditation", Method: "GET", Path: "/v1/accreditations/" + acc.ID.String(), Roles: everyone, OK: 200, Clients: ref},
		{Name: "create accreditation", Method: "POST", Path: "/v1/accreditations", Body: func() any {
			return map[string]any{"cooperative_id": s.coopA.ID, "service_type": "ADM", "valid_from": "2025-01-01", "hourly_tariff_cents": 2500}
		}, Roles: admins, OK: 201},
		{Name: "update accreditation", Method: "PATCH", Path: "/v1/accreditations/" + acc.ID.String(), Body: func() any {
			return map[string]any{"hourly_tariff_cents": 2400}
		}, Roles: admins, OK: 200, IfMatch: true},
		{Name: "list operators", Method: "GET", Path: "/v1/operators", Roles: managers, OK: 200},
		{Name: "get operator", Method: "GET", Path: op, Roles: managers, OK: 200, Clients: map[string]int{"operators": 200}},
		{Name: "create operator", Method: "POST", Path: "/v1/operators", Body: func() any {
			return s.operatorBody(s.coopA.ID, auth.RoleEducator, false)
		}, Roles: managers, OK: 201},
		{Name: "update operator", Method: "PATCH", Path: op, Body: func() any { return map[string]any{"phone": "02 555"} }, Roles: managers, OK: 200, IfMatch: true},
		{Name: "add profile", Method: "POST", Path: op + "/profiles", Body: func() any {
			return map[string]any{"organization_id": s.coopA.ID, "role": "oss", "valid_from": "2025-01-01"}
		}, Roles: managers, OK: 201},
		{Name: "end profile", Method: "DELETE", Path: op + "/profiles/" + educator.Profiles[0].ID.String(), Fresh: newProfile, Roles: managers, OK: 200},
		{Name: "reset password", Method: "POST", Path: op + "/password", Body: func() any {
			return map[string]any{"new_password": "Nuova-Parola-Sicura-5"}
		}, Roles: managers, OK: 204},
		{Name: "import operators", Method: "POST", Path: "/v1/operators:import?organization_id=" + s.coopA.ID.String() + "&role=educator", Body: func() any {
			p, email := person()
			return fmt.Sprintf("fiscal_code,given_name,family_name,email\n%s,%s,%s,%s\n", p.FiscalCode, p.GivenName, p.FamilyName, email)
		}, Roles: managers, OK: 201},
		{Name: "list clients", Method: "GET", Path: "/v1/clients", Roles: admins, OK: 200},
		{Name: "create client", Method: "POST", Path: "/v1/clients", Body: func() any {
			return map[string]any{"name": "X", "scopes": []string{"events:read"}}
		}, Roles: admins, OK: 201},
		{Name: "rotate client secret", Method: "POST", Path: "/v1/clients/" + rotated.ID.String() + "/secret", Roles: admins, OK: 200},
		{Name: "disable client", Method: "DELETE", Path: "/v1/clients/" + disabled.ID.String(), Roles: admins, OK: 204},
		{Name: "events", Method: "GET", Path: "/v1/events", OK: 200, Clients: map[string]int{"events": 200}},
		{Name: "audit trail", Method: "GET", Path: "/v1/audit", Roles: privacy, OK: 200},
		{Name: "verify audit trail", Method: "GET", Path: "/v1/audit:verify", Roles: privacy, OK: 200},
	}
}

// TestRoleMatrix calls every operation with every role (each a real sign-in), every machine
// client and no token, and checks the status (servicetest.RoleMatrix: the table covers the
// contract, and each client is admitted exactly where the document's security says).
func TestRoleMatrix(t *testing.T) {
	s := newSuite(t)
	s.RoleMatrix(t, roleTable(t, s))
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

// TestDashboardMetricsServed: after a few requests, /metrics serves every metric the chart's
// Grafana dashboard queries.
func TestDashboardMetricsServed(t *testing.T) {
	s := newSuite(t)
	s.Must(200, s.Do("GET", "/v1/me", s.admin, nil, nil))
	s.Must(401, s.Do("GET", "/v1/me", "", nil, nil))
	metricstest.CheckDashboard(t, s.Srv.Client(), s.Srv.URL+"/metrics", "../../charts/test/testdata/identity-dashboard-metrics.txt")
}
