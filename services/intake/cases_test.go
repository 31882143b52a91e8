package intake_test

import (
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/intake"
)

// operator is a new operator with role in a comune (istat) of the suite's ambito, and its id.
func (s *suite) operator(role auth.Role, istat string) (string, uuid.UUID) {
	id := uuid.New()
	c := auth.Claims{Subject: id.String(), Kind: auth.KindOperator, AmbitoID: s.Ambito.String(), OrgID: uuid.NewString(),
		OrgKind: "comune", ISTATCode: istat, Role: role, ProfileID: uuid.NewString()}
	return s.Iss.Token(s.T, c), id
}

func ids(cases []intake.Case) []uuid.UUID {
	var out []uuid.UUID
	for _, c := range cases {
		out = append(out, c.ID)
	}
	return out
}

// TestCaseScope: a comune's social workers see the comune's cases and those assigned to them
// anywhere; after a transfer to another comune the former comune's operators no longer see the
// case unless it is assigned to them; reassigning is a service manager's.
func TestCaseScope(t *testing.T) {
	s := newSuite(t)
	sw, sm := s.tok(auth.RoleSocialWorker), s.tok(auth.RoleServiceManager)
	bgSW, bgID := s.operator(auth.RoleSocialWorker, bergamo)
	milanoSW2, _ := s.operator(auth.RoleSocialWorker, milano)
	cid := s.citizen()
	c := s.openCase(sw, caseBody(cid))
	assigned := s.openCase(sw, changed(caseBody(cid), map[string]any{"case_manager_id": bgID}))
	list := func(token, query string) []uuid.UUID {
		var p struct{ Items []intake.Case }
		s.Must(200, s.Do("GET", "/v1/cases"+query, token, nil, &p))
		return ids(p.Items)
	}
	cp := "/v1/cases/" + c.ID.String()
	s.Must(404, s.Do("GET", cp, bgSW, nil, nil))
	s.Must(200, s.Do("GET", "/v1/cases/"+assigned.ID.String(), bgSW, nil, nil))
	if got := list(bgSW, ""); !slices.Equal(got, []uuid.UUID{assigned.ID}) {
		t.Errorf("Bergamo's social worker lists %v, want only the case assigned to them", got)
	}
	if got := list(bgSW, "?assigned=me"); !slices.Equal(got, []uuid.UUID{assigned.ID}) {
		t.Errorf("assigned=me lists %v", got)
	}
	if got := list(milanoSW2, ""); !slices.Contains(got, c.ID) || !slices.Contains(got, assigned.ID) {
		t.Errorf("a Milano social worker lists %v, want both Milano cases", got)
	}
	if got := list(milanoSW2, "?assigned=me"); len(got) != 0 {
		t.Errorf("assigned=me of a colleague lists %v", got)
	}
	// Reassigning: a service manager's.
	patch := map[string]any{"responsible_id": uuid.New()}
	s.Must(403, s.Do("PATCH", cp, sw, patch, nil, "If-Match", s.ETag(cp, sw)))
	s.Must(200, s.Do("PATCH", cp, sm, patch, nil, "If-Match", s.ETag(cp, sw)))
	s.Must(403, s.Do("POST", cp+"/transfer", sw, map[string]any{"to_comune": bergamo, "reason": "trasloco"}, nil))
	// Transfer to Bergamo, to Bergamo's social worker.
	var moved intake.Case
	s.Must(200, s.Do("POST", cp+"/transfer", sm, map[string]any{"to_comune": bergamo, "to_social_worker": bgID,
		"reason": "trasferimento di residenza", "on": "2025-05-02"}, &moved))
	if moved.ISTATCode != bergamo || moved.ResponsibleID != bgID || len(moved.Transfers) != 1 || moved.Transfers[0].FromISTAT != milano {
		t.Errorf("moved %+v", moved)
	}
	s.Must(404, s.Do("GET", cp, milanoSW2, nil, nil))
	s.Must(404, s.Do("GET", cp, sm, nil, nil))
	s.Must(200, s.Do("GET", cp, bgSW, nil, nil))
	if got := list(milanoSW2, ""); slices.Contains(got, c.ID) {
		t.Errorf("after the transfer Milano still lists the case")
	}
	// The Milano social worker who opened it is still its case manager: they keep it.
	s.Must(200, s.Do("GET", cp, sw, nil, nil))
	s.Must(404, s.Do("POST", cp+"/transfer", sm, map[string]any{"to_comune": milano, "reason": "ritorno"}, nil))
	if n := s.Count("SELECT count(*) FROM outbox WHERE type = 'case.transferred'"); n != 1 {
		t.Errorf("case.transferred events = %d", n)
	}
	// Another ambito never sees it.
	other := s.Claims(auth.RoleSocialWorker)
	other.AmbitoID = uuid.NewString()
	s.Must(404, s.Do("GET", cp, s.Iss.Token(t, other), nil, nil))
}

