package interventions_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/xuri/excelize/v2"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// visitRow is a visit as the statement reads it.
type visitRow struct {
	Day     string // YYYY-MM-DD
	Start   string // HH:MM
	Minutes int
	Absent  bool
	Excess  int
	Voided  bool
}

// addVisits stores visits of authorization a as rows of the visits table (00002_visits.sql), so
// that the figures' rule table can set what the visits API derives (excess minutes) and voided
// rows directly; TestStatementLocksTheMonth makes its figures from visits posted through the
// API. Each visit has its own operator, so that none overlaps another.
func (s *suite) addVisits(a interventions.Authorization, visits ...visitRow) {
	s.T.Helper()
	rome, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		s.T.Fatal(err)
	}
	for _, v := range visits {
		start := v.Start
		if start == "" {
			start = "09:00"
		}
		at, err := time.ParseInLocation("2006-01-02 15:04", v.Day+" "+start, rome)
		if err != nil {
			s.T.Fatal(err)
		}
		status, voidedAt := "valid", (*time.Time)(nil)
		if v.Voided {
			now := time.Now()
			status, voidedAt = "voided", &now
		}
		_, err = s.App.Pool.Exec(s.T.Context(), `INSERT INTO visits (id, ambito_id, authorization_id, cooperative_id, service_type,
				citizen_id, operator_id, day, starts_at, ends_at, minutes, absent, place, activities, notes, excess_minutes, status,
				void_reason, voided_at, recorded_by, recorded_at)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8::date, $9, $10, $11, $12, 'home', '{personal_care}', '', $13, $14,
				CASE WHEN $14 = 'voided' THEN 'errore di inserimento' END, $15, '{"id":"x","role":"educator"}', now())`,
			uuid.Must(uuid.NewV7()), a.AmbitoID, a.ID, a.CooperativeID, a.ServiceType, a.CitizenID, uuid.New(), v.Day, at,
			at.Add(time.Duration(v.Minutes)*time.Minute), v.Minutes, v.Absent, v.Excess, status, voidedAt)
		if err != nil {
			s.T.Fatal(err)
		}
	}
}

