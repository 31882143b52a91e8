package intake_test

import (
	"encoding/json"
	"maps"
	"net/http"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/intake"
)

func decodeProblem(t testing.TB, resp *http.Response) problem {
	t.Helper()
	var p problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	return p
}

// changed returns a copy of body with the changes (nil deletes a member).
func changed(body map[string]any, changes map[string]any) map[string]any {
	out := maps.Clone(body)
	for k, v := range changes {
		if v == nil {
			delete(out, k)
		} else {
			out[k] = v
		}
	}
	return out
}

// TestNeedsFollowTheTaxonomyVersion: an access is coded with a version of the taxonomy and
// every code is checked against that version: a need added in version 2 is refused with
// taxonomy_version 1 (naming needs[i]) and accepted with 2 and by default (the latest).
func TestNeedsFollowTheTaxonomyVersion(t *testing.T) {
	s := newSuite(t)
	admin, sw := s.tok(auth.RoleAmbitoAdmin), s.tok(auth.RoleSocialWorker)
	var v2 intake.Taxonomy
	s.Must(201, s.Do("POST", "/v1/needs-taxonomy/versions", admin, map[string]any{"areas": []map[string]any{
		{"code": "MIN", "needs": []map[string]any{{"code": "MIN.09", "label": "Spazio neutro per incontri protetti"}}},
		{"code": "SAM", "label": "Salute mentale", "national_area": "disability", "benefit_area": 2,
			"needs": []map[string]any{{"code": "SAM.01", "label": "Inserimento in residenzialità leggera"}}},
	}}, &v2))
	if v2.Version != 2 {
		t.Fatalf("new version = %d, want 2", v2.Version)
	}
	cid := s.citizen()
	base := accessBody(cid)
	tests := []struct {
		name    string
		changes map[string]any
		status  int
		fields  []string
		version int
	}{
		{"base need, version 1", map[string]any{"taxonomy_version": 1}, 201, nil, 1},
		{"new need, version 1", map[string]any{"taxonomy_version": 1, "needs": []string{"ANZ.01", "MIN.09"}}, 400, []string{"needs[1]"}, 0},
		{"new need, version 2", map[string]any{"taxonomy_version": 2, "needs": []string{"ANZ.01", "MIN.09"}}, 201, nil, 2},
		{"new need, latest by default", map[string]any{"needs": []string{"MIN.09"}}, 201, nil, 2},
		{"new area, version 1", map[string]any{"taxonomy_version": 1, "requested_area": "SAM", "needs": []string{"SAM.01"}}, 400,
			[]string{"requested_area", "needs[0]"}, 0},
		{"new area, version 2", map[string]any{"taxonomy_version": 2, "requested_area": "SAM", "needs": []string{"SAM.01"}}, 201, nil, 2},
		{"version not made", map[string]any{"taxonomy_version": 3}, 400, []string{"taxonomy_version"}, 0},
		{"unknown need", map[string]any{"needs": []string{"ANZ.99"}}, 400, []string{"needs[0]"}, 0},
		{"need repeated", map[string]any{"needs": []string{"ANZ.01", "ANZ.01"}}, 400, []string{"needs[1]"}, 0},
		{"no needs", map[string]any{"needs": []string{}}, 400, []string{"needs"}, 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a intake.Access
			resp := s.Do("POST", "/v1/accesses", sw, changed(base, tc.changes), &a)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status != 201 {
				if got := decodeProblem(t, resp).Fields(); !slices.Equal(got, tc.fields) {
					t.Errorf("fields = %v, want %v", got, tc.fields)
				}
				return
			}
			if a.TaxonomyVersion != tc.version {
				t.Errorf("taxonomy_version = %d, want %d", a.TaxonomyVersion, tc.version)
			}
		})
	}
	t.Run("a change keeps the access's version", func(t *testing.T) {
		a := s.createAccess(sw, changed(base, map[string]any{"taxonomy_version": 1}))
		path := "/v1/accesses/" + a.ID.String()
		resp := s.Do("PATCH", path, sw, map[string]any{"needs": []string{"MIN.09"}}, nil, "If-Match", s.ETag(path, sw))
		if resp.StatusCode != 400 || !slices.Equal(decodeProblem(t, resp).Fields(), []string{"needs[0]"}) {
			t.Errorf("PATCH with a version 2 need of a version 1 access = %d, want 400 naming needs[0]", resp.StatusCode)
		}
	})
	t.Run("the versions", func(t *testing.T) {
		var list struct{ Items []intake.TaxonomyVersion }
		s.Must(200, s.Do("GET", "/v1/needs-taxonomy/versions", sw, nil, &list))
		var got []int
		for _, v := range list.Items {
			got = append(got, v.Version)
		}
		if !slices.Equal(got, []int{1, 2}) || !list.Items[0].Base || list.Items[1].Needs != list.Items[0].Needs+2 {
			t.Errorf("versions = %+v", list.Items)
		}
		for _, tc := range []struct {
			query string
			has   bool
		}{{"?version=1", false}, {"?version=2", true}, {"", true}} {
			var tax intake.Taxonomy
			s.Must(200, s.Do("GET", "/v1/needs-taxonomy"+tc.query, sw, nil, &tax))
			if _, _, ok := tax.Need("MIN.09"); ok != tc.has {
				t.Errorf("taxonomy%s has MIN.09: %v, want %v", tc.query, ok, tc.has)
			}
		}
		s.Must(404, s.Do("GET", "/v1/needs-taxonomy?version=3", sw, nil, nil))
	})
	t.Run("another ambito does not see the version", func(t *testing.T) {
		c := s.Claims(auth.RoleSocialWorker)
		c.AmbitoID = uuid.NewString()
		var tax intake.Taxonomy
		s.Must(200, s.Do("GET", "/v1/needs-taxonomy", s.Iss.Token(t, c), nil, &tax))
		if tax.Version != 1 {
			t.Errorf("another ambito's latest = %d, want 1", tax.Version)
		}
	})
	t.Run("an extension is checked", func(t *testing.T) {
		resp := s.Do("POST", "/v1/needs-taxonomy/versions", admin, map[string]any{"areas": []map[string]any{
			{"code": "MIN", "needs": []map[string]any{{"code": "MIN.09", "label": "di nuovo"}}}}}, nil)
		if resp.StatusCode != 400 || !slices.Equal(decodeProblem(t, resp).Fields(), []string{"areas[0].needs[0].code"}) {
			t.Errorf("a need already in version 2 = %d, want 400 naming areas[0].needs[0].code", resp.StatusCode)
		}
	})
}

