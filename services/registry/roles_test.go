package registry_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/metrics/metricstest"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/services/registry"
)

// TestRoleMatrix calls every operation with every role, machine clients and no token, and
// checks the status: DESIGN.md "Authorization". Cooperatives never reach the registry.
func TestRoleMatrix(t *testing.T) {
	s := newSuite(t, options{})
	writer := s.clients["writer"]
	c := s.createCitizen(writer, citizenBody(t, milano))
	var im registry.Import
	s.must(202, s.do("POST", "/v1/imports?istat_code="+milano, s.tokens[auth.RoleAdministrative], registerCSV(t, 0, 3, ""), &im))
	s.waitImport(s.tokens[auth.RoleAdministrative], im.ID.String())

	const (
		R   = "readers"     // the registry's roles: service_manager, social_worker, administrative, planning_office
		W   = "writers"     // service_manager, social_worker, administrative
		M   = "maintainers" // service_manager, administrative
		P   = "pickers"     // readers and ambito_admin
		A   = "admin"
		PRV = "privacy"
		NO  = "nobody"
	)
	cid := c.ID.String()
	type call struct {
		name, method, path string
		body               func() any
		allowed            string
		okStatus           int
		clients            map[string]int // client -> status (403 when absent)
		hdr                bool           // needs If-Match
	}
	calls := []call{
		{"municipalities", "GET", "/v1/municipalities?q=mil", nil, P, 200, map[string]int{"reader": 200, "writer": 200}, false},
		{"create citizen", "POST", "/v1/citizens", func() any { return citizenBody(t, milano) }, W, 201, map[string]int{"writer": 201}, false},
		{"list citizens", "GET", "/v1/citizens?residence_istat=" + milano, nil, R, 200, map[string]int{"reader": 200, "writer": 200}, false},
		{"search", "POST", "/v1/citizens:search", func() any { return map[string]any{"fiscal_code": c.FiscalCode} }, R, 200, map[string]int{"reader": 200, "writer": 200}, false},
		{"get citizen", "GET", "/v1/citizens/" + cid, nil, R, 200, map[string]int{"reader": 200, "writer": 200}, false},
		{"update citizen", "PATCH", "/v1/citizens/" + cid, func() any { return map[string]any{"phone": "02 555"} }, W, 200, map[string]int{"writer": 200}, true},
		{"merge", "POST", "/v1/citizens/" + cid + "/merge", func() any { return map[string]any{"other_id": c.ID} }, M, 400, nil, false},
		{"household", "GET", "/v1/citizens/" + cid + "/household", nil, R, 200, map[string]int{"reader": 200, "writer": 200}, false},
		{"add member", "POST", "/v1/citizens/" + cid + "/household/members", func() any {
			// A new member each time: adding one twice is a 409.
			member := s.createCitizen(writer, citizenBody(t, milano))
			return map[string]any{"citizen_id": member.ID, "relationship": "child"}
		}, W, 201, map[string]int{"writer": 201}, false},
		{"pseudonym", "GET", "/v1/citizens/" + cid + "/pseudonyms/reporting", nil, NO, 200, map[string]int{"pseudonyms": 200}, false},
		{"audit", "GET", "/v1/citizens/" + cid + "/audit", nil, PRV, 200, nil, false},
		{"verify audit", "GET", "/v1/audit:verify", nil, PRV, 200, nil, false},
		{"start import", "POST", "/v1/imports?istat_code=" + milano, func() any { return registerCSV(t, 0, 3, "") }, M, 202, map[string]int{"writer": 202}, false},
		{"get import", "GET", "/v1/imports/" + im.ID.String(), nil, M, 200, map[string]int{"writer": 200}, false},
		{"events", "GET", "/v1/events", nil, NO, 200, map[string]int{"events": 200}, false},
	}
	allowed := func(c call, role auth.Role) bool {
		switch c.allowed {
		case R:
			return slices.Contains([]auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice}, role)
		case W:
			return slices.Contains([]auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative}, role)
		case M:
			return role == auth.RoleServiceManager || role == auth.RoleAdministrative
		case P:
			return slices.Contains([]auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice, auth.RoleAmbitoAdmin}, role)
		case A:
			return role == auth.RoleAmbitoAdmin
		case PRV:
			return role == auth.RolePrivacyOfficer
		}
		return false
	}
	ifMatch := func(c call) []string {
		if !c.hdr {
			return nil
		}
		resp := s.do("GET", c.path, writer, nil, nil)
		return []string{"If-Match", resp.Header.Get("ETag")}
	}
	body := func(c call) any {
		if c.body == nil {
			return nil
		}
		return c.body()
	}
	for _, c := range calls {
		t.Run(c.name, func(t *testing.T) {
			for _, role := range auth.Roles {
				want := 403
				if allowed(c, role) {
					want = c.okStatus
				}
				if c.name == "start import" && want == 202 {
					// Wait for the import so that the next one does not race it.
					resp := s.do(c.method, c.path, s.tokens[role], body(c), &im)
					if resp.StatusCode != want {
						t.Errorf("%s: %s %s = %d, want %d", role, c.method, c.path, resp.StatusCode, want)
					} else {
						s.waitImport(s.tokens[role], im.ID.String())
					}
					continue
				}
				if resp := s.do(c.method, c.path, s.tokens[role], body(c), nil, ifMatch(c)...); resp.StatusCode != want {
					t.Errorf("%s: %s %s = %d, want %d", role, c.method, c.path, resp.StatusCode, want)
				}
			}
			for name, tok := range s.clients {
				want, ok := c.clients[name]
				if !ok {
					want = 403
				}
				var started registry.Import
				if resp := s.do(c.method, c.path, tok, body(c), &started, ifMatch(c)...); resp.StatusCode != want {
					t.Errorf("client %s: %s %s = %d, want %d", name, c.method, c.path, resp.StatusCode, want)
				} else if c.name == "start import" && want == 202 {
					s.waitImport(tok, started.ID.String())
				}
			}
			if resp := s.do(c.method, c.path, "", body(c), nil, ifMatch(c)...); resp.StatusCode != 401 {
				t.Errorf("no token: %s %s = %d, want 401", c.method, c.path, resp.StatusCode)
			}
		})
	}
	// Every authenticated operation of the contract is in the matrix.
	templates := map[string]bool{}
	for _, c := range calls {
		templates[c.method+" "+templateOf(c.path)] = true
	}
	for _, op := range openapitest.Load(t, registry.OpenAPI()).Operations() {
		if slices.Contains(auth.OpenPaths, op.Path) {
			continue
		}
		if !templates[op.Method+" "+op.Path] {
			t.Errorf("the role matrix does not cover %s %s", op.Method, op.Path)
		}
	}
	// The document names, for each operation, the scopes that admit a machine client: each
	// client of the matrix must be admitted exactly where the document says one of its scopes
	// does, and every scope the document declares is held by some client of the matrix.
	contract := openapitest.Load(t, registry.OpenAPI())
	ops := map[string]openapitest.Operation{}
	for _, op := range contract.Operations() {
		ops[op.Method+" "+op.Path] = op
	}
	held := map[string]bool{}
	for _, c := range calls {
		op := ops[c.method+" "+templateOf(c.path)]
		for name, scopes := range clientScopes {
			for _, sc := range scopes {
				held[sc] = true
			}
			documented := slices.ContainsFunc(contract.Scopes(op), func(sc string) bool { return slices.Contains(scopes, sc) })
			_, admitted := c.clients[name]
			if admitted != documented {
				t.Errorf("%s: client %s (%v) is admitted: %v; the document's security (%v) says %v", op, name, scopes, admitted, contract.Scopes(op), documented)
			}
		}
	}
	for _, sc := range contract.DeclaredScopes() {
		if !held[sc] {
			t.Errorf("no client of the matrix holds %q, which the document declares", sc)
		}
	}
}

// templateOf turns "/v1/citizens/<uuid>/pseudonyms/reporting?x=1" into the contract's template.
func templateOf(path string) string {
	path, _, _ = strings.Cut(path, "?")
	parts := strings.Split(path, "/")
	for i, p := range parts {
		if _, err := uuid.Parse(p); err == nil {
			parts[i] = "{id}"
		}
		if i > 0 && parts[i-1] == "pseudonyms" {
			parts[i] = "{purpose}"
		}
	}
	return strings.Join(parts, "/")
}

// TestDashboardMetricsServed: after a few requests (a citizen read twice, through the cache),
// /metrics serves every metric the chart's Grafana dashboard queries.
func TestDashboardMetricsServed(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.tokens[auth.RoleSocialWorker]
	c := s.createCitizen(tok, citizenBody(t, milano))
	for range 2 {
		s.must(200, s.do("GET", "/v1/citizens/"+c.ID.String(), tok, nil, nil))
	}
	metricstest.CheckDashboard(t, s.srv.Client(), s.srv.URL+"/metrics", "../../charts/test/testdata/registry-dashboard-metrics.txt")
}