// authorized creates and activates an authorization of the suite's comune with the given
// members over the body's (cooperative, period, hours, tariff).
func (s *suite) authorized(members map[string]any) interventions.Authorization {
	s.T.Helper()
	sm := s.tok(auth.RoleServiceManager)
	b := s.body()
	for k, v := range members {
		b[k] = v
	}
	a := s.create(sm, b)
	s.Must(200, s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/status", sm, map[string]any{"status": "active", "reason": "PAI"}, &a))
	return a
}

func stPath(coop uuid.UUID, month string) string {
	return "/v1/statements/" + coop.String() + "/" + month
}

func (s *suite) statement(token string, coop uuid.UUID, month string) interventions.Statement {
	s.T.Helper()
	var st interventions.Statement
	s.Must(200, s.Do("GET", stPath(coop, month), token, nil, &st))
	return st
}

func lineOf(t *testing.T, st interventions.Statement, id uuid.UUID) (interventions.StatementLine, bool) {
	t.Helper()
	i := slices.IndexFunc(st.Lines, func(l interventions.StatementLine) bool { return l.AuthorizationID == id })
	if i < 0 {
		return interventions.StatementLine{}, false
	}
	return st.Lines[i], true
}

func period(from, to string) map[string]any { return map[string]any{"from": from, "to": to} }

// TestStatementFigures is the rule table of the figures of a line: proration of the hours
// authorized, delivered minutes, missed visits, voided visits, excess, and the amount rounded
// half up to the cent.
func TestStatementFigures(t *testing.T) {
	s := newSuite(t)
	type want struct{ authorized, delivered, missed, excess, payable, amount, excessAmount int64 }
	cases := []struct {
		name    string
		members map[string]any
		visits  []visitRow
		want    want
	}{
		{"per week, the whole month: 270 min × 31 / 7 = 1195.7 → 1195", map[string]any{"hours": map[string]any{"per_week": 4.5}},
			nil, want{authorized: 1195}},
		{"per week, period from the 10th: 180 × 22 / 7 = 565.7 → 565",
			map[string]any{"hours": map[string]any{"per_week": 3}, "period": period("2025-05-10", "2025-12-31")}, nil, want{authorized: 565}},
		{"per week, period ending the 7th: 120 × 7 / 7 = 120",
			map[string]any{"hours": map[string]any{"per_week": 2}, "period": period("2025-04-01", "2025-05-07")}, nil, want{authorized: 120}},
		{"total over the period's days: 600 × 12 May days / 20 = 360",
			map[string]any{"hours": map[string]any{"total": 10}, "period": period("2025-05-20", "2025-06-08")}, nil, want{authorized: 360}},
		{"total, rounded down: 435 × 14 / 30 = 203",
			map[string]any{"hours": map[string]any{"total": 7.25}, "period": period("2025-04-15", "2025-05-14")}, nil, want{authorized: 203}},
		{"delivered at 21.50 €/h: 120 min = 43.00 €", nil,
			[]visitRow{{Day: "2025-05-05", Minutes: 60}, {Day: "2025-05-06", Minutes: 60}},
			want{authorized: 1195, delivered: 120, payable: 120, amount: 4300}},
		{"half a cent rounds up: 45 min × 2150 / 60 = 1612.5 → 1613", nil,
			[]visitRow{{Day: "2025-05-05", Minutes: 45}}, want{authorized: 1195, delivered: 45, payable: 45, amount: 1613}},
		{"half a cent rounds up: 3 min × 1990 / 60 = 99.5 → 100", map[string]any{"hourly_tariff_cents": 1990},
			[]visitRow{{Day: "2025-05-05", Minutes: 3}}, want{authorized: 1195, delivered: 3, payable: 3, amount: 100}},
		{"below half a cent rounds down: 1 min × 1990 / 60 = 33.17 → 33", map[string]any{"hourly_tariff_cents": 1990},
			[]visitRow{{Day: "2025-05-05", Minutes: 1}}, want{authorized: 1195, delivered: 1, payable: 1, amount: 33}},
		{"above half a cent rounds up: 1 min × 2150 / 60 = 35.83 → 36", nil,
			[]visitRow{{Day: "2025-05-05", Minutes: 1}}, want{authorized: 1195, delivered: 1, payable: 1, amount: 36}},
		{"absent: a missed visit, no minutes", nil,
			[]visitRow{{Day: "2025-05-05", Minutes: 60, Absent: true}, {Day: "2025-05-12", Minutes: 60, Absent: true}, {Day: "2025-05-13", Minutes: 30}},
			want{authorized: 1195, delivered: 30, missed: 2, payable: 30, amount: 1075}},
		{"voided visits excluded, their replacement counted", nil,
			[]visitRow{{Day: "2025-05-05", Minutes: 60, Voided: true}, {Day: "2025-05-05", Start: "14:00", Minutes: 45},
				{Day: "2025-05-06", Minutes: 60, Absent: true, Voided: true}},
			want{authorized: 1195, delivered: 45, payable: 45, amount: 1613}},
		{"excess: flagged, not in the amount, shown apart", map[string]any{"hours": map[string]any{"total": 1}, "period": period("2025-05-01", "2025-05-31")},
			[]visitRow{{Day: "2025-05-05", Minutes: 60}, {Day: "2025-05-06", Minutes: 90, Excess: 90}},
			want{authorized: 60, delivered: 150, excess: 90, payable: 60, amount: 2150, excessAmount: 3225}},
		{"visits of other months are not counted", nil,
			[]visitRow{{Day: "2025-04-30", Minutes: 60}, {Day: "2025-06-01", Minutes: 60}, {Day: "2025-05-31", Start: "22:00", Minutes: 60}},
			want{authorized: 1195, delivered: 60, payable: 60, amount: 2150}},
	}
	ids := make([]uuid.UUID, len(cases))
	for i, tc := range cases {
		a := s.authorized(tc.members)
		s.addVisits(a, tc.visits...)
		ids[i] = a.ID
	}
	// An authorization of May that is still a draft authorizes nothing: no line.
	draft := s.create(s.tok(auth.RoleServiceManager), s.body())
	// Another cooperative's authorization and visits are not in this statement.
	coopB := uuid.Must(uuid.NewV7())
	s.identity.accredit(s.Ambito, coopB, "SAD", "2025-01-01", "2025-12-31")
	other := s.authorized(map[string]any{"cooperative_id": coopB})
	s.addVisits(other, visitRow{Day: "2025-05-05", Minutes: 600})

	st := s.statement(s.tok(auth.RoleCoopCoordinator), s.Coop, "2025-05")
	if st.Status != interventions.StatementOpen || st.Version != 1 || st.FiguresFrozen {
		t.Errorf("status %s version %d frozen %v, want open 1 live", st.Status, st.Version, st.FiguresFrozen)
	}
	var total int64
	for i, tc := range cases {
		l, ok := lineOf(t, st, ids[i])
		if !ok {
			t.Errorf("%s: no line", tc.name)
			continue
		}
		got := want{l.AuthorizedMinutes, l.DeliveredMinutes, l.MissedVisits, l.ExcessMinutes, l.PayableMinutes, l.AmountCents, l.ExcessAmountCents}
		if got != tc.want {
			t.Errorf("%s: got %+v, want %+v", tc.name, got, tc.want)
		}
		if l.INPSCode != "A2.07" || l.ServiceType != "SAD" {
			t.Errorf("%s: %s %s", tc.name, l.ServiceType, l.INPSCode)
		}
		total += tc.want.amount
	}
	if len(st.Lines) != len(cases) {
		t.Errorf("%d lines, want %d", len(st.Lines), len(cases))
	}
	if _, ok := lineOf(t, st, draft.ID); ok {
		t.Error("a draft has a line")
	}
	if _, ok := lineOf(t, st, other.ID); ok {
		t.Error("another cooperative's authorization has a line")
	}
	if st.TotalAmount != total || len(st.ByServiceType) != 1 || st.ByServiceType[0].AmountCents != total || st.ByServiceType[0].INPSCode != "A2.07" ||
		st.ByServiceType[0].Lines != len(cases) {
		t.Errorf("totals %d %+v, want %d", st.TotalAmount, st.ByServiceType, total)
	}
	if st.TotalExcess != 3225 {
		t.Errorf("total excess %d", st.TotalExcess)
	}
	// Other service types are totalled apart, each with its INPS code.
	adm := s.authorized(map[string]any{"service_type": "ADM"})
	s.addVisits(adm, visitRow{Day: "2025-05-07", Minutes: 60})
	st = s.statement(s.tok(auth.RoleCoopCoordinator), s.Coop, "2025-05")
	if len(st.ByServiceType) != 2 || st.ByServiceType[1].ServiceType != "ADM" || st.ByServiceType[1].INPSCode != "A2.02" ||
		st.ByServiceType[1].AmountCents != 2150 || st.TotalAmount != total+2150 {
		t.Errorf("by service type %+v total %d", st.ByServiceType, st.TotalAmount)
	}
	// The other cooperative's statement holds its own.
	b := s.statement(s.tok(auth.RoleServiceManager), coopB, "2025-05")
	if len(b.Lines) != 1 || b.Lines[0].DeliveredMinutes != 600 || b.TotalAmount != 21500 {
		t.Errorf("cooperative B's statement %+v", b)
	}
	// A month without authorizations nor visits has no statement.
	s.Must(404, s.Do("GET", stPath(s.Coop, "2024-02"), s.tok(auth.RoleCoopCoordinator), nil, nil))
	s.Must(404, s.Do("POST", stPath(s.Coop, "2024-02")+"/submit", s.tok(auth.RoleCoopCoordinator), nil, nil))
}

func problemCode(t *testing.T, s *suite, method, path, token string, body any, status int, code string, headers ...string) {
	t.Helper()
	resp := s.Do(method, path, token, body, nil, headers...)
	if resp.StatusCode != status {
		t.Errorf("%s %s = %d, want %d", method, path, resp.StatusCode, status)
		return
	}
	if code == "" {
		return
	}
	var p map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatal(err)
	}
	if p["code"] != code {
		t.Errorf("%s %s: code %v, want %s", method, path, p["code"], code)
	}
}