// TestScoresFollowTheScaleVersion: the answers and the scale version are stored, the scores
// computed from them: the same IADL answers score 8 with version 1 and 7 with version 2 (the
// Italian protocol scores "needs help with all home tasks" 0).
func TestScoresFollowTheScaleVersion(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	c := s.openCase(sw, caseBody(s.citizen()))
	path := "/v1/cases/" + c.ID.String() + "/assessments"
	tests := []struct {
		name        string
		version     int
		wantVersion int
		score, lost int
	}{
		{"iadl version 1", 1, 1, 8, 0},
		{"iadl version 2", 2, 2, 7, 1},
		{"iadl latest", 0, 2, 7, 1},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a intake.Assessment
			s.Must(201, s.Do("POST", path, sw, assessmentBody(tc.version), &a))
			var read intake.Assessment
			s.Must(200, s.Do("GET", path+"/"+a.ID.String(), sw, nil, &read))
			for _, got := range []intake.Assessment{a, read} {
				r := got.IADL.Result
				if got.IADL.Version != tc.wantVersion || r.Version != tc.wantVersion || r.Score != tc.score || r.Max != 8 || r.LostFunctions != tc.lost {
					t.Errorf("iadl = %+v %+v, want version %d score %d lost %d", got.IADL, r, tc.wantVersion, tc.score, tc.lost)
				}
				if diff := cmp.Diff(got.IADL.Answers, iadlAnswers); diff != "" {
					t.Errorf("stored answers (-got +want):\n%s", diff)
				}
				if want := (intake.ScaleResult{Scale: "adl", Version: 1, Score: 5, Max: 6, LostFunctions: 1}); *got.ADL.Result != want {
					t.Errorf("adl = %+v, want %+v", *got.ADL.Result, want)
				}
			}
		})
	}
	refused := []struct {
		name   string
		change func(b map[string]any)
		field  string
	}{
		{"unknown version", func(b map[string]any) { b["iadl"] = map[string]any{"version": 3, "answers": iadlAnswers} }, "iadl.version"},
		{"missing answer", func(b map[string]any) {
			answers := maps.Clone(iadlAnswers)
			delete(answers, "telephone")
			b["iadl"] = map[string]any{"answers": answers}
		}, "iadl.answers.telephone"},
		{"unknown option", func(b map[string]any) {
			answers := maps.Clone(adlAnswers)
			answers["continence"] = "sometimes"
			b["adl"] = map[string]any{"answers": answers}
		}, "adl.answers.continence"},
		{"unknown item", func(b map[string]any) {
			answers := maps.Clone(adlAnswers)
			answers["walking"] = "independent"
			b["adl"] = map[string]any{"answers": answers}
		}, "adl.answers.walking"},
		{"unknown area", func(b map[string]any) { b["areas"] = []string{"XYZ"} }, "areas[0]"},
		{"future date", func(b map[string]any) { b["assessed_on"] = "2099-01-01" }, "assessed_on"},
		{"invalidity over 100", func(b map[string]any) { b["invalidity"] = map[string]any{"status": "total", "percent": 101} }, "invalidity.percent"},
		{"unknown benefit", func(b map[string]any) { b["benefits_received"] = []string{"lottery"} }, "benefits_received[0]"},
	}
	for _, tc := range refused {
		t.Run(tc.name, func(t *testing.T) {
			b := assessmentBody(0)
			tc.change(b)
			resp := s.Do("POST", path, sw, b, nil)
			if resp.StatusCode != 400 {
				t.Fatalf("status = %d, want 400", resp.StatusCode)
			}
			if got := decodeProblem(t, resp).Fields(); !slices.Equal(got, []string{tc.field}) {
				t.Errorf("fields = %v, want [%s]", got, tc.field)
			}
		})
	}
}

