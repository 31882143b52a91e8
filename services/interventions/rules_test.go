package interventions_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

func statusPath(a interventions.Authorization) string {
	return "/v1/authorizations/" + a.ID.String() + "/status"
}

// TestStatusRules walks each status through every requested change: the allowed ones move it
// (a new version, a row of the history), the others are 409 and change nothing.
func TestStatusRules(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	// path reaches a status from draft.
	path := map[interventions.Status][]string{
		interventions.StatusDraft:     nil,
		interventions.StatusActive:    {"active"},
		interventions.StatusSuspended: {"active", "suspended"},
		interventions.StatusClosed:    {"closed"},
	}
	allowed := map[interventions.Status][]string{
		interventions.StatusDraft:     {"active", "closed"},
		interventions.StatusActive:    {"suspended", "closed"},
		interventions.StatusSuspended: {"active", "closed"},
		interventions.StatusClosed:    {},
	}
	for from, steps := range path {
		for _, to := range []string{"active", "suspended", "closed"} {
			t.Run(string(from)+"→"+to, func(t *testing.T) {
				a := s.create(sm, s.body())
				for _, st := range steps {
					s.Must(200, s.Do("POST", statusPath(a), sm, map[string]any{"status": st, "reason": "passo"}, &a))
				}
				var got interventions.Authorization
				resp := s.Do("POST", statusPath(a), sm, map[string]any{"status": to, "reason": "motivo"}, &got)
				if slices.Contains(allowed[from], to) {
					s.Must(200, resp)
					if string(got.Status) != to || got.Version != a.Version+1 || len(got.StatusHistory) != len(steps)+1 {
						t.Fatalf("after %s→%s: status %s, version %d (was %d), history %d", from, to, got.Status, got.Version, a.Version, len(got.StatusHistory))
					}
					last := got.StatusHistory[len(got.StatusHistory)-1]
					if last.From != from || string(last.To) != to || last.Reason != "motivo" {
						t.Errorf("history row %+v", last)
					}
					if to == "active" && (got.AuthorizedBy == nil || got.AuthorizedBy.Role != "service_manager") {
						t.Errorf("authorized_by = %+v after activation", got.AuthorizedBy)
					}
					return
				}
				s.Must(409, resp)
				var now interventions.Authorization
				s.Must(200, s.Do("GET", "/v1/authorizations/"+a.ID.String(), sm, nil, &now))
				if now.Status != from || now.Version != a.Version {
					t.Errorf("a refused change moved %s to %s (version %d → %d)", from, now.Status, a.Version, now.Version)
				}
			})
		}
	}

	t.Run("reason required", func(t *testing.T) {
		a := s.create(sm, s.body())
		resp := s.Do("POST", statusPath(a), sm, map[string]any{"status": "active"}, nil)
		s.Must(400, resp)
		if p := servicetest.DecodeProblem(t, resp); !slices.Contains(p.Fields(), "reason") {
			t.Errorf("fields %v, want reason", p.Fields())
		}
	})
	t.Run("closed is read-only", func(t *testing.T) {
		a := s.create(sm, s.body())
		s.Must(200, s.Do("POST", statusPath(a), sm, map[string]any{"status": "closed", "reason": "rinuncia"}, &a))
		resp := s.Do("PATCH", "/v1/authorizations/"+a.ID.String(), sm, map[string]any{"hours": map[string]any{"per_week": 2}}, nil,
			"If-Match", s.ETag("/v1/authorizations/"+a.ID.String(), sm))
		s.Must(409, resp)
	})
}