// TestAccessRules: the rules of an access record, each refused naming its field.
func TestAccessRules(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	base := accessBody(s.citizen())
	anon := map[string]any{"alias": "Sig.ra B."}
	tests := []struct {
		name    string
		changes map[string]any
		status  int
		fields  []string
	}{
		{"valid", nil, 201, nil},
		{"anonymous", map[string]any{"citizen_id": nil, "anonymous_contact": anon}, 201, nil},
		{"occurred_at", map[string]any{"date": nil, "occurred_at": "2025-03-10T09:30:00+01:00"}, 201, nil},
		{"both citizen and anonymous", map[string]any{"anonymous_contact": anon}, 400, []string{"anonymous_contact"}},
		{"neither citizen nor anonymous", map[string]any{"citizen_id": nil}, 400, []string{"citizen_id"}},
		{"date and occurred_at", map[string]any{"occurred_at": "2025-03-10T09:30:00Z"}, 400, []string{"date"}},
		{"future date", map[string]any{"date": "2099-01-01"}, 400, []string{"date"}},
		{"referral without referred_to", map[string]any{"outcome": map[string]any{"kind": "referral"}}, 400, []string{"outcome.referred_to"}},
		{"referral", map[string]any{"outcome": map[string]any{"kind": "referral", "referred_to": "Consultorio familiare"}}, 201, nil},
		{"taken into care by hand", map[string]any{"outcome": map[string]any{"kind": "taken_into_care"}}, 400, []string{"outcome.kind"}},
		{"unknown channel", map[string]any{"channel": "pigeon"}, 400, []string{"channel"}},
		{"unknown referrer", map[string]any{"referrer": map[string]any{"kind": "neighbour"}}, 400, []string{"referrer.kind"}},
		{"household smaller than its members", map[string]any{"household": map[string]any{"size": 1,
			"composition": []map[string]any{{"relationship": "figlio", "age": 12}, {"relationship": "figlia", "age": 9}}}}, 400, []string{"household.size"}},
		{"member without age", map[string]any{"household": map[string]any{"composition": []map[string]any{{"relationship": "figlio"}}}}, 400,
			[]string{"household.composition[0].age"}},
		{"isee without value", map[string]any{"isee": map[string]any{"type": "ordinario"}}, 400, []string{"isee.value_cents"}},
		{"unknown comune", map[string]any{"istat_code": "999999"}, 400, []string{"istat_code"}},
		{"control character in the desk", map[string]any{"desk": "a\u0007b"}, 400, []string{"desk"}},
		{"another comune", map[string]any{"istat_code": bergamo}, 403, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var a intake.Access
			resp := s.Do("POST", "/v1/accesses", sw, changed(base, tc.changes), &a)
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", resp.StatusCode, tc.status)
			}
			if tc.status == 400 {
				if got := decodeProblem(t, resp).Fields(); !slices.Equal(got, tc.fields) {
					t.Errorf("fields = %v, want %v", got, tc.fields)
				}
			}
		})
	}
	t.Run("occurred_at gives the day in Rome", func(t *testing.T) {
		a := s.createAccess(sw, changed(base, map[string]any{"date": nil, "occurred_at": "2025-03-10T23:30:00Z"}))
		if a.Date != "2025-03-11" || a.OccurredAt == nil {
			t.Errorf("date = %s, want 2025-03-11", a.Date)
		}
	})
	t.Run("idempotent", func(t *testing.T) {
		var a, b intake.Access
		s.Must(201, s.Do("POST", "/v1/accesses", sw, base, &a, "Idempotency-Key", "acc-1"))
		resp := s.Do("POST", "/v1/accesses", sw, base, &b, "Idempotency-Key", "acc-1")
		if resp.StatusCode != 201 || resp.Header.Get("Idempotent-Replayed") != "true" || a.ID != b.ID {
			t.Errorf("replay = %d %s, ids %s %s", resp.StatusCode, resp.Header.Get("Idempotent-Replayed"), a.ID, b.ID)
		}
		s.Must(422, s.Do("POST", "/v1/accesses", sw, changed(base, map[string]any{"desk": "altro"}), nil, "Idempotency-Key", "acc-1"))
	})
	t.Run("linking an anonymous contact", func(t *testing.T) {
		a := s.createAccess(sw, changed(base, map[string]any{"citizen_id": nil, "anonymous_contact": anon}))
		path := "/v1/accesses/" + a.ID.String()
		cid := s.citizen()
		var linked intake.Access
		s.Must(200, s.Do("PATCH", path, sw, map[string]any{"citizen_id": cid}, &linked, "If-Match", `"1"`))
		if linked.CitizenID == nil || *linked.CitizenID != cid || linked.AnonymousContact != nil {
			t.Errorf("linked %+v", linked)
		}
		s.Must(412, s.Do("PATCH", path, sw, map[string]any{"desk": "x"}, nil, "If-Match", `"1"`))
		s.Must(428, s.Do("PATCH", path, sw, map[string]any{"desk": "x"}, nil))
		resp := s.Do("PATCH", path, sw, map[string]any{"citizen_id": s.citizen()}, nil, "If-Match", `"2"`)
		if resp.StatusCode != 400 || !slices.Equal(decodeProblem(t, resp).Fields(), []string{"citizen_id"}) {
			t.Errorf("changing a linked citizen = %d, want 400 naming citizen_id", resp.StatusCode)
		}
	})
	t.Run("list filters", func(t *testing.T) {
		for _, tc := range []struct {
			query string
			min   int
			max   int
		}{
			{"?outcome=referral", 1, 1},
			{"?outcome=none", 2, 100},
			{"?date_from=2025-03-11&date_to=2025-03-11", 1, 1},
			{"?date_from=2026-01-01", 0, 0},
			{"?citizen_id=" + base["citizen_id"].(uuid.UUID).String(), 3, 100},
		} {
			var p struct{ Items []intake.Access }
			s.Must(200, s.Do("GET", "/v1/accesses"+tc.query, sw, nil, &p))
			if len(p.Items) < tc.min || len(p.Items) > tc.max {
				t.Errorf("GET /v1/accesses%s = %d items, want %d to %d", tc.query, len(p.Items), tc.min, tc.max)
			}
		}
		s.Must(400, s.Do("GET", "/v1/accesses?date_from=2025-03-12&date_to=2025-03-11", sw, nil, nil))
	})
}