// TestStatementWorkflow: open → submitted (figures frozen) → returned with notes (live again) →
// submitted → approved (final, the month locked); wrong transitions are a 409 with a code, a
// stale If-Match a 412; the events and the audit records of each step.
func TestStatementWorkflow(t *testing.T) {
	s := newSuite(t)
	coord, sm, educator := s.tok(auth.RoleCoopCoordinator), s.tok(auth.RoleServiceManager), s.tok(auth.RoleEducator)
	a := s.authorized(nil)
	s.addVisits(a, visitRow{Day: "2025-05-05", Minutes: 60})
	p := stPath(s.Coop, "2025-05")

	// Only the cooperative submits; nothing but a submitted statement is approved or returned.
	s.Must(403, s.Do("POST", p+"/submit", sm, nil, nil))
	s.Must(403, s.Do("POST", p+"/submit", educator, nil, nil))
	problemCode(t, s, "POST", p+"/approve", sm, nil, 409, "statement_status")
	problemCode(t, s, "POST", p+"/return", sm, map[string]any{"notes": "x"}, 409, "statement_status")
	problemCode(t, s, "POST", p+"/submit", coord, nil, 412, "", "If-Match", `"7"`)
	problemCode(t, s, "POST", p+"/submit", coord, nil, 400, "", "If-Match", `abc`)

	var st interventions.Statement
	resp := s.Do("POST", p+"/submit", coord, nil, &st, "If-Match", s.ETag(p, coord))
	s.Must(200, resp)
	if st.Status != interventions.StatementSubmitted || st.Version != 2 || !st.FiguresFrozen || st.SubmittedBy == nil ||
		st.SubmittedBy.Role != "coop_coordinator" || st.TotalAmount != 2150 || resp.Header.Get("ETag") != `"2"` {
		t.Errorf("submitted: %+v etag %s", st, resp.Header.Get("ETag"))
	}
	problemCode(t, s, "POST", p+"/submit", coord, nil, 409, "statement_status")
	// The figures are frozen: a visit recorded after submission does not change them.
	s.addVisits(a, visitRow{Day: "2025-05-06", Minutes: 60})
	if got := s.statement(sm, s.Coop, "2025-05"); got.TotalAmount != 2150 || got.Lines[0].DeliveredMinutes != 60 {
		t.Errorf("submitted figures changed: %+v", got)
	}
	// A cooperative and an educator never approve nor return.
	s.Must(403, s.Do("POST", p+"/approve", coord, nil, nil))
	s.Must(403, s.Do("POST", p+"/approve", educator, nil, nil))
	s.Must(403, s.Do("POST", p+"/return", coord, map[string]any{"notes": "x"}, nil))
	s.Must(403, s.Do("POST", p+"/approve", s.Clients["statements"], nil, nil))
	// Return needs notes.
	resp = s.Do("POST", p+"/return", sm, map[string]any{"notes": ""}, nil)
	s.Must(400, resp)
	if f := servicetest.DecodeProblem(t, resp).Fields(); !slices.Equal(f, []string{"notes"}) {
		t.Errorf("fields %v", f)
	}
	problemCode(t, s, "POST", p+"/return", sm, map[string]any{"notes": "x"}, 412, "", "If-Match", `"1"`)
	s.Must(200, s.Do("POST", p+"/return", sm, map[string]any{"notes": "Manca la visita del 6 maggio"}, &st, "If-Match", `"2"`))
	if st.Status != interventions.StatementReturned || st.Version != 3 || st.FiguresFrozen || len(st.Notes) != 1 ||
		st.Notes[0].Text != "Manca la visita del 6 maggio" || st.TotalAmount != 4300 {
		t.Errorf("returned: %+v", st)
	}
	// Returned: computed live again.
	if got := s.statement(coord, s.Coop, "2025-05"); got.TotalAmount != 4300 || got.Status != interventions.StatementReturned {
		t.Errorf("returned statement %+v", got)
	}
	s.Must(200, s.Do("POST", p+"/submit", coord, nil, &st, "Idempotency-Key", "submit-may"))
	if st.Status != interventions.StatementSubmitted || st.Version != 4 || st.TotalAmount != 4300 {
		t.Errorf("submitted again: %+v", st)
	}
	// Its retry (the answer lost on the way) gets the same answer, not a 409, and submits nothing twice.
	var retried interventions.Statement
	s.Must(200, s.Do("POST", p+"/submit", coord, nil, &retried, "Idempotency-Key", "submit-may"))
	if retried.Version != 4 || retried.Status != interventions.StatementSubmitted ||
		s.Count(`SELECT count(*) FROM statement_versions WHERE action = 'submitted'`) != 2 {
		t.Errorf("the retried submit: %+v, %d submits kept", retried, s.Count(`SELECT count(*) FROM statement_versions WHERE action = 'submitted'`))
	}
	s.Must(200, s.Do("POST", p+"/approve", sm, nil, &st, "If-Match", `"4"`))
	if st.Status != interventions.StatementApproved || st.Version != 5 || st.ApprovedBy == nil || st.ApprovedBy.Role != "service_manager" ||
		st.ApprovedAt == nil || len(st.Notes) != 1 {
		t.Errorf("approved: %+v", st)
	}
	for _, step := range []string{"submit", "approve"} {
		problemCode(t, s, "POST", p+"/"+step, map[string]string{"submit": coord, "approve": sm}[step], nil, 409, "statement_status")
	}
	problemCode(t, s, "POST", p+"/return", sm, map[string]any{"notes": "x"}, 409, "statement_status")
	// Approval writes the row approved: the month is locked for the visits.
	if n := s.Count(`SELECT count(*) FROM statements WHERE cooperative_id = $1 AND month = '2025-05-01' AND status = 'approved' AND version = 5`, s.Coop); n != 1 {
		t.Errorf("%d approved rows", n)
	}
	if n := s.Count(`SELECT count(*) FROM statement_versions WHERE cooperative_id = $1`, s.Coop); n != 4 {
		t.Errorf("%d versions kept", n)
	}
	if _, err := s.App.Pool.Exec(t.Context(), `DELETE FROM statement_versions`); err == nil {
		t.Error("a statement version was deleted")
	}

	// The events: one per transition, ids and figures, no citizen.
	rows, err := s.App.Pool.Query(t.Context(), `SELECT type, payload FROM outbox WHERE type LIKE 'statement.%' ORDER BY id`)
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
		if bytes.Contains(payload, []byte(a.CitizenID.String())) || bytes.Contains(payload, []byte("citizen")) {
			t.Errorf("event %s names the citizen: %s", typ, payload)
		}
		var ev struct {
			CooperativeID uuid.UUID `json:"cooperative_id"`
			Month         string    `json:"month"`
			Version       int64     `json:"version"`
			Total         *int64    `json:"total_amount_cents"`
			Lines         []struct {
				AuthorizationID uuid.UUID `json:"authorization_id"`
			} `json:"lines"`
		}
		if err := json.Unmarshal(payload, &ev); err != nil {
			t.Fatal(err)
		}
		if ev.CooperativeID != s.Coop || ev.Month != "2025-05" || ev.Total == nil || len(ev.Lines) != 1 || ev.Lines[0].AuthorizationID != a.ID {
			t.Errorf("event %s: %s", typ, payload)
		}
	}
	if !slices.Equal(types, []string{"statement.submitted", "statement.returned", "statement.submitted", "statement.approved"}) {
		t.Errorf("events %v", types)
	}
	// The audit: each read and each transition names the citizen of each line.
	for action, n := range map[string]int{"statement.read": 3, "statement.submitted": 2, "statement.returned": 1, "statement.approved": 1} {
		if got := s.Count(`SELECT count(*) FROM audit_records WHERE action = $1 AND citizen_id = $2 AND resource_type = 'statement' AND resource_id = $3`,
			action, a.CitizenID.String(), s.Coop.String()+"/2025-05"); got != n {
			t.Errorf("%s: %d audit records, want %d", action, got, n)
		}
	}
}

