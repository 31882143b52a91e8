package intake_test

import (
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/metrics/metricstest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/intake"
)

// intake's roles.
var (
	socialService = []auth.Role{auth.RoleSocialWorker, auth.RoleServiceManager}
	accessWriters = append(socialService, auth.RoleAdministrative)
	readers       = append(accessWriters, auth.RolePlanningOffice)
	taxReaders    = append([]auth.Role{auth.RoleAmbitoAdmin}, readers...)
	managers      = []auth.Role{auth.RoleServiceManager}
	diaryReaders  = append(socialService, auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS)
	privacy       = []auth.Role{auth.RolePrivacyOfficer}
	ambitoAdmin   = []auth.Role{auth.RoleAmbitoAdmin}
)

// needSeq numbers the needs the role table adds to the taxonomy (MIN.50, MIN.51, ...).
var needSeq atomic.Int64

// fixtures are the records of the role table: a case c with an access, assessments, plan
// versions naming the suite's cooperative and diary entries of every visibility, and cases for
// the status, closure and transfer rows.
type fixtures struct {
	citizen                     uuid.UUID
	access                      intake.Access
	c, status, closing, transfr intake.Case
	assessment                  intake.Assessment
}

func (s *suite) fixtures(t *testing.T) fixtures {
	sw := s.tok(auth.RoleSocialWorker)
	var fx fixtures
	fx.citizen = s.citizen()
	fx.access = s.createAccess(sw, accessBody(fx.citizen))
	s.createAccess(sw, accessBody(fx.citizen))
	body := caseBody(fx.citizen)
	body["access_id"] = fx.access.ID
	fx.c = s.openCase(sw, body)
	fx.status = s.openCase(sw, caseBody(fx.citizen))
	fx.closing = s.openCase(sw, caseBody(fx.citizen))
	fx.transfr = s.openCase(sw, caseBody(fx.citizen))
	cp := "/v1/cases/" + fx.c.ID.String()
	for range 2 {
		s.Must(201, s.Do("POST", cp+"/assessments", sw, assessmentBody(0), &fx.assessment))
	}
	s.Must(200, s.Do("PUT", cp+"/plan", sw, planBody(s.Coop), nil))
	s.Must(200, s.Do("PUT", cp+"/plan", sw, planBody(s.Coop), nil, "If-Match", s.ETag(cp+"/plan", sw)))
	for _, e := range []map[string]any{
		{"entry_on": "2025-03-12", "text": secretTeam, "visibility": "team"},
		{"entry_on": "2025-03-12", "text": secretService, "visibility": "social_service"},
		{"entry_on": "2025-03-13", "text": sharedCoop, "visibility": "cooperative", "cooperative_id": s.Coop},
		{"entry_on": "2025-03-14", "text": sharedCoop + " (2)", "visibility": "cooperative", "cooperative_id": s.Coop},
	} {
		s.Must(201, s.Do("POST", cp+"/diary", sw, e, nil))
	}
	return fx
}