// TestTakingIntoCare: a case opened with an access marks it taken into care (with the case's
// id), links an anonymous access to the citizen, and an access is taken into care once.
func TestTakingIntoCare(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	cid := s.citizen()
	anon := s.createAccess(sw, changed(accessBody(cid), map[string]any{"citizen_id": nil, "anonymous_contact": map[string]any{"alias": "X"}}))
	c := s.openCase(sw, changed(caseBody(cid), map[string]any{"access_id": anon.ID}))
	var a intake.Access
	s.Must(200, s.Do("GET", "/v1/accesses/"+anon.ID.String(), sw, nil, &a))
	if a.Outcome == nil || a.Outcome.Kind != "taken_into_care" || *a.Outcome.CaseID != c.ID || a.CitizenID == nil || *a.CitizenID != cid {
		t.Errorf("access after the presa in carico: %+v %+v", a, a.Outcome)
	}
	s.Must(409, s.Do("POST", "/v1/cases", sw, changed(caseBody(cid), map[string]any{"access_id": anon.ID}), nil))
	other := s.createAccess(sw, accessBody(s.citizen()))
	resp := s.Do("POST", "/v1/cases", sw, changed(caseBody(cid), map[string]any{"access_id": other.ID}), nil)
	if resp.StatusCode != 400 || !slices.Equal(decodeProblem(t, resp).Fields(), []string{"access_id"}) {
		t.Errorf("an access of another citizen = %d, want 400 naming access_id", resp.StatusCode)
	}
	path := "/v1/accesses/" + anon.ID.String()
	s.Must(400, s.Do("PATCH", path, sw, map[string]any{"outcome": map[string]any{"kind": "information"}}, nil, "If-Match", s.ETag(path, sw)))
	if c.ResponsibleID.String() == "" || c.ResponsibleID != c.CaseManagerID || c.Status != "open" || len(c.StatusHistory) != 1 {
		t.Errorf("opened %+v", c)
	}
}

