package intake_test

import (
	"io"
	"strings"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/intake"
)

var secrets = []string{secretSummary, secretCondition, secretNotes, secretTeam, secretService}

// leaks returns the reserved texts a body contains.
func leaks(body string) []string {
	var out []string
	for _, s := range secrets {
		if strings.Contains(body, s) {
			out = append(out, s)
		}
	}
	return out
}

// TestReservedTextNeverLeaves: the access summary, the current condition, the case notes and
// the diary reach only the social workers and service managers. Every read administrative
// staff, the planning office, machine clients and cooperatives can do is checked whole.
func TestReservedTextNeverLeaves(t *testing.T) {
	s := newSuite(t)
	fx := s.fixtures(t)
	cp := "/v1/cases/" + fx.c.ID.String()
	reads := []string{"/v1/accesses", "/v1/accesses/" + fx.access.ID.String(), "/v1/cases", cp, cp + "/record",
		cp + "/assessments", cp + "/assessments/" + fx.assessment.ID.String(), cp + "/plan", cp + "/plan/versions", cp + "/plan/versions/1", cp + "/diary"}
	read := func(t *testing.T, token, path string) (int, string) {
		resp := s.Do("GET", path, token, nil, nil)
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	t.Run("the social service reads them", func(t *testing.T) {
		all := ""
		for _, p := range reads {
			_, b := read(t, s.tok(auth.RoleSocialWorker), p)
			all += b
		}
		if got := leaks(all); len(got) != len(secrets) {
			t.Errorf("the responsible social worker read %d of the %d reserved texts: %v", len(got), len(secrets), got)
		}
	})
	who := map[string]string{"administrative": s.tok(auth.RoleAdministrative), "planning_office": s.tok(auth.RolePlanningOffice),
		"client cases:read": s.Clients["cases"], "client assessments:read": s.Clients["assessments"]}
	for _, r := range []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS} {
		who[string(r)] = s.tok(r)
	}
	for name, token := range who {
		t.Run(name, func(t *testing.T) {
			served := 0
			for _, p := range reads {
				status, body := read(t, token, p)
				if status == 200 {
					served++
				}
				if got := leaks(body); len(got) > 0 {
					t.Errorf("GET %s (%d) holds reserved text %q", p, status, got)
				}
			}
			if served == 0 {
				t.Errorf("%s could read nothing: the check proves nothing", name)
			}
		})
	}
	t.Run("cooperatives read what is shared with them", func(t *testing.T) {
		var page struct{ Items []intake.DiaryEntry }
		s.Must(200, s.Do("GET", cp+"/diary", s.tok(auth.RoleEducator), nil, &page))
		if len(page.Items) != 2 {
			t.Fatalf("the educator read %d entries, want the 2 shared with the cooperative", len(page.Items))
		}
		for _, e := range page.Items {
			if e.Visibility != "cooperative" || !strings.HasPrefix(e.Text, sharedCoop) {
				t.Errorf("entry %+v", e)
			}
		}
		other := s.Operator(auth.RoleEducator, uuid.New(), "cooperativa", "")
		s.Must(404, s.Do("GET", cp+"/diary", other, nil, nil))
		s.Must(404, s.Do("GET", "/v1/cases/"+fx.status.ID.String()+"/diary", s.tok(auth.RoleEducator), nil, nil))
		s.Must(403, s.Do("GET", cp, s.tok(auth.RoleEducator), nil, nil))
	})
	t.Run("administrative staff write no reserved text", func(t *testing.T) {
		adm := s.tok(auth.RoleAdministrative)
		s.Must(403, s.Do("POST", "/v1/accesses", adm, accessBody(fx.citizen), nil))
		path := "/v1/accesses/" + fx.access.ID.String()
		s.Must(403, s.Do("PATCH", path, adm, map[string]any{"summary": "x"}, nil, "If-Match", s.ETag(path, adm)))
	})
	t.Run("team entries stay in the team", func(t *testing.T) {
		// A social worker of the comune who is not on the case reads the social service's
		// entries, not the team's.
		colleague := s.Operator(auth.RoleSocialWorker, s.Comune, "comune", milano)
		_, body := read(t, colleague, cp+"/diary")
		if strings.Contains(body, secretTeam) || !strings.Contains(body, secretService) {
			t.Errorf("a colleague off the case read %s", body)
		}
		_, body = read(t, s.tok(auth.RoleServiceManager), cp+"/diary")
		if !strings.Contains(body, secretTeam) {
			t.Errorf("the comune's service manager does not read the team's entries")
		}
	})
	t.Run("events carry no reserved text", func(t *testing.T) {
		_, body := read(t, s.Clients["events"], "/v1/events?limit=1000")
		if got := leaks(body); len(got) > 0 || !strings.Contains(body, "plan.versioned") {
			t.Errorf("the feed holds %v", got)
		}
	})
}

// TestEveryReadIsAudited: each read of a person's data, list items included, leaves an audit
// record with the citizen, and the privacy officer reads the trail of a case.
func TestEveryReadIsAudited(t *testing.T) {
	s := newSuite(t)
	fx := s.fixtures(t)
	cp := "/v1/cases/" + fx.c.ID.String()
	adm := s.tok(auth.RoleAdministrative)
	count := func(action string) int {
		return s.Count("SELECT count(*) FROM audit_records WHERE action = $1 AND citizen_id = $2", action, fx.citizen.String())
	}
	for _, tc := range []struct{ path, action string }{
		{"/v1/accesses/" + fx.access.ID.String(), "access.read"},
		{"/v1/accesses", "access.list"},
		{cp, "case.read"},
		{"/v1/cases", "case.list"},
		{cp + "/assessments", "assessment.list"},
		{cp + "/assessments/" + fx.assessment.ID.String(), "assessment.read"},
		{cp + "/plan", "plan.read"},
		{cp + "/record", "record.read"},
	} {
		before := count(tc.action)
		s.Must(200, s.Do("GET", tc.path, adm, nil, nil))
		if count(tc.action) <= before {
			t.Errorf("GET %s left no %s record", tc.path, tc.action)
		}
	}
	var trail struct {
		Items []struct{ Action string }
	}
	s.Must(200, s.Do("GET", cp+"/audit?limit=200", s.tok(auth.RolePrivacyOfficer), nil, &trail))
	seen := map[string]bool{}
	for _, r := range trail.Items {
		seen[r.Action] = true
	}
	for _, a := range []string{"access.create", "case.open", "assessment.create", "plan.update", "diary.create", "record.read"} {
		if !seen[a] {
			t.Errorf("the case's trail has no %s", a)
		}
	}
	s.Must(404, s.Do("GET", "/v1/cases/"+uuid.NewString()+"/audit", s.tok(auth.RolePrivacyOfficer), nil, nil))
}