// TestAccreditationRule: the cooperative must be accredited for the type, in the ambito, for
// the whole period.
func TestAccreditationRule(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	other := uuid.New() // a cooperative accredited for SAD in another ambito only
	s.identity.accredit(uuid.New(), other, "SAD", "2020-01-01", "")
	late := uuid.New() // accredited for SAD from July 2025
	s.identity.accredit(s.Ambito, late, "SAD", "2025-07-01", "")
	split := uuid.New() // two accreditations that together cover the year but neither alone
	s.identity.accredit(s.Ambito, split, "SAD", "2025-01-01", "2025-06-30")
	s.identity.accredit(s.Ambito, split, "SAD", "2025-07-01", "2025-12-31")
	for _, tc := range []struct {
		name   string
		change func(b map[string]any)
		field  string // "" for 201
	}{
		{"accredited for the whole period", func(map[string]any) {}, ""},
		{"open-ended accreditation", func(b map[string]any) { b["service_type"] = "ADM" }, ""},
		{"no accreditation for the type", func(b map[string]any) { b["service_type"] = "AES" }, "cooperative_id"},
		{"unknown cooperative", func(b map[string]any) { b["cooperative_id"] = uuid.New() }, "cooperative_id"},
		{"accreditation of another ambito", func(b map[string]any) { b["cooperative_id"] = other }, "cooperative_id"},
		{"period ends after the accreditation", func(b map[string]any) { b["period"] = map[string]any{"from": "2025-06-01", "to": "2026-01-31"} }, "period"},
		{"period starts before the accreditation", func(b map[string]any) { b["cooperative_id"] = late }, "period"},
		{"no single accreditation covers it", func(b map[string]any) { b["cooperative_id"] = split }, "period"},
		{"inside the first of two", func(b map[string]any) {
			b["cooperative_id"] = split
			b["period"] = map[string]any{"from": "2025-02-01", "to": "2025-06-30"}
		}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := s.body()
			tc.change(b)
			var a interventions.Authorization
			resp := s.Do("POST", "/v1/authorizations", sm, b, &a)
			if tc.field == "" {
				s.Must(201, resp)
				if a.HourlyTariffCents != 2150 || a.TariffOverridden || a.AccreditationID == uuid.Nil {
					t.Errorf("tariff %d (overridden %v), accreditation %s: want the accreditation's", a.HourlyTariffCents, a.TariffOverridden, a.AccreditationID)
				}
				return
			}
			s.Must(400, resp)
			if p := servicetest.DecodeProblem(t, resp); !slices.Equal(p.Fields(), []string{tc.field}) {
				t.Errorf("fields %v, want %s", p.Fields(), tc.field)
			}
		})
	}

	t.Run("tariff override", func(t *testing.T) {
		b := s.body()
		b["hourly_tariff_cents"] = 2300
		a := s.create(sm, b)
		if a.HourlyTariffCents != 2300 || !a.TariffOverridden {
			t.Errorf("tariff %d overridden %v, want 2300 true", a.HourlyTariffCents, a.TariffOverridden)
		}
		var back interventions.Authorization
		s.Must(200, s.Do("PATCH", "/v1/authorizations/"+a.ID.String(), sm, map[string]any{"hourly_tariff_cents": 0}, &back, "If-Match", `"1"`))
		if back.HourlyTariffCents != 2150 || back.TariffOverridden {
			t.Errorf("after 0: tariff %d overridden %v, want the accreditation's 2150", back.HourlyTariffCents, back.TariffOverridden)
		}
	})
	t.Run("a patch out of the accreditation", func(t *testing.T) {
		a := s.create(sm, s.body())
		resp := s.Do("PATCH", "/v1/authorizations/"+a.ID.String(), sm, map[string]any{"period": map[string]any{"from": "2025-04-01", "to": "2026-03-31"}},
			nil, "If-Match", `"1"`)
		s.Must(400, resp)
		if p := servicetest.DecodeProblem(t, resp); !slices.Equal(p.Fields(), []string{"period"}) {
			t.Errorf("fields %v, want period", p.Fields())
		}
	})
}