// TestPlanVersions: every PUT makes a version, all kept; If-Match guards each after the first.
func TestPlanVersions(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	c := s.openCase(sw, caseBody(s.citizen()))
	pp := "/v1/cases/" + c.ID.String() + "/plan"
	s.Must(404, s.Do("GET", pp, sw, nil, nil))
	s.Must(412, s.Do("PUT", pp, sw, planBody(s.Coop), nil, "If-Match", `"1"`))
	var v1, v2 intake.Plan
	resp := s.Do("PUT", pp, sw, planBody(s.Coop), &v1, "If-None-Match", "*")
	s.Must(200, resp)
	if v1.Version != 1 || resp.Header.Get("ETag") != `"1"` {
		t.Errorf("first version %d, ETag %s", v1.Version, resp.Header.Get("ETag"))
	}
	s.Must(428, s.Do("PUT", pp, sw, planBody(s.Coop), nil))
	s.Must(412, s.Do("PUT", pp, sw, planBody(s.Coop), nil, "If-None-Match", "*"))
	second := changed(planBody(s.Coop), map[string]any{"goals": []string{"mantenere la domiciliarità", "sollievo al caregiver"}})
	s.Must(200, s.Do("PUT", pp, sw, second, &v2, "If-Match", `"1"`))
	s.Must(412, s.Do("PUT", pp, sw, second, nil, "If-Match", `"1"`))
	var cur, old intake.Plan
	s.Must(200, s.Do("GET", pp, sw, nil, &cur))
	s.Must(200, s.Do("GET", pp+"/versions/1", sw, nil, &old))
	if cur.Version != 2 || len(cur.Goals) != 2 || old.Version != 1 || len(old.Goals) != 1 {
		t.Errorf("current %d %v, version 1 %d %v", cur.Version, cur.Goals, old.Version, old.Goals)
	}
	s.Must(404, s.Do("GET", pp+"/versions/3", sw, nil, nil))
	var versions struct {
		Items      []intake.PlanVersion
		NextCursor string `json:"next_cursor"`
	}
	s.Must(200, s.Do("GET", pp+"/versions?limit=1", sw, nil, &versions))
	if len(versions.Items) != 1 || versions.Items[0].Version != 2 || versions.NextCursor == "" {
		t.Fatalf("versions page 1 = %+v", versions)
	}
	next := versions.NextCursor
	versions.Items, versions.NextCursor = nil, ""
	s.Must(200, s.Do("GET", pp+"/versions?limit=1&cursor="+next, sw, nil, &versions))
	if len(versions.Items) != 1 || versions.Items[0].Version != 1 || versions.NextCursor != "" {
		t.Errorf("versions page 2 = %+v", versions)
	}
	if n := s.Count("SELECT count(*) FROM outbox WHERE type = 'plan.versioned' AND payload->'planned_services'->0->>'service_type' = 'SAD'"); n != 2 {
		t.Errorf("plan.versioned events with the planned services = %d, want 2", n)
	}
	for _, tc := range []struct {
		name    string
		changes map[string]any
		field   string
	}{
		{"co-payment over the value", map[string]any{"user_copayment_cents": 600000}, "user_copayment_cents"},
		{"no goals", map[string]any{"goals": []string{}}, "goals"},
		{"no value", map[string]any{"project_value_cents": nil}, "project_value_cents"},
		{"zero hours", map[string]any{"planned_services": []map[string]any{{"service_type": "SAD", "frequency": "weekly", "hours_per_week": 0}}},
			"planned_services[0].hours_per_week"},
		{"more hours than a week", map[string]any{"planned_services": []map[string]any{{"service_type": "ADM", "frequency": "weekly", "hours_per_week": 168.5}}},
			"planned_services[0].hours_per_week"},
		{"unknown service", map[string]any{"planned_services": []map[string]any{{"service_type": "XYZ", "frequency": "weekly", "hours_per_week": 2}}},
			"planned_services[0].service_type"},
		{"end before start", map[string]any{"planned_services": []map[string]any{{"service_type": "SAD", "frequency": "weekly", "hours_per_week": 2,
			"start_on": "2025-05-01", "end_on": "2025-04-01"}}}, "planned_services[0].end_on"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp := s.Do("PUT", pp, sw, changed(planBody(s.Coop), tc.changes), nil, "If-Match", `"2"`)
			if resp.StatusCode != 400 || !slices.Equal(decodeProblem(t, resp).Fields(), []string{tc.field}) {
				t.Errorf("status %d, want 400 naming %s", resp.StatusCode, tc.field)
			}
		})
	}
}