// roleTable is intake's role × endpoint table (DESIGN.md "Authorization"), on fixtures of s:
// who may call each operation and what they get. TestRoleMatrix and TestContractSweep both
// read it. ATS and Region never reach intake.
func roleTable(t *testing.T, s *suite) []servicetest.Call {
	fx := s.fixtures(t)
	sw := s.tok(auth.RoleSocialWorker)
	cp := "/v1/cases/" + fx.c.ID.String()
	cases := map[string]int{"cases": 200}
	assessments := map[string]int{"assessments": 200}
	tax := map[string]int{"cases": 200, "assessments": 200}
	return []servicetest.Call{
		{Name: "create access", Method: "POST", Path: "/v1/accesses", Body: func() any {
			b := accessBody(fx.citizen)
			delete(b, "summary") // administrative staff write no reserved text
			return b
		}, Roles: accessWriters, OK: 201},
		{Name: "list accesses", Method: "GET", Path: "/v1/accesses", Roles: readers, OK: 200, Clients: cases},
		{Name: "get access", Method: "GET", Path: "/v1/accesses/" + fx.access.ID.String(), Roles: readers, OK: 200, Clients: cases},
		{Name: "update access", Method: "PATCH", Path: "/v1/accesses/" + fx.access.ID.String(), Body: func() any { return map[string]any{"desk": "Sportello nord"} },
			Roles: accessWriters, OK: 200, IfMatch: true},

		{Name: "taxonomy", Method: "GET", Path: "/v1/needs-taxonomy", Roles: taxReaders, OK: 200, Clients: tax},
		{Name: "taxonomy versions", Method: "GET", Path: "/v1/needs-taxonomy/versions", Roles: taxReaders, OK: 200, Clients: tax},
		{Name: "extend taxonomy", Method: "POST", Path: "/v1/needs-taxonomy/versions", Body: func() any {
			code := fmt.Sprintf("MIN.%02d", 50+needSeq.Add(1)%50)
			return map[string]any{"areas": []map[string]any{{"code": "MIN", "needs": []map[string]any{{"code": code, "label": "Bisogno " + code}}}}}
		}, Roles: ambitoAdmin, OK: 201},

		{Name: "open case", Method: "POST", Path: "/v1/cases", Body: func() any { return caseBody(fx.citizen) }, Roles: socialService, OK: 201},
		{Name: "list cases", Method: "GET", Path: "/v1/cases", Roles: readers, OK: 200, Clients: cases},
		{Name: "get case", Method: "GET", Path: cp, Roles: readers, OK: 200, Clients: cases},
		{Name: "update case", Method: "PATCH", Path: cp, Body: func() any { return map[string]any{"notes": secretNotes + " (agg.)"} },
			Roles: socialService, OK: 200, IfMatch: true},
		{Name: "change status", Method: "POST", Path: "/v1/cases/" + fx.status.ID.String() + "/status", Body: func() any {
			var c intake.Case
			s.Must(200, s.Do("GET", "/v1/cases/"+fx.status.ID.String(), sw, nil, &c))
			if c.Status == intake.StatusOpen {
				return map[string]any{"status": "suspended", "reason": "hospitalization"}
			}
			return map[string]any{"status": "open"}
		}, Roles: socialService, OK: 200},
		{Name: "close case", Method: "POST", Path: "/v1/cases/" + fx.closing.ID.String() + "/closure", Body: func() any {
			var c intake.Case
			s.Must(200, s.Do("GET", "/v1/cases/"+fx.closing.ID.String(), sw, nil, &c))
			if c.Status == intake.StatusClosed {
				s.Must(200, s.Do("POST", "/v1/cases/"+fx.closing.ID.String()+"/status", sw, map[string]any{"status": "open"}, nil))
			}
			return map[string]any{"closed_on": "2025-06-30", "results_reached": []string{"autonomia nell'igiene"}, "closure_reason": "goals_reached",
				"new_project_follows": false}
		}, Roles: socialService, OK: 200},
		{Name: "transfer case", Method: "POST", Path: "/v1/cases/" + fx.transfr.ID.String() + "/transfer", Body: func() any {
			return map[string]any{"to_social_worker": uuid.New(), "reason": "riorganizzazione del servizio"}
		}, Roles: managers, OK: 200},
		{Name: "case record", Method: "GET", Path: cp + "/record", Roles: readers, OK: 200, Clients: cases},
		{Name: "case audit", Method: "GET", Path: cp + "/audit", Roles: privacy, OK: 200},

		{Name: "create assessment", Method: "POST", Path: cp + "/assessments", Body: func() any { return assessmentBody(0) }, Roles: socialService, OK: 201},
		{Name: "list assessments", Method: "GET", Path: cp + "/assessments", Roles: readers, OK: 200, Clients: assessments},
		{Name: "get assessment", Method: "GET", Path: cp + "/assessments/" + fx.assessment.ID.String(), Roles: readers, OK: 200, Clients: assessments},

		{Name: "put plan", Method: "PUT", Path: cp + "/plan", Body: func() any { return planBody(s.Coop) }, Roles: socialService, OK: 200, IfMatch: true},
		{Name: "get plan", Method: "GET", Path: cp + "/plan", Roles: readers, OK: 200, Clients: cases},
		{Name: "plan versions", Method: "GET", Path: cp + "/plan/versions", Roles: readers, OK: 200, Clients: cases},
		{Name: "plan version", Method: "GET", Path: cp + "/plan/versions/1", Roles: readers, OK: 200, Clients: cases},

		{Name: "add diary entry", Method: "POST", Path: cp + "/diary", Body: func() any {
			return map[string]any{"entry_on": "2025-03-15", "text": secretService, "visibility": "social_service"}
		}, Roles: socialService, OK: 201},
		{Name: "read diary", Method: "GET", Path: cp + "/diary", Roles: diaryReaders, OK: 200},

		{Name: "verify audit", Method: "GET", Path: "/v1/audit:verify", Roles: privacy, OK: 200},
		{Name: "events", Method: "GET", Path: "/v1/events", OK: 200, Clients: map[string]int{"events": 200}},
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
	sw := s.tok(auth.RoleSocialWorker)
	c := s.openCase(sw, caseBody(s.citizen()))
	for range 2 {
		s.Must(200, s.Do("GET", "/v1/cases/"+c.ID.String(), sw, nil, nil))
	}
	s.Must(401, s.Do("GET", "/v1/cases", "", nil, nil))
	metricstest.CheckDashboard(t, s.Srv.Client(), s.Srv.URL+"/metrics", "../../charts/test/testdata/intake-dashboard-metrics.txt")
}