// TestBadInput: each invalid field is a 400 naming it, and nothing is written.
func TestBadInput(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	for _, tc := range []struct {
		name   string
		change func(b map[string]any)
		fields []string
	}{
		{"no comune", func(b map[string]any) { delete(b, "istat_code") }, []string{"istat_code"}},
		{"unknown comune", func(b map[string]any) { b["istat_code"] = "999999" }, []string{"istat_code"}},
		{"no case", func(b map[string]any) { delete(b, "case_id") }, []string{"case_id"}},
		{"no citizen", func(b map[string]any) { delete(b, "citizen_id") }, []string{"citizen_id"}},
		{"no cooperative", func(b map[string]any) { delete(b, "cooperative_id") }, []string{"cooperative_id"}},
		{"unknown service type", func(b map[string]any) { b["service_type"] = "XYZ" }, []string{"service_type"}},
		{"no period", func(b map[string]any) { delete(b, "period") }, []string{"period"}},
		{"bad from", func(b map[string]any) { b["period"] = map[string]any{"from": "2025-02-30", "to": "2025-12-31"} }, []string{"period.from"}},
		{"to before from", func(b map[string]any) { b["period"] = map[string]any{"from": "2025-05-01", "to": "2025-04-30"} }, []string{"period.to"}},
		{"implausible to", func(b map[string]any) { b["period"] = map[string]any{"from": "2025-05-01", "to": "2300-01-01"} }, []string{"period.to"}},
		{"no hours", func(b map[string]any) { delete(b, "hours") }, []string{"hours"}},
		{"both hours", func(b map[string]any) { b["hours"] = map[string]any{"per_week": 2, "total": 50} }, []string{"hours"}},
		{"neither hours", func(b map[string]any) { b["hours"] = map[string]any{} }, []string{"hours"}},
		{"not a quarter", func(b map[string]any) { b["hours"] = map[string]any{"per_week": 2.1} }, []string{"hours.per_week"}},
		{"too many weekly", func(b map[string]any) { b["hours"] = map[string]any{"per_week": 169} }, []string{"hours.per_week"}},
		{"zero total", func(b map[string]any) { b["hours"] = map[string]any{"total": 0} }, []string{"hours.total"}},
		{"tariff zero", func(b map[string]any) { b["hourly_tariff_cents"] = 0 }, []string{"hourly_tariff_cents"}},
		{"weekday", func(b map[string]any) {
			b["schedule"] = []map[string]any{{"weekday": "lun", "from": "09:00", "to": "10:00"}}
		}, []string{"schedule[0].weekday"}},
		{"clock", func(b map[string]any) {
			b["schedule"] = []map[string]any{{"weekday": "mon", "from": "9", "to": "10:00"}}
		}, []string{"schedule[0].from"}},
		{"range backwards", func(b map[string]any) {
			b["schedule"] = []map[string]any{{"weekday": "mon", "from": "09:00", "to": "10:00"}, {"weekday": "tue", "from": "11:00", "to": "10:00"}}
		}, []string{"schedule[1].to"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := s.body()
			tc.change(b)
			resp := s.Do("POST", "/v1/authorizations", sm, b, nil)
			s.Must(400, resp)
			if p := servicetest.DecodeProblem(t, resp); !slices.Equal(p.Fields(), tc.fields) {
				t.Errorf("fields %v, want %v", p.Fields(), tc.fields)
			}
		})
	}
	if n := s.Count(`SELECT count(*) FROM authorizations`); n != 0 {
		t.Errorf("%d authorizations written by bad requests", n)
	}
}