// TestRecord: the record of a case lists each phase's elements with their regional codes and
// values.
func TestRecord(t *testing.T) {
	s := newSuite(t)
	sw := s.tok(auth.RoleSocialWorker)
	fx := s.fixtures(t)
	cp := "/v1/cases/" + fx.c.ID.String()
	s.Must(200, s.Do("POST", cp+"/closure", sw, map[string]any{"closed_on": "2025-06-30", "results_reached": []string{"a", "b"},
		"results_not_reached": []string{"c"}, "closure_reason": "moved_away", "new_project_follows": false}, nil))
	var r intake.CaseRecord
	s.Must(200, s.Do("GET", cp+"/record", sw, nil, &r))
	byCode := map[string]intake.RecordElement{}
	var phases []string
	for _, p := range r.Phases {
		phases = append(phases, p.Phase)
		for _, e := range p.Elements {
			byCode[e.Code] = e
		}
		if p.Phase == "D" && (len(p.Elements) != 0 || p.Note == "" || !slices.Contains(p.Sources, "interventions")) {
			t.Errorf("phase D = %+v", p)
		}
	}
	if !slices.Equal(phases, []string{"A", "B", "C", "D", "E"}) {
		t.Errorf("phases = %v", phases)
	}
	for _, tc := range []struct {
		code            string
		value, regional any
	}{
		{"TIRI", "service_request", "02"},
		{"MOCO", "in_person", "01"},
		{"AMIR", "ANZ", "04"},
		{"ISEE", 12345.0, nil},
		{"PADL", 5.0, nil},
		{"PIAD", 7.0, nil},
		{"COND", secretCondition, nil},
		{"VAPR", 5000.0, nil},
		{"PEVE", 6.0, nil},
		{"MOCP", "moved_away", "02"},
		{"NUPR", false, nil},
		{"ESAC", "taken_into_care", "04"},
	} {
		e, ok := byCode[tc.code]
		if !ok {
			t.Errorf("no element %s", tc.code)
			continue
		}
		if e.Value != tc.value || e.RegionalValue != tc.regional {
			t.Errorf("%s (%s) = %v / %v, want %v / %v", tc.code, e.Field, e.Value, e.RegionalValue, tc.value, tc.regional)
		}
	}
	if got := byCode["RISU"].RegionalValue; len(got.([]any)) != 3 {
		t.Errorf("RISU = %v", got)
	}
	var adm intake.CaseRecord
	s.Must(200, s.Do("GET", cp+"/record", s.tok(auth.RoleAdministrative), nil, &adm))
	for _, p := range adm.Phases {
		for _, e := range p.Elements {
			if e.Code == "COND" && e.Value != nil {
				t.Errorf("administrative staff read COND %v", e.Value)
			}
		}
	}
}
