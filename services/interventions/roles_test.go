package interventions_test

import (
	"slices"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/metrics/metricstest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// interventions' roles.
var (
	writers   = []auth.Role{auth.RoleSocialWorker, auth.RoleServiceManager}
	coopRoles = []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS}
	readers   = append(append([]auth.Role{auth.RolePlanningOffice}, writers...), coopRoles...)
	refRoles  = append([]auth.Role{auth.RoleAmbitoAdmin, auth.RoleAdministrative}, readers...)
	privacy   = []auth.Role{auth.RolePrivacyOfficer}
	// the readers of the statements
	statementReaders = []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice,
		auth.RoleCoopCoordinator}
	docRoles = append(slices.Clone(writers), coopRoles...)
)

// roleTable is interventions' role × endpoint table (DESIGN.md "Authorization"), on fixtures
// of s: who may call each operation and what they get. TestRoleMatrix and TestContractSweep
// both read it. ATS and Region never reach interventions.
func roleTable(t *testing.T, s *suite) []servicetest.Call {
	sm := s.tok(auth.RoleServiceManager)
	a := s.active(s.body())
	st := s.create(sm, s.body())
	s.Must(200, s.Do("POST", "/v1/authorizations/"+st.ID.String()+"/status", sm, map[string]any{"status": "active", "reason": "PAI approvato"}, nil))
	ap := "/v1/authorizations/" + a.ID.String()
	read := map[string]int{"authorizations": 200}
	return append([]servicetest.Call{
		{Name: "service types", Method: "GET", Path: "/v1/service-types", Roles: refRoles, OK: 200, Clients: read},
		{Name: "create authorization", Method: "POST", Path: "/v1/authorizations", Body: func() any { return s.body() }, Roles: writers, OK: 201},
		{Name: "list authorizations", Method: "GET", Path: "/v1/authorizations", Roles: readers, OK: 200, Clients: read},
		{Name: "get authorization", Method: "GET", Path: ap, Roles: readers, OK: 200, Clients: read},
		{Name: "update authorization", Method: "PATCH", Path: ap, Body: func() any { return map[string]any{"hours": map[string]any{"per_week": 5}} },
			Roles: writers, OK: 200, IfMatch: true},
		{Name: "change status", Method: "POST", Path: "/v1/authorizations/" + st.ID.String() + "/status", Body: func() any {
			var cur interventions.Authorization
			s.Must(200, s.Do("GET", "/v1/authorizations/"+st.ID.String(), sm, nil, &cur))
			if cur.Status == interventions.StatusActive {
				return map[string]any{"status": "suspended", "reason": "ricovero ospedaliero"}
			}
			return map[string]any{"status": "active", "reason": "rientro a domicilio"}
		}, Roles: writers, OK: 200},
		{Name: "versions", Method: "GET", Path: ap + "/versions", Roles: readers, OK: 200, Clients: read},
		{Name: "verify audit", Method: "GET", Path: "/v1/audit:verify", Roles: privacy, OK: 200},
		{Name: "events", Method: "GET", Path: "/v1/events", OK: 200, Clients: map[string]int{"events": 200}},

		{Name: "upload document", Method: "POST", Path: ap + "/documents?kind=report", Body: func() any { return servicetest.Raw{Body: pdfDoc, ContentType: "application/pdf"} },
			Roles: docRoles, OK: 201},
		{Name: "list documents", Method: "GET", Path: ap + "/documents", Roles: docRoles, OK: 200},
		{Name: "link document", Method: "POST", Path: "/v1/documents/" + s.upload(sm, a.ID, "report", pdfDoc, "application/pdf").ID.String() + "/link",
			Roles: docRoles, OK: 200},

		{Name: "add diary entry", Method: "POST", Path: ap + "/diary", Body: func() any {
			return map[string]any{"category": "observation", "text": "Incontro con la famiglia.", "occurred_on": "2025-04-03", "visibility": "team"}
		}, Roles: docRoles, OK: 201},
		{Name: "list diary", Method: "GET", Path: ap + "/diary", Roles: docRoles, OK: 200},
	}, append(visitCalls(s), statementRows(s)...)...) // visits_test.go, statementRows below
}

// statementRows are the statements' rows of the role table: each transition on a month of its
// own (an ADM authorization of the first quarter of 2024), made ready for it.
func statementRows(s *suite) []servicetest.Call {
	coord := s.tok(auth.RoleCoopCoordinator)
	s.authorized(map[string]any{"service_type": "ADM", "period": period("2024-01-01", "2024-03-31")})
	s.authorized(nil)
	toApprove, toReturn := stPath(s.Coop, "2024-01"), stPath(s.Coop, "2024-02")
	s.Must(200, s.Do("POST", toApprove+"/submit", coord, nil, nil))
	s.Must(200, s.Do("POST", toReturn+"/submit", coord, nil, nil))
	p := stPath(s.Coop, "2025-05")
	read := map[string]int{"statements": 200}
	return []servicetest.Call{
		{Name: "list statements", Method: "GET", Path: "/v1/statements?month=2025-05", Roles: statementReaders, OK: 200, Clients: read},
		{Name: "get statement", Method: "GET", Path: p, Roles: statementReaders, OK: 200, Clients: read},
		{Name: "submit statement", Method: "POST", Path: stPath(s.Coop, "2024-03") + "/submit", Roles: []auth.Role{auth.RoleCoopCoordinator}, OK: 200,
			Clients: map[string]int{"statements": 403}},
		{Name: "approve statement", Method: "POST", Path: toApprove + "/approve", Roles: []auth.Role{auth.RoleServiceManager}, OK: 200},
		{Name: "return statement", Method: "POST", Path: toReturn + "/return", Body: func() any { return map[string]any{"notes": "Da rivedere"} },
			Roles: []auth.Role{auth.RoleServiceManager}, OK: 200},
		{Name: "export csv", Method: "GET", Path: p + "/export.csv", Roles: statementReaders, OK: 200, Clients: read},
		{Name: "export xlsx", Method: "GET", Path: p + "/export.xlsx", Roles: statementReaders, OK: 200, Clients: read},
		{Name: "export pdf", Method: "GET", Path: p + "/export.pdf", Roles: statementReaders, OK: 200, Clients: read},
	}
}

// TestRoleMatrix calls every operation with every role, machine clients and no token, and
// checks the status (servicetest.RoleMatrix: the table covers the contract, and each client is
// admitted exactly where the document's security says).
func TestRoleMatrix(t *testing.T) {
	s := newSuite(t)
	s.RoleMatrix(t, roleTable(t, s))
}

// TestDashboardMetricsServed: after a few requests, /metrics serves every metric the chart's
// Grafana dashboard queries.
func TestDashboardMetricsServed(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	a := s.create(sm, s.body())
	for range 2 {
		s.Must(200, s.Do("GET", "/v1/authorizations/"+a.ID.String(), sm, nil, nil))
	}
	s.Must(401, s.Do("GET", "/v1/authorizations", "", nil, nil))
	metricstest.CheckDashboard(t, s.Srv.Client(), s.Srv.URL+"/metrics", "../../charts/test/testdata/interventions-dashboard-metrics.txt")
}