// TestScope: a cooperative sees only its own authorizations, and not while they are drafts; a
// comune's operators only their comune's; the planning office the ambito.
func TestScope(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	coopB := uuid.Must(uuid.NewV7())
	s.identity.accredit(s.Ambito, coopB, "SAD", "2025-01-01", "2025-12-31")
	mine := s.active(s.body())
	bb := s.body()
	bb["cooperative_id"] = coopB
	theirs := s.active(bb)
	// An authorization of another comune, by the azienda's service manager.
	azienda := s.Operator(auth.RoleServiceManager, s.Azienda, "azienda", "")
	ob := s.body()
	ob["istat_code"] = "016024" // Bergamo
	elsewhere := s.activate(azienda, s.create(azienda, ob))
	// A draft naming cooperative A is not yet assigned to it: not listed, not read, not even
	// when asked for by status; activated, it is A's.
	draft := s.create(sm, s.body())

	ids := func(token, query string) []uuid.UUID {
		var p struct{ Items []interventions.Authorization }
		s.Must(200, s.Do("GET", "/v1/authorizations"+query, token, nil, &p))
		var out []uuid.UUID
		for _, a := range p.Items {
			out = append(out, a.ID)
		}
		return out
	}
	coopA := s.tok(auth.RoleEducator)
	if got := ids(coopA, ""); !slices.Equal(got, []uuid.UUID{elsewhere.ID, mine.ID}) {
		t.Errorf("cooperative A lists %v, want its own %v", got, []uuid.UUID{elsewhere.ID, mine.ID})
	}
	if got := ids(coopA, "?status=draft"); len(got) != 0 {
		t.Errorf("cooperative A lists drafts %v, want none", got)
	}
	if got := ids(sm, "?status=draft"); !slices.Equal(got, []uuid.UUID{draft.ID}) {
		t.Errorf("the comune lists drafts %v, want %v", got, draft.ID)
	}
	for _, path := range []string{"", "/versions", "/documents", "/diary"} {
		s.Must(404, s.Do("GET", "/v1/authorizations/"+draft.ID.String()+path, coopA, nil, nil))
	}
	s.activate(sm, draft)
	if got := ids(coopA, ""); !slices.Equal(got, []uuid.UUID{draft.ID, elsewhere.ID, mine.ID}) {
		t.Errorf("cooperative A lists %v once the draft is active, want %v", got, []uuid.UUID{draft.ID, elsewhere.ID, mine.ID})
	}
	s.Must(200, s.Do("GET", "/v1/authorizations/"+draft.ID.String(), coopA, nil, nil))
	s.Must(404, s.Do("GET", "/v1/authorizations/"+theirs.ID.String(), coopA, nil, nil))
	s.Must(404, s.Do("GET", "/v1/authorizations/"+theirs.ID.String()+"/versions", coopA, nil, nil))
	s.Must(403, s.Do("GET", "/v1/authorizations?cooperative_id="+coopB.String(), coopA, nil, nil))
	coordB := s.Operator(auth.RoleCoopCoordinator, coopB, "cooperativa", "")
	if got := ids(coordB, ""); !slices.Equal(got, []uuid.UUID{theirs.ID}) {
		t.Errorf("cooperative B lists %v, want %v", got, theirs.ID)
	}
	s.Must(404, s.Do("GET", "/v1/authorizations/"+mine.ID.String(), coordB, nil, nil))
	// A cooperative's machine client is bound to it as its operators are.
	clientB := s.Iss.Token(t, auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: s.Ambito.String(), OrgID: coopB.String(),
		OrgKind: "cooperativa", Role: auth.RoleClient, Scopes: []string{interventions.ScopeAuthorizationsRead}})
	if got := ids(clientB, ""); !slices.Equal(got, []uuid.UUID{theirs.ID}) {
		t.Errorf("cooperative B's client lists %v, want %v", got, theirs.ID)
	}
	// Reassigned to cooperative A, the authorization is A's, and B's version is not shown to A.
	var moved interventions.Authorization
	s.Must(200, s.Do("PATCH", "/v1/authorizations/"+theirs.ID.String(), sm, map[string]any{"cooperative_id": s.Coop}, &moved, "If-Match", `"2"`))
	s.Must(404, s.Do("GET", "/v1/authorizations/"+theirs.ID.String(), coordB, nil, nil))
	var vs struct{ Items []interventions.Version }
	s.Must(200, s.Do("GET", "/v1/authorizations/"+theirs.ID.String()+"/versions", coopA, nil, &vs))
	if len(vs.Items) != 1 || vs.Items[0].Version != 3 || vs.Items[0].Authorization.CooperativeID != s.Coop {
		t.Errorf("cooperative A reads %d versions of the reassigned authorization, want only version 3", len(vs.Items))
	}
	s.Must(200, s.Do("PATCH", "/v1/authorizations/"+theirs.ID.String(), sm, map[string]any{"cooperative_id": coopB}, nil, "If-Match", `"3"`))
	// Cooperatives read, never write.
	s.Must(403, s.Do("POST", statusPath(theirs), coordB, map[string]any{"status": "suspended", "reason": "x"}, nil))

	// The comune (Milano) sees its own three, not Bergamo's; the planning office all four.
	if got := ids(sm, ""); !slices.Equal(got, []uuid.UUID{draft.ID, theirs.ID, mine.ID}) {
		t.Errorf("the comune lists %v", got)
	}
	s.Must(404, s.Do("GET", "/v1/authorizations/"+elsewhere.ID.String(), sm, nil, nil))
	if got := ids(s.tok(auth.RolePlanningOffice), ""); len(got) != 4 {
		t.Errorf("the planning office lists %d, want 4", len(got))
	}
	// A comune's operator cannot authorize for another comune.
	s.Must(403, s.Do("POST", "/v1/authorizations", sm, ob, nil))

	// Filters.
	if got := ids(s.tok(auth.RolePlanningOffice), "?cooperative_id="+coopB.String()); !slices.Equal(got, []uuid.UUID{theirs.ID}) {
		t.Errorf("cooperative_id filter: %v", got)
	}
	if got := ids(sm, "?citizen_id="+mine.CitizenID.String()); !slices.Equal(got, []uuid.UUID{mine.ID}) {
		t.Errorf("citizen_id filter: %v", got)
	}
	s.Must(200, s.Do("POST", statusPath(mine), sm, map[string]any{"status": "suspended", "reason": "ricovero"}, nil))
	if got := ids(sm, "?status=suspended&service_type=SAD"); !slices.Equal(got, []uuid.UUID{mine.ID}) {
		t.Errorf("status filter: %v", got)
	}
	if got := ids(sm, "?service_type=ADM"); len(got) != 0 {
		t.Errorf("service_type filter: %v", got)
	}
	// Pages: one at a time, cursors bound to their filters.
	var p1 struct {
		Items      []interventions.Authorization
		NextCursor string `json:"next_cursor"`
	}
	s.Must(200, s.Do("GET", "/v1/authorizations?limit=1", sm, nil, &p1))
	if len(p1.Items) != 1 || p1.NextCursor == "" {
		t.Fatalf("page 1: %d items, cursor %q", len(p1.Items), p1.NextCursor)
	}
	if got := ids(sm, "?limit=1&cursor="+p1.NextCursor); !slices.Equal(got, []uuid.UUID{theirs.ID}) {
		t.Errorf("page 2: %v", got)
	}
	s.Must(400, s.Do("GET", "/v1/authorizations?status=draft&cursor="+p1.NextCursor, sm, nil, nil))
}