// TestStatementScope: a cooperative sees only its own statements (another's is a 404), the
// comune's operators their comune's lines, ATS and Region nothing; approval needs a service
// manager whose reach covers every line.
func TestStatementScope(t *testing.T) {
	s := newSuite(t)
	a := s.authorized(nil)
	s.addVisits(a, visitRow{Day: "2025-05-05", Minutes: 60})
	azienda := s.Operator(auth.RoleServiceManager, s.Azienda, "azienda", "")
	ob := s.body()
	ob["istat_code"] = "016024" // Bergamo, by the azienda
	bg := s.create(azienda, ob)
	s.Must(200, s.Do("POST", "/v1/authorizations/"+bg.ID.String()+"/status", azienda, map[string]any{"status": "active", "reason": "PAI"}, &bg))
	s.addVisits(bg, visitRow{Day: "2025-05-05", Minutes: 30})
	p := stPath(s.Coop, "2025-05")

	coopB := uuid.Must(uuid.NewV7())
	coordB := s.Operator(auth.RoleCoopCoordinator, coopB, "cooperativa", "")
	s.Must(404, s.Do("GET", p, coordB, nil, nil))
	s.Must(404, s.Do("GET", p+"/export.csv", coordB, nil, nil))
	s.Must(404, s.Do("POST", p+"/submit", coordB, nil, nil))
	s.Must(403, s.Do("GET", "/v1/statements?month=2025-05&cooperative_id="+s.Coop.String(), coordB, nil, nil))
	var list interventions.StatementList
	s.Must(200, s.Do("GET", "/v1/statements?month=2025-05", coordB, nil, &list))
	if len(list.Items) != 0 {
		t.Errorf("cooperative B lists %+v", list)
	}
	for _, role := range []auth.Role{auth.RoleATSMonitor, auth.RoleRegionMonitor, auth.RoleEducator, auth.RoleAmbitoAdmin} {
		s.Must(403, s.Do("GET", p, s.tok(role), nil, nil))
	}
	// Another ambito's operators see nothing of it.
	other := s.Claims(auth.RoleServiceManager)
	other.AmbitoID = uuid.NewString()
	s.Must(404, s.Do("GET", p, s.Iss.Token(t, other), nil, nil))

	// The azienda sees both comuni's lines, Milano's service manager Milano's only.
	if st := s.statement(azienda, s.Coop, "2025-05"); len(st.Lines) != 2 || st.TotalAmount != 2150+1075 {
		t.Errorf("azienda: %+v", st)
	}
	mi := s.statement(s.tok(auth.RoleServiceManager), s.Coop, "2025-05")
	if len(mi.Lines) != 1 || mi.Lines[0].AuthorizationID != a.ID || mi.TotalAmount != 2150 || !mi.ComunePartOnly {
		t.Errorf("Milano: %+v", mi)
	}
	s.statement(s.tok(auth.RolePlanningOffice), s.Coop, "2025-05")
	s.Must(200, s.Do("GET", "/v1/statements?month=2025-05", azienda, nil, &list))
	if len(list.Items) != 1 || list.Items[0].CooperativeID != s.Coop || list.Items[0].Lines != 2 || list.Items[0].TotalAmount != 3225 {
		t.Errorf("the azienda lists %+v", list)
	}

	// A wide client cannot submit; the cooperative's client with statements:write can.
	s.Must(403, s.Do("POST", p+"/submit", s.Clients["statements"], nil, nil))
	coopClient := s.Iss.Token(t, auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: s.Ambito.String(), Role: auth.RoleClient,
		OrgID: s.Coop.String(), OrgKind: "cooperativa", Scopes: []string{interventions.ScopeStatementsRead, interventions.ScopeStatementsWrite}})
	var st interventions.Statement
	s.Must(200, s.Do("POST", p+"/submit", coopClient, nil, &st))
	if st.SubmittedBy == nil || st.SubmittedBy.Role != "client" {
		t.Errorf("submitted by %+v", st.SubmittedBy)
	}
	// Milano's service manager may not approve a statement with Bergamo's lines; the azienda's may.
	s.Must(403, s.Do("POST", p+"/approve", s.tok(auth.RoleServiceManager), nil, nil))
	s.Must(403, s.Do("POST", p+"/return", s.tok(auth.RoleServiceManager), map[string]any{"notes": "x"}, nil))
	s.Must(403, s.Do("POST", p+"/approve", s.tok(auth.RoleSocialWorker), nil, nil))
	s.Must(403, s.Do("POST", p+"/approve", s.tok(auth.RoleEducator), nil, nil))
	s.Must(403, s.Do("POST", p+"/approve", coopClient, nil, nil))
	s.Must(200, s.Do("POST", p+"/approve", azienda, nil, &st))
	if st.Status != interventions.StatementApproved || len(st.Lines) != 2 {
		t.Errorf("approved %+v", st)
	}
}