// TestClosedCaseIsReadOnly: after its closure every change of a case is a 409 (code
// case_closed) and nothing is written, until it is reopened; its history is kept.
func TestClosedCaseIsReadOnly(t *testing.T) {
	s := newSuite(t)
	sw, sm := s.tok(auth.RoleSocialWorker), s.tok(auth.RoleServiceManager)
	c := s.openCase(sw, caseBody(s.citizen()))
	cp := "/v1/cases/" + c.ID.String()
	s.Must(200, s.Do("PUT", cp+"/plan", sw, planBody(s.Coop), nil))
	s.Must(200, s.Do("POST", cp+"/status", sw, map[string]any{"status": "suspended", "reason": "hospitalization", "on": "2025-04-01"}, nil))
	closure := map[string]any{"closed_on": "2025-06-30", "results_reached": []string{"rientro a domicilio"},
		"results_not_reached": []string{"autonomia nei trasporti"}, "closure_reason": "goals_reached", "new_project_follows": true}
	var closed intake.Case
	s.Must(200, s.Do("POST", cp+"/closure", sw, closure, &closed))
	if closed.Status != intake.StatusClosed || closed.Closure == nil || closed.Closure.Reason != "goals_reached" {
		t.Fatalf("closed case %+v", closed)
	}
	tables := []string{"cases", "case_plans", "diary_entries", "assessments", "case_transfers", "case_status_history", "case_closures", "outbox"}
	counts := func() map[string]int {
		m := map[string]int{}
		for _, tb := range tables {
			m[tb] = s.Count("SELECT count(*) FROM " + tb)
		}
		m["version"] = s.Count("SELECT version FROM cases WHERE id = $1", c.ID)
		return m
	}
	before := counts()
	writes := []struct {
		name, method, path, token string
		body                      any
		ifMatch                   bool
	}{
		{"patch", "PATCH", cp, sw, map[string]any{"notes": "x"}, true},
		{"plan", "PUT", cp + "/plan", sw, planBody(s.Coop), true},
		{"diary", "POST", cp + "/diary", sw, map[string]any{"entry_on": "2025-07-01", "text": "x", "visibility": "team"}, false},
		{"assessment", "POST", cp + "/assessments", sw, assessmentBody(0), false},
		{"transfer", "POST", cp + "/transfer", sm, map[string]any{"to_comune": bergamo, "reason": "trasferimento di residenza"}, false},
		{"suspension", "POST", cp + "/status", sw, map[string]any{"status": "suspended", "reason": "user_request"}, false},
		{"closure again", "POST", cp + "/closure", sw, closure, false},
	}
	for _, w := range writes {
		t.Run(w.name, func(t *testing.T) {
			var h []string
			if w.ifMatch {
				h = []string{"If-Match", s.ETag(w.path, sw)}
			}
			resp := s.Do(w.method, w.path, w.token, w.body, nil, h...)
			if resp.StatusCode != 409 {
				t.Fatalf("%s %s = %d, want 409", w.method, w.path, resp.StatusCode)
			}
			var p map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&p)
			if p["code"] != "case_closed" || p["type"] != "urn:csi:problem:failed_precondition" {
				t.Errorf("problem %v, want code case_closed", p)
			}
		})
	}
	if diff := cmp.Diff(counts(), before); diff != "" {
		t.Errorf("refused writes changed rows (-got +want):\n%s", diff)
	}
	var reopened intake.Case
	s.Must(200, s.Do("POST", cp+"/status", sw, map[string]any{"status": "open", "reason": "nuova richiesta della famiglia", "on": "2025-09-01"}, &reopened))
	var got []string
	for _, h := range reopened.StatusHistory {
		got = append(got, h.Status+" "+h.On)
	}
	want := []string{"open 2025-03-11", "suspended 2025-04-01", "closed 2025-06-30", "open 2025-09-01"}
	if !slices.Equal(got, want) {
		t.Errorf("status history = %v, want %v", got, want)
	}
	if reopened.Status != intake.StatusOpen || reopened.Closure == nil || reopened.Closure.ClosedOn != "2025-06-30" {
		t.Errorf("reopened %+v: the last closure stays", reopened)
	}
	s.Must(201, s.Do("POST", cp+"/diary", sw, map[string]any{"entry_on": "2025-09-02", "text": "ripresa", "visibility": "team"}, nil))
	s.Must(200, s.Do("PUT", cp+"/plan", sw, planBody(s.Coop), nil, "If-Match", s.ETag(cp+"/plan", sw)))
	if n := s.Count("SELECT count(*) FROM outbox WHERE type = 'case.closed' AND aggregate_id = $1", c.ID.String()); n != 1 {
		t.Errorf("case.closed events = %d, want 1", n)
	}
	if n := s.Count("SELECT count(*) FROM outbox WHERE type = 'case.status_changed' AND aggregate_id = $1", c.ID.String()); n != 3 {
		t.Errorf("case.status_changed events = %d, want 3", n)
	}
	t.Run("status rules", func(t *testing.T) {
		for _, tc := range []struct {
			name   string
			body   map[string]any
			status int
		}{
			{"open again", map[string]any{"status": "open"}, 409},
			{"closed by status", map[string]any{"status": "closed"}, 400},
			{"suspension without reason", map[string]any{"status": "suspended"}, 400},
			{"suspension with an unknown reason", map[string]any{"status": "suspended", "reason": "holiday"}, 400},
			{"before the opening", map[string]any{"status": "suspended", "reason": "other", "on": "2025-01-01"}, 400},
		} {
			if resp := s.Do("POST", cp+"/status", sw, tc.body, nil); resp.StatusCode != tc.status {
				t.Errorf("%s: %d, want %d", tc.name, resp.StatusCode, tc.status)
			}
		}
	})
}