// TestVersionsAndIfMatch: every change is a version, all kept; a change needs the current ETag.
func TestVersionsAndIfMatch(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	a := s.create(sm, s.body())
	ap := "/v1/authorizations/" + a.ID.String()
	patch := map[string]any{"hours": map[string]any{"per_week": 6}}
	s.Must(428, s.Do("PATCH", ap, sm, patch, nil))
	s.Must(412, s.Do("PATCH", ap, sm, patch, nil, "If-Match", `"7"`))
	var v2 interventions.Authorization
	resp := s.Do("PATCH", ap, sm, patch, &v2, "If-Match", `"1"`)
	s.Must(200, resp)
	if resp.Header.Get("ETag") != `"2"` || *v2.Hours.PerWeek != 6 {
		t.Errorf("ETag %s, hours %v", resp.Header.Get("ETag"), v2.Hours)
	}
	s.Must(412, s.Do("PATCH", ap, sm, map[string]any{"hours": map[string]any{"total": 100}}, nil, "If-Match", `"1"`))
	s.Must(200, s.Do("POST", ap+"/status", sm, map[string]any{"status": "active", "reason": "PAI"}, nil))

	var vs struct{ Items []interventions.Version }
	s.Must(200, s.Do("GET", ap+"/versions", s.tok(auth.RoleEducator), nil, &vs))
	if len(vs.Items) != 3 {
		t.Fatalf("%d versions, want 3", len(vs.Items))
	}
	for i, want := range []struct {
		change string
		hours  float64
		status interventions.Status
	}{{"created", 4.5, "draft"}, {"updated", 6, "draft"}, {"status_changed", 6, "active"}} {
		v := vs.Items[i]
		if v.Version != int64(i+1) || v.Change != want.change || *v.Authorization.Hours.PerWeek != want.hours || v.Authorization.Status != want.status ||
			v.ChangedBy.Role != "service_manager" {
			t.Errorf("version %d: %d %s hours %v status %s by %+v", i+1, v.Version, v.Change, *v.Authorization.Hours.PerWeek, v.Authorization.Status, v.ChangedBy)
		}
	}
	if n := s.Count(`SELECT count(*) FROM authorization_versions WHERE authorization_id = $1`, a.ID); n != 3 {
		t.Errorf("%d version rows", n)
	}
	if _, err := s.App.Pool.Exec(t.Context(), `UPDATE authorization_versions SET change = 'updated' WHERE authorization_id = $1`, a.ID); err == nil {
		t.Error("a version was overwritten")
	}

	// The events carry ids and codes only, and every change has one.
	rows, err := s.App.Pool.Query(t.Context(), `SELECT type, payload FROM outbox ORDER BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for rows.Next() {
		var typ string
		var payload []byte
		if err := rows.Scan(&typ, &payload); err != nil {
			t.Fatal(err)
		}
		types = append(types, typ)
		var m map[string]any
		if err := json.Unmarshal(payload, &m); err != nil {
			t.Fatal(err)
		}
		for k := range m {
			if !slices.Contains([]string{"id", "version", "status", "from", "case_id", "citizen_id", "cooperative_id", "service_type", "istat_code"}, k) {
				t.Errorf("event %s carries %s", typ, k)
			}
		}
	}
	if !slices.Equal(types, []string{"authorization.created", "authorization.status_changed", "authorization.versioned"}) {
		t.Errorf("events %v", types)
	}
}

// TestIdentityDown: a cached accreditation answer lets writes go on while identity is down;
// without one the write is a 503 with Retry-After and nothing is written.
func TestIdentityDown(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	s.create(sm, s.body()) // caches the cooperative's SAD accreditations
	s.identity.setDown(true)
	calls := s.identity.calls
	a := s.create(sm, s.body())
	s.Must(200, s.Do("POST", statusPath(a), sm, map[string]any{"status": "active", "reason": "PAI"}, nil))
	if s.identity.calls != calls {
		t.Errorf("identity asked %d times with the answer cached", s.identity.calls-calls)
	}
	b := s.body()
	b["service_type"] = "ADM" // not cached
	before := s.Count(`SELECT count(*) FROM authorizations`)
	resp := s.Do("POST", "/v1/authorizations", sm, b, nil)
	s.Must(503, resp)
	if resp.Header.Get("Retry-After") == "" {
		t.Error("503 without Retry-After")
	}
	if after := s.Count(`SELECT count(*) FROM authorizations`); after != before {
		t.Errorf("identity down: %d authorizations written", after-before)
	}
	s.identity.setDown(false)
	s.create(sm, b)
}

// TestIdempotentCreate: a retry with the same key answers as the first time and stores nothing twice.
func TestIdempotentCreate(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	b := s.body()
	var first, again interventions.Authorization
	s.Must(201, s.Do("POST", "/v1/authorizations", sm, b, &first, "Idempotency-Key", "k-1"))
	resp := s.Do("POST", "/v1/authorizations", sm, b, &again, "Idempotency-Key", "k-1")
	s.Must(201, resp)
	if again.ID != first.ID || resp.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("replay: id %s (first %s), replayed %q", again.ID, first.ID, resp.Header.Get("Idempotent-Replayed"))
	}
	if n := s.Count(`SELECT count(*) FROM authorizations`); n != 1 {
		t.Errorf("%d authorizations after a retry", n)
	}
	b["hours"] = map[string]any{"per_week": 3}
	s.Must(422, s.Do("POST", "/v1/authorizations", sm, b, nil, "Idempotency-Key", "k-1"))
}

// TestServiceTypes: the five types with their benefit codes.
func TestServiceTypes(t *testing.T) {
	s := newSuite(t)
	var l interventions.ServiceTypeList
	s.Must(200, s.Do("GET", "/v1/service-types", s.tok(auth.RoleASA), nil, &l))
	got := map[string][]string{}
	for _, st := range l.Items {
		for _, c := range st.BenefitCodes {
			got[st.Code] = append(got[st.Code], c.Code)
		}
	}
	want := map[string][]string{"SAD": {"A2.07"}, "SADH": {"A2.07"}, "ADH": {"A2.02", "A2.11"}, "ADM": {"A2.02"}, "AES": {"A2.11"}}
	if len(got) != len(want) {
		t.Fatalf("types %v", got)
	}
	for k, v := range want {
		if !slices.Equal(got[k], v) {
			t.Errorf("%s: %v, want %v", k, got[k], v)
		}
	}
}

// TestEveryReadAndChangeIsAudited: each read (list items included) and change of an
// authorization leaves an audit record with the citizen, by whom and in which organization.
func TestEveryReadAndChangeIsAudited(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	a := s.active(s.body())
	ap := "/v1/authorizations/" + a.ID.String()
	count := func(action string) int {
		return s.Count("SELECT count(*) FROM audit_records WHERE action = $1 AND citizen_id = $2 AND resource_id = $3",
			action, a.CitizenID.String(), a.ID.String())
	}
	if n := count("authorization.create"); n != 1 {
		t.Errorf("create: %d audit records", n)
	}
	edu := s.tok(auth.RoleEducator)
	for _, tc := range []struct{ method, path, token, action string }{
		{"GET", ap, edu, "authorization.read"},
		{"GET", "/v1/authorizations", s.tok(auth.RolePlanningOffice), "authorization.list"},
		{"GET", ap + "/versions", edu, "authorization.versions"},
	} {
		before := count(tc.action)
		s.Must(200, s.Do(tc.method, tc.path, tc.token, nil, nil))
		if after := count(tc.action); after != before+1 {
			t.Errorf("%s %s: %d audit records %s, want %d", tc.method, tc.path, after, tc.action, before+1)
		}
	}
	s.Must(200, s.Do("PATCH", ap, sm, map[string]any{"hours": map[string]any{"total": 120}}, nil, "If-Match", `"2"`))
	s.Must(200, s.Do("POST", ap+"/status", sm, map[string]any{"status": "suspended", "reason": "ricovero"}, nil))
	// Two status changes: the activation (before the educator could read it) and this one.
	if count("authorization.updated") != 1 || count("authorization.status_changed") != 2 {
		t.Errorf("changes: %d updated, %d status_changed audit records", count("authorization.updated"), count("authorization.status_changed"))
	}
	if n := s.Count("SELECT count(*) FROM audit_records WHERE action = 'authorization.read' AND actor_role = 'educator' AND actor_org = $1",
		s.Coop.String()); n != 1 {
		t.Errorf("the educator's read: %d records naming the role and cooperative", n)
	}
}