// TestStatementBadInput: bad paths and queries are 400 problems naming the field.
func TestStatementBadInput(t *testing.T) {
	s := newSuite(t)
	sm := s.tok(auth.RoleServiceManager)
	for path, field := range map[string]string{
		"/v1/statements/" + s.Coop.String() + "/2025-13":  "month",
		"/v1/statements/" + s.Coop.String() + "/2025-5":   "month",
		"/v1/statements/" + s.Coop.String() + "/1999-12":  "month",
		"/v1/statements/not-a-uuid/2025-05":               "cooperative_id",
		"/v1/statements?month=2025":                       "month",
		"/v1/statements":                                  "month",
		"/v1/statements?month=2025-05&cooperative_id=abc": "cooperative_id",
	} {
		resp := s.Do("GET", path, sm, nil, nil)
		if resp.StatusCode != 400 {
			t.Errorf("%s = %d", path, resp.StatusCode)
			continue
		}
		if f := servicetest.DecodeProblem(t, resp).Fields(); !slices.Contains(f, field) {
			t.Errorf("%s: fields %v, want %s", path, f, field)
		}
	}
}

// TestStatementExports: the CSV, XLSX and PDF exports carry the JSON's figures.
func TestStatementExports(t *testing.T) {
	s := newSuite(t)
	coord, sm := s.tok(auth.RoleCoopCoordinator), s.tok(auth.RoleServiceManager)
	a := s.authorized(nil)
	s.addVisits(a, visitRow{Day: "2025-05-05", Minutes: 45}, visitRow{Day: "2025-05-06", Minutes: 60, Absent: true},
		visitRow{Day: "2025-05-07", Minutes: 90, Excess: 30})
	b := s.authorized(map[string]any{"service_type": "ADM", "hourly_tariff_cents": 1990})
	s.addVisits(b, visitRow{Day: "2025-05-08", Minutes: 3})
	p := stPath(s.Coop, "2025-05")
	s.Must(200, s.Do("POST", p+"/submit", coord, nil, nil))
	s.Must(200, s.Do("POST", p+"/approve", sm, nil, nil))
	st := s.statement(coord, s.Coop, "2025-05")
	if len(st.Lines) != 2 || st.TotalAmount != 3763+100 {
		t.Fatalf("statement %+v", st)
	}

	// CSV: a header, a row per line, per service type, the total; the JSON's numbers.
	resp := s.Do("GET", p+"/export.csv", coord, nil, nil)
	s.Must(200, resp)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/csv") {
		t.Errorf("content type %s", ct)
	}
	rows, err := csv.NewReader(resp.Body).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1+2+2+1 || rows[0][0] != "kind" || rows[0][16] != "amount_cents" {
		t.Fatalf("csv %v", rows)
	}
	for i, l := range st.Lines {
		r := rows[1+i]
		want := []string{"line", s.Coop.String(), "2025-05", "approved", l.AuthorizationID.String(), l.CaseID.String(), l.CitizenID.String(),
			l.ISTATCode, l.ServiceType, l.INPSCode, fmt.Sprint(l.HourlyTariffCents), fmt.Sprint(l.AuthorizedMinutes), fmt.Sprint(l.DeliveredMinutes),
			fmt.Sprint(l.MissedVisits), fmt.Sprint(l.ExcessMinutes), fmt.Sprint(l.PayableMinutes), fmt.Sprint(l.AmountCents), fmt.Sprint(l.ExcessAmountCents)}
		if !slices.Equal(r, want) {
			t.Errorf("csv line %v, want %v", r, want)
		}
	}
	for i, tot := range st.ByServiceType {
		if r := rows[3+i]; r[0] != "service_type" || r[8] != tot.ServiceType || r[16] != fmt.Sprint(tot.AmountCents) {
			t.Errorf("csv total %v, want %+v", r, tot)
		}
	}
	if r := rows[5]; r[0] != "total" || r[16] != fmt.Sprint(st.TotalAmount) || r[17] != fmt.Sprint(st.TotalExcess) {
		t.Errorf("csv grand total %v", r)
	}

	// XLSX: numbers as numbers, money in euro with the euro format.
	resp = s.Do("GET", p+"/export.xlsx", sm, nil, nil)
	s.Must(200, resp)
	x, err := excelize.OpenReader(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	cell := func(col string, row int) string {
		v, err := x.GetCellValue(interventions.XLSXSheet, col+strconv.Itoa(row), excelize.Options{RawCellValue: true})
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
	cents := func(col string, row int) int64 {
		f, err := strconv.ParseFloat(cell(col, row), 64)
		if err != nil {
			t.Fatalf("%s%d: %v", col, row, err)
		}
		return int64(math.Round(f * 100))
	}
	if cell("B", 2) != s.Coop.String() || cell("B", 3) != "2025-05" || cell("B", 4) != "approved" {
		t.Errorf("xlsx head %s %s %s", cell("B", 2), cell("B", 3), cell("B", 4))
	}
	first := interventions.XLSXFirstRow + 1
	for i, l := range st.Lines {
		r := first + i
		if cell("B", r) != l.AuthorizationID.String() || cell("I", r) != fmt.Sprint(l.DeliveredMinutes) || cents("M", r) != l.AmountCents ||
			cents("G", r) != l.HourlyTariffCents || cents("N", r) != l.ExcessAmountCents {
			t.Errorf("xlsx row %d: %s %s %d", r, cell("B", r), cell("I", r), cents("M", r))
		}
		if typ, _ := x.GetCellType(interventions.XLSXSheet, "M"+strconv.Itoa(r)); typ == excelize.CellTypeInlineString || typ == excelize.CellTypeSharedString {
			t.Errorf("amount of row %d is text", r)
		}
	}
	if got := cents("M", first+4); cell("A", first+4) != "total" || got != st.TotalAmount {
		t.Errorf("xlsx total %s %d, want %d", cell("A", first+4), got, st.TotalAmount)
	}
	style, err := x.GetCellStyle(interventions.XLSXSheet, "M"+strconv.Itoa(first))
	if err != nil {
		t.Fatal(err)
	}
	if sty, err := x.GetStyle(style); err != nil || sty.CustomNumFmt == nil || !strings.Contains(*sty.CustomNumFmt, "€") {
		t.Errorf("amount style %+v %v", sty, err)
	}

	// PDF: a PDF, A4, whose text carries the figures.
	resp = s.Do("GET", p+"/export.pdf", sm, nil, nil)
	s.Must(200, resp)
	var body bytes.Buffer
	_, _ = body.ReadFrom(resp.Body)
	pdf := body.String()
	if resp.Header.Get("Content-Type") != "application/pdf" || !strings.HasPrefix(pdf, "%PDF-") {
		t.Fatalf("not a PDF: %.20q", pdf)
	}
	for _, want := range []string{"Rendiconto mensile 2025-05", s.Coop.String(), "approvato", a.ID.String(), b.ID.String(), "37,63", "10,75", "1,00",
		"Totale dovuto: EUR 38,63", "A2.07", "A2.02", "Approvato da", "/MediaBox [0 0 841.89 595.28]"} {
		if !strings.Contains(pdf, want) {
			t.Errorf("the PDF lacks %q", want)
		}
	}
	// Each export is audited like a read.
	if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'statement.export' AND citizen_id = $1`, a.CitizenID.String()); n != 3 {
		t.Errorf("%d export audit records", n)
	}
}

// TestStatementLocksTheMonth, end to end through the API: visits posted through /v1/visits make
// the statement's figures; a submitted month refuses new visits and voids (month_locked), a
// returned one takes them again, an approved one refuses them; another month stays open.
func TestStatementLocksTheMonth(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	sm := s.tok(auth.RoleServiceManager)
	var v interventions.Visit
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:30"), &v))
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-06", "09:00", "10:00"), nil))
	st := s.statement(f.coord, s.Coop, "2025-05")
	if l, ok := lineOf(t, st, f.auth.ID); !ok || l.DeliveredMinutes != 150 {
		t.Fatalf("line of the authorization: %+v (found %v), want 150 delivered minutes", l, ok)
	}
	locked := func(what string, resp *http.Response) {
		t.Helper()
		s.Must(409, resp)
		var p visitProblem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		if p.Code != interventions.CodeMonthLocked {
			t.Errorf("%s: code %q, want %s", what, p.Code, interventions.CodeMonthLocked)
		}
	}
	s.Must(200, s.Do("POST", stPath(s.Coop, "2025-05")+"/submit", f.coord, nil, nil))
	locked("a visit of a submitted month", s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-07", "09:00", "10:00"), nil))
	locked("a void in a submitted month", s.Do("POST", "/v1/visits/"+v.ID.String()+"/void", f.coord, map[string]any{"reason": "errore"}, nil))
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-06-02", "09:00", "10:00"), nil))

	s.Must(200, s.Do("POST", stPath(s.Coop, "2025-05")+"/return", sm, map[string]any{"notes": "Manca una visita"}, nil))
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-07", "09:00", "10:00"), nil))
	s.Must(200, s.Do("POST", stPath(s.Coop, "2025-05")+"/submit", f.coord, nil, nil))
	st = s.statement(sm, s.Coop, "2025-05")
	if l, _ := lineOf(t, st, f.auth.ID); l.DeliveredMinutes != 210 {
		t.Errorf("resubmitted: %d delivered minutes, want 210", l.DeliveredMinutes)
	}
	s.Must(200, s.Do("POST", stPath(s.Coop, "2025-05")+"/approve", sm, nil, nil))
	var batch struct {
		Results []struct {
			Status  int          `json:"status"`
			Problem visitProblem `json:"problem"`
		} `json:"results"`
	}
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": []any{
		visitBody(f.auth, f.educator, "2025-05-08", "09:00", "10:00")}}, &batch))
	if len(batch.Results) != 1 || batch.Results[0].Status != 409 || batch.Results[0].Problem.Code != interventions.CodeMonthLocked {
		t.Errorf("a batch item in an approved month: %+v", batch.Results)
	}
	if n := s.Count(`SELECT count(*) FROM visits WHERE day BETWEEN '2025-05-01' AND '2025-05-31'`); n != 3 {
		t.Errorf("%d visits stored in May, want 3", n)
	}
}
