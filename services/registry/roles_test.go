package registry_test

import (
	"net/http"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/metrics/metricstest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
)

// The registry's roles.
var (
	readers     = []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice}
	writers     = []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative}
	maintainers = []auth.Role{auth.RoleServiceManager, auth.RoleAdministrative}
	pickers     = append([]auth.Role{auth.RoleAmbitoAdmin}, readers...)
	privacy     = []auth.Role{auth.RolePrivacyOfficer}
)

// roleTable is the registry's role × endpoint table (DESIGN.md "Authorization"), on fixtures of
// s: who may call each operation and what they get. TestRoleMatrix and TestContractSweep both
// read it. Cooperatives, ATS and Region never reach the registry.
func roleTable(t *testing.T, s *suite) []servicetest.Call {
	writer := s.Clients["writer"]
	c := s.createCitizen(writer, citizenBody(milano))
	var im registry.Import
	s.Must(202, s.Do("POST", "/v1/imports?istat_code="+milano, s.Tokens[auth.RoleAdministrative], registerCSV(t, 0, 3, ""), &im))
	s.waitImport(s.Tokens[auth.RoleAdministrative], im.ID.String())
	for range 2 { // audit records of the citizen, for a trail of more than one page
		s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String(), s.Tokens[auth.RoleServiceManager], nil, nil))
	}
	cid := c.ID.String()
	rw := map[string]int{"reader": 200, "writer": 200}
	// waitImport waits for an import a call started, so that the next one does not race it.
	waitImport := func(token string, resp *http.Response) {
		var started registry.Import
		servicetest.Decode(t, resp, &started)
		s.waitImport(token, started.ID.String())
	}
	return []servicetest.Call{
		{Name: "municipalities", Method: "GET", Path: "/v1/municipalities?q=mil", Roles: pickers, OK: 200, Clients: rw},
		{Name: "create citizen", Method: "POST", Path: "/v1/citizens", Body: func() any { return citizenBody(milano) }, Roles: writers, OK: 201,
			Clients: map[string]int{"writer": 201}},
		{Name: "list citizens", Method: "GET", Path: "/v1/citizens?residence_istat=" + milano, Roles: readers, OK: 200, Clients: rw},
		{Name: "search", Method: "POST", Path: "/v1/citizens:search", Body: func() any { return map[string]any{"fiscal_code": c.FiscalCode} },
			Roles: readers, OK: 200, Clients: rw},
		{Name: "get citizen", Method: "GET", Path: "/v1/citizens/" + cid, Roles: readers, OK: 200, Clients: rw},
		{Name: "update citizen", Method: "PATCH", Path: "/v1/citizens/" + cid, Body: func() any { return map[string]any{"phone": "02 555"} },
			Roles: writers, OK: 200, Clients: map[string]int{"writer": 200}, IfMatch: true},
		{Name: "merge", Method: "POST", Path: "/v1/citizens/" + cid + "/merge", Body: func() any { return map[string]any{"other_id": c.ID} },
			Roles: maintainers, OK: 400},
		{Name: "household", Method: "GET", Path: "/v1/citizens/" + cid + "/household", Roles: readers, OK: 200, Clients: rw},
		{Name: "add member", Method: "POST", Path: "/v1/citizens/" + cid + "/household/members", Body: func() any {
			// A new member each time: adding one twice is a 409.
			member := s.createCitizen(writer, citizenBody(milano))
			return map[string]any{"citizen_id": member.ID, "relationship": "child"}
		}, Roles: writers, OK: 201, Clients: map[string]int{"writer": 201}},
		{Name: "pseudonym", Method: "GET", Path: "/v1/citizens/" + cid + "/pseudonyms/reporting", OK: 200, Clients: map[string]int{"pseudonyms": 200}},
		{Name: "audit", Method: "GET", Path: "/v1/citizens/" + cid + "/audit", Roles: privacy, OK: 200},
		{Name: "verify audit", Method: "GET", Path: "/v1/audit:verify", Roles: privacy, OK: 200},
		{Name: "start import", Method: "POST", Path: "/v1/imports?istat_code=" + milano, Body: func() any { return registerCSV(t, 0, 3, "") },
			Roles: maintainers, OK: 202, Clients: map[string]int{"writer": 202}, After: waitImport, Caller: string(auth.RoleAdministrative)},
		{Name: "get import", Method: "GET", Path: "/v1/imports/" + im.ID.String(), Roles: maintainers, OK: 200, Clients: map[string]int{"writer": 200},
			Caller: string(auth.RoleAdministrative)},
		{Name: "events", Method: "GET", Path: "/v1/events", OK: 200, Clients: map[string]int{"events": 200}},
	}
}

// TestRoleMatrix calls every operation with every role, machine clients and no token, and
// checks the status (servicetest.RoleMatrix: the table covers the contract, and each client is
// admitted exactly where the document's security says).
func TestRoleMatrix(t *testing.T) {
	s := newSuite(t, options{})
	s.RoleMatrix(t, roleTable(t, s))
}

// TestDashboardMetricsServed: after a few requests (a citizen read twice, through the cache),
// /metrics serves every metric the chart's Grafana dashboard queries.
func TestDashboardMetricsServed(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleSocialWorker]
	c := s.createCitizen(tok, citizenBody(milano))
	for range 2 {
		s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String(), tok, nil, nil))
	}
	metricstest.CheckDashboard(t, s.Srv.Client(), s.Srv.URL+"/metrics", "../../charts/test/testdata/registry-dashboard-metrics.txt")
}