// TestRegistryDown: a write that names a citizen asks the registry first; when the registry
// cannot answer, the answer is a 503 with Retry-After and nothing is written. Reads of intake's
// own data go on, and an unknown citizen is a 400 naming citizen_id.
func TestRegistryDown(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	cid := s.citizen()
	c := s.openCase(sw, caseBody(cid))
	anon := s.createAccess(sw, changed(accessBody(uuid.Nil), map[string]any{"citizen_id": nil, "anonymous_contact": map[string]any{"alias": "signora del terzo piano"}}))
	rows := func() map[string]int {
		m := map[string]int{}
		for _, tb := range []string{"accesses", "cases", "case_status_history", "outbox", "idempotency_keys"} {
			m[tb] = s.Count("SELECT count(*) FROM " + tb)
		}
		m["anonymous"] = s.Count("SELECT count(*) FROM accesses WHERE citizen_id IS NULL")
		return m
	}
	s.registry.setDown(true)
	before := rows()
	for _, w := range []struct {
		name, method, path string
		body               any
		headers            []string
	}{
		{"access", "POST", "/v1/accesses", accessBody(cid), []string{"Idempotency-Key", "down-1"}},
		{"case", "POST", "/v1/cases", caseBody(cid), []string{"Idempotency-Key", "down-2"}},
		{"link", "PATCH", "/v1/accesses/" + anon.ID.String(), map[string]any{"citizen_id": cid}, []string{"If-Match", `"1"`}},
		{"case with the citizen", "GET", "/v1/cases/" + c.ID.String() + "?include=citizen", nil, nil},
	} {
		t.Run(w.name, func(t *testing.T) {
			resp := s.Do(w.method, w.path, sw, w.body, nil, w.headers...)
			if resp.StatusCode != 503 || resp.Header.Get("Retry-After") != "7" {
				t.Errorf("%s %s = %d, Retry-After %q; want 503 and 7", w.method, w.path, resp.StatusCode, resp.Header.Get("Retry-After"))
			}
		})
	}
	if diff := cmp.Diff(rows(), before); diff != "" {
		t.Errorf("a write while the registry was down changed rows (-got +want):\n%s", diff)
	}
	calls := s.registry.calls
	s.Must(200, s.Do("GET", "/v1/cases/"+c.ID.String(), sw, nil, nil))
	s.Must(200, s.Do("GET", "/v1/cases", sw, nil, nil))
	s.Must(200, s.Do("GET", "/v1/accesses/"+anon.ID.String(), sw, nil, nil))
	s.createAccess(sw, changed(accessBody(uuid.Nil), map[string]any{"citizen_id": nil, "anonymous_contact": map[string]any{"alias": "anonimo"}}))
	if s.registry.calls != calls {
		t.Errorf("reads and an anonymous access called the registry %d times", s.registry.calls-calls)
	}
	s.registry.setDown(false)
	var withCitizen intake.Case
	s.Must(200, s.Do("GET", "/v1/cases/"+c.ID.String()+"?include=citizen", sw, nil, &withCitizen))
	if withCitizen.Citizen == nil || withCitizen.Citizen.FamilyName != "Rossi" {
		t.Errorf("include=citizen: %+v", withCitizen.Citizen)
	}
	for _, w := range []struct{ path string }{{"/v1/accesses"}, {"/v1/cases"}} {
		body := accessBody(uuid.New())
		if w.path == "/v1/cases" {
			body = caseBody(uuid.New())
		}
		resp := s.Do("POST", w.path, sw, body, nil)
		if resp.StatusCode != 400 || !slices.Equal(decodeProblem(t, resp).Fields(), []string{"citizen_id"}) {
			t.Errorf("POST %s of a citizen the registry does not know = %d, want 400 naming citizen_id", w.path, resp.StatusCode)
		}
	}
}
