package interventions_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// profile registers an operator of org with role in the identity double and returns their id
// and a token of theirs (a cooperative's operator when org is a cooperative).
func (s *suite) staff(role auth.Role, org uuid.UUID) (uuid.UUID, string) {
	id := uuid.Must(uuid.NewV7())
	s.identity.mu.Lock()
	if s.identity.operators == nil {
		s.identity.operators = map[uuid.UUID][]interventions.OperatorProfile{}
	}
	s.identity.operators[id] = append(s.identity.operators[id], interventions.OperatorProfile{OrganizationID: org, Role: role, ValidFrom: "2020-01-01"})
	s.identity.mu.Unlock()
	tok := s.Iss.Token(s.T, auth.Claims{Subject: id.String(), Kind: auth.KindOperator, AmbitoID: s.Ambito.String(), OrgID: org.String(),
		OrgKind: "cooperativa", Role: role, ProfileID: uuid.NewString()})
	return id, tok
}

// coopClient is a machine client bound to cooperative coop with scopes.
func (s *suite) coopClient(coop uuid.UUID, scopes ...string) string {
	return s.Iss.Token(s.T, auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: s.Ambito.String(), OrgID: coop.String(),
		OrgKind: "cooperativa", Role: auth.RoleClient, Scopes: scopes})
}

func visitBody(a interventions.Authorization, op uuid.UUID, date, start, end string) map[string]any {
	return map[string]any{"authorization_id": a.ID, "operator_id": op, "date": date, "start": start, "end": end,
		"activities": []string{"personal_care", "meal"}, "place": "home", "notes": "tutto regolare"}
}

// visitProblem is a problem with the visits' code.
type visitProblem struct {
	Status int    `json:"status"`
	Code   string `json:"code"`
	Errors []struct {
		Field string `json:"field"`
	} `json:"errors"`
}

func (p visitProblem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

type batchAnswer struct {
	Stored, Failed int
	Results        []struct {
		Index   int
		Status  int
		Visit   *interventions.Visit
		Problem *visitProblem
	}
}

// visitFixture is a suite with an active SAD authorization (4.5 hours a week, April to
// December 2025) and an educator of the cooperative.
type visitFixture struct {
	*suite
	auth     interventions.Authorization
	educator uuid.UUID
	eduTok   string
	coord    string
}

func newVisitFixture(t *testing.T) *visitFixture {
	s := newSuite(t)
	f := &visitFixture{suite: s, auth: s.active(s.body()), coord: s.tok(auth.RoleCoopCoordinator)}
	f.educator, f.eduTok = s.staff(auth.RoleEducator, s.Coop)
	return f
}

func (f *visitFixture) visits() int { return f.Count(`SELECT count(*) FROM visits`) }

// TestVisitRules: each rule, as a single POST and as the item of a batch, answered with the
// status, the field (visits[0]. in the batch) and the code; nothing stored for a refusal.
func TestVisitRules(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	sm := s.tok(auth.RoleServiceManager)
	draft := s.create(sm, s.body())
	suspended := s.active(s.body())
	s.Must(200, s.Do("POST", statusPath(suspended), sm, map[string]any{"status": "suspended", "reason": "ricovero"}, nil))
	closed := s.active(s.body())
	s.Must(200, s.Do("POST", statusPath(closed), sm, map[string]any{"status": "closed", "reason": "fine"}, nil))
	other := uuid.Must(uuid.NewV7()) // another cooperative, accredited too
	s.identity.accredit(s.Ambito, other, "SAD", "2025-01-01", "2025-12-31")
	ob := s.body()
	ob["cooperative_id"] = other
	otherAuth := s.active(ob)
	stranger, _ := s.staff(auth.RoleEducator, other)
	coordinator, _ := s.staff(auth.RoleCoopCoordinator, s.Coop)
	asa, asaTok := s.staff(auth.RoleASA, s.Coop)
	oss, _ := s.staff(auth.RoleOSS, s.Coop)
	// a stored visit the overlap rows meet, and an approved month (June 2025)
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-30", "09:00", "11:00"), nil))
	if _, err := s.App.Pool.Exec(t.Context(), `INSERT INTO statements (ambito_id, cooperative_id, month, status, data, version, created_at, updated_at)
		VALUES ($1, $2, '2025-06-01', 'approved', '{}', 1, now(), now())`, s.Ambito, s.Coop); err != nil {
		t.Fatal(err)
	}
	day := 0
	next := func() string { day++; return time.Date(2025, 7, day, 0, 0, 0, 0, time.UTC).Format(time.DateOnly) }
	for _, tc := range []struct {
		name   string
		token  string
		change func(b map[string]any)
		status int
		field  string
		code   string
	}{
		{"valid, by the coordinator", f.coord, func(map[string]any) {}, 201, "", ""},
		{"valid, by the educator", f.eduTok, func(map[string]any) {}, 201, "", ""},
		{"valid, an ASA's own", asaTok, func(b map[string]any) { b["operator_id"] = asa }, 201, "", ""},
		{"valid, an OSS by the coordinator", f.coord, func(b map[string]any) { b["operator_id"] = oss }, 201, "", ""},
		{"valid, by the cooperative's client", s.coopClient(s.Coop, interventions.ScopeVisitsWrite), func(map[string]any) {}, 201, "", ""},
		{"valid, absent, at school, until midnight", f.coord, func(b map[string]any) {
			b["absent"], b["place"], b["start"], b["end"] = true, "school", "22:00", "24:00"
		}, 201, "", ""},
		{"end before start", f.coord, func(b map[string]any) { b["end"] = "08:00" }, 400, "end", ""},
		{"end equal to start", f.coord, func(b map[string]any) { b["end"] = b["start"] }, 400, "end", ""},
		{"start not a time", f.coord, func(b map[string]any) { b["start"] = "9:00" }, 400, "start", ""},
		{"start 24:00", f.coord, func(b map[string]any) { b["start"] = "24:00" }, 400, "start", ""},
		{"date not a date", f.coord, func(b map[string]any) { b["date"] = "2025-02-30" }, 400, "date", ""},
		{"date in the future", f.coord, func(b map[string]any) { b["date"] = time.Now().AddDate(0, 0, 2).Format(time.DateOnly) }, 400, "date", ""},
		{"no activities", f.coord, func(b map[string]any) { b["activities"] = []string{} }, 400, "activities", ""},
		{"an activity not coded", f.coord, func(b map[string]any) { b["activities"] = []string{"gardening"} }, 400, "activities[0]", ""},
		{"an activity twice", f.coord, func(b map[string]any) { b["activities"] = []string{"meal", "meal"} }, 400, "activities[1]", ""},
		{"place unknown", f.coord, func(b map[string]any) { b["place"] = "hospital" }, 400, "place", ""},
		{"notes too long", f.coord, func(b map[string]any) { b["notes"] = strings.Repeat("a", 501) }, 400, "notes", ""},
		{"no authorization", f.coord, func(b map[string]any) { delete(b, "authorization_id") }, 400, "authorization_id", ""},
		{"no operator", f.coord, func(b map[string]any) { delete(b, "operator_id") }, 400, "operator_id", ""},
		{"before the period", f.coord, func(b map[string]any) { b["date"] = "2025-03-31" }, 422, "date", interventions.CodeOutsidePeriod},
		// A draft is not yet the cooperative's: as if it did not exist.
		{"draft authorization", f.coord, func(b map[string]any) { b["authorization_id"] = draft.ID }, 404, "authorization_id", interventions.CodeAuthorizationUnknown},
		{"suspended authorization", f.coord, func(b map[string]any) { b["authorization_id"] = suspended.ID }, 422, "authorization_id", interventions.CodeNotActive},
		{"closed authorization", f.coord, func(b map[string]any) { b["authorization_id"] = closed.ID }, 422, "authorization_id", interventions.CodeNotActive},
		{"unknown authorization", f.coord, func(b map[string]any) { b["authorization_id"] = uuid.New() }, 404, "authorization_id", interventions.CodeAuthorizationUnknown},
		{"another cooperative's authorization", f.coord, func(b map[string]any) { b["authorization_id"] = otherAuth.ID }, 404, "authorization_id", interventions.CodeAuthorizationUnknown},
		{"an operator of another cooperative", f.coord, func(b map[string]any) { b["operator_id"] = stranger }, 422, "operator_id", interventions.CodeNotOfCooperative},
		{"an operator identity does not know", f.coord, func(b map[string]any) { b["operator_id"] = uuid.New() }, 422, "operator_id", interventions.CodeNotOfCooperative},
		{"a coordinator makes no visits", f.coord, func(b map[string]any) { b["operator_id"] = coordinator }, 422, "operator_id", interventions.CodeNotOfCooperative},
		{"an educator records another's", f.eduTok, func(b map[string]any) { b["operator_id"] = asa }, 403, "operator_id", "not_own_visit"},
		{"overlaps a stored visit", f.coord, func(b map[string]any) { b["date"], b["start"], b["end"] = "2025-05-30", "10:30", "12:00" }, 422, "start", interventions.CodeOverlap},
		{"inside a stored visit", f.coord, func(b map[string]any) { b["date"], b["start"], b["end"] = "2025-05-30", "09:15", "09:45" }, 422, "start", interventions.CodeOverlap},
		{"an approved month", f.coord, func(b map[string]any) { b["date"] = "2025-06-10" }, 409, "date", interventions.CodeMonthLocked},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, batch := range []bool{false, true} {
				b := visitBody(f.auth, f.educator, next(), "09:00", "10:00")
				tc.change(b)
				before := f.visits()
				if !batch {
					resp := s.Do("POST", "/v1/visits", tc.token, b, nil)
					if resp.StatusCode != tc.status {
						body, _ := io.ReadAll(resp.Body)
						t.Fatalf("POST = %d, want %d: %s", resp.StatusCode, tc.status, body)
					}
					if tc.status != 201 {
						var p visitProblem
						if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
							t.Fatal(err)
						}
						if !slices.Contains(p.fields(), tc.field) || p.Code != tc.code {
							t.Errorf("POST: fields %v code %q, want %s %q", p.fields(), p.Code, tc.field, tc.code)
						}
					}
				} else {
					var got batchAnswer
					s.Must(200, s.Do("POST", "/v1/visits:batch", tc.token, map[string]any{"visits": []any{b}}, &got))
					r := got.Results[0]
					if r.Status != tc.status {
						t.Fatalf("batch item = %d, want %d (%+v)", r.Status, tc.status, r.Problem)
					}
					if tc.status != 201 && (!slices.Contains(r.Problem.fields(), "visits[0]."+tc.field) || r.Problem.Code != tc.code) {
						t.Errorf("batch: fields %v code %q, want visits[0].%s %q", r.Problem.fields(), r.Problem.Code, tc.field, tc.code)
					}
				}
				want := before
				if tc.status == 201 {
					want++
				}
				if n := f.visits(); n != want {
					t.Errorf("batch %v: %d visits stored, want %d", batch, n, want)
				}
			}
		})
	}
	t.Run("a comune's operators do not write visits", func(t *testing.T) {
		for _, role := range []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker} {
			s.Must(403, s.Do("POST", "/v1/visits", s.tok(role), visitBody(f.auth, f.educator, next(), "09:00", "10:00"), nil))
		}
	})
	t.Run("batch envelope", func(t *testing.T) {
		s.Must(400, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": []any{}}, nil))
		many := make([]any, interventions.MaxBatch+1)
		for i := range many {
			many[i] = map[string]any{}
		}
		resp := s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": many}, nil)
		s.Must(400, resp)
		var p visitProblem
		_ = json.NewDecoder(resp.Body).Decode(&p)
		if !slices.Contains(p.fields(), "visits") {
			t.Errorf("1001 visits: fields %v, want visits", p.fields())
		}
	})
}

// TestVisitBatchMixed: the valid visits of a batch are stored, the invalid ones answered by
// index and field; overlaps inside the batch are caught.
// TestVisitBatchLargest: the largest batch, 1,000 visits with notes of 500 characters that are
// two bytes each in UTF-8 (1.3 MB, above the default JSON limit of 1 MiB), is stored whole.
func TestVisitBatchLargest(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	notes := strings.Repeat("è", 500)
	day := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	items := make([]any, 0, interventions.MaxBatch)
	for i := range interventions.MaxBatch {
		d := day.AddDate(0, 0, i/20).Format(time.DateOnly)
		from := time.Date(0, 1, 1, 7, 0, 0, 0, time.UTC).Add(time.Duration(i%20) * 30 * time.Minute)
		b := visitBody(f.auth, f.educator, d, from.Format("15:04"), from.Add(30*time.Minute).Format("15:04"))
		b["notes"] = notes
		items = append(items, b)
	}
	body, err := json.Marshal(map[string]any{"visits": items})
	if err != nil {
		t.Fatal(err)
	}
	if len(body) <= 1<<20 {
		t.Fatalf("the batch is %d bytes, want more than 1 MiB", len(body))
	}
	var got batchAnswer
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, json.RawMessage(body), &got, "Idempotency-Key", "largest"))
	if got.Stored != interventions.MaxBatch || got.Failed != 0 || f.visits() != interventions.MaxBatch {
		t.Errorf("stored %d, failed %d, %d in the database; want all %d", got.Stored, got.Failed, f.visits(), interventions.MaxBatch)
	}
}

func TestVisitBatchMixed(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	asa, _ := s.staff(auth.RoleASA, s.Coop)
	items := []any{
		visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:00"),
		visitBody(f.auth, f.educator, "2025-05-05", "11:00", "10:00"), // end before start
		visitBody(f.auth, f.educator, "2025-05-05", "09:30", "10:30"), // overlaps item 0
		visitBody(f.auth, asa, "2025-05-05", "09:30", "10:30"),        // another operator: fine
		visitBody(f.auth, f.educator, "2025-03-05", "09:00", "10:00"), // outside the period
		visitBody(f.auth, f.educator, "2025-05-05", "10:00", "11:00"), // touches item 0: fine
	}
	var got batchAnswer
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": items}, &got))
	want := []struct {
		status int
		field  string
	}{{201, ""}, {400, "visits[1].end"}, {422, "visits[2].start"}, {201, ""}, {422, "visits[4].date"}, {201, ""}}
	if got.Stored != 3 || got.Failed != 3 || len(got.Results) != len(want) {
		t.Fatalf("stored %d failed %d results %d", got.Stored, got.Failed, len(got.Results))
	}
	for i, w := range want {
		r := got.Results[i]
		if r.Index != i || r.Status != w.status {
			t.Errorf("result %d: index %d status %d, want %d", i, r.Index, r.Status, w.status)
			continue
		}
		if w.status == 201 {
			if r.Visit == nil || r.Visit.Minutes != 60 || r.Visit.CitizenID != f.auth.CitizenID {
				t.Errorf("result %d: visit %+v", i, r.Visit)
			}
			continue
		}
		if !slices.Contains(r.Problem.fields(), w.field) {
			t.Errorf("result %d: fields %v, want %s", i, r.Problem.fields(), w.field)
		}
	}
	if n := f.visits(); n != 3 {
		t.Errorf("%d visits stored, want 3", n)
	}
}

// TestVisitBatchIdempotent: a retry with the same key answers the same bytes and stores
// nothing twice; so does a retry after the first request's connection was cut.
func TestVisitBatchIdempotent(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	items := []any{
		visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:00"),
		visitBody(f.auth, f.educator, "2025-05-06", "09:00", "08:00"),
	}
	body := map[string]any{"visits": items}
	first := s.Do("POST", "/v1/visits:batch", f.coord, body, nil, "Idempotency-Key", "batch-1")
	s.Must(200, first)
	again := s.Do("POST", "/v1/visits:batch", f.coord, body, nil, "Idempotency-Key", "batch-1")
	s.Must(200, again)
	a, _ := io.ReadAll(first.Body)
	b, _ := io.ReadAll(again.Body)
	if !bytes.Equal(a, b) || again.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("the retry answered other bytes (replayed %q):\n%s\n%s", again.Header.Get("Idempotent-Replayed"), a, b)
	}
	if n := f.visits(); n != 1 {
		t.Errorf("%d visits after a retry, want 1", n)
	}
	// The single POST too.
	one := visitBody(f.auth, f.educator, "2025-05-07", "09:00", "10:00")
	var v1, v2 interventions.Visit
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, one, &v1, "Idempotency-Key", "one-1"))
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, one, &v2, "Idempotency-Key", "one-1"))
	if v1.ID != v2.ID || f.visits() != 2 {
		t.Errorf("single retry: %s then %s, %d visits", v1.ID, v2.ID, f.visits())
	}

	// The connection cut once the request is sent: the request runs to its end (the
	// middleware detaches it from the client), and the retry gets its answer.
	raw, _ := json.Marshal(map[string]any{"visits": []any{visitBody(f.auth, f.educator, "2025-05-08", "09:00", "10:00")}})
	addr := strings.TrimPrefix(s.Srv.URL, "http://")
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /v1/visits:batch HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nIdempotency-Key: cut-1\r\nContent-Length: %d\r\n\r\n%s",
		addr, f.coord, len(raw), raw)
	_ = conn.Close()
	deadline := time.Now().Add(10 * time.Second)
	var got batchAnswer
	for {
		resp := s.Do("POST", "/v1/visits:batch", f.coord, json.RawMessage(raw), &got, "Idempotency-Key", "cut-1")
		if resp.StatusCode == 200 {
			break
		}
		if resp.StatusCode != 409 || time.Now().After(deadline) {
			s.Must(200, resp)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if got.Stored != 1 || f.Count(`SELECT count(*) FROM visits WHERE day = '2025-05-08'`) != 1 {
		t.Errorf("after the cut and the retry: stored %d, %d rows", got.Stored, f.Count(`SELECT count(*) FROM visits WHERE day = '2025-05-08'`))
	}
}

// TestVisitExcess: hours beyond the authorization are accepted and flagged, per ISO week for a
// per_week authorization and over the period for a total one; absent visits count none.
func TestVisitExcess(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	// 4.5 hours a week: 270 minutes. Week of Monday 2025-05-05.
	items := []any{
		visitBody(f.auth, f.educator, "2025-05-05", "09:00", "11:00"), // 120
		visitBody(f.auth, f.educator, "2025-05-06", "09:00", "11:00"), // 240
		visitBody(f.auth, f.educator, "2025-05-07", "09:00", "10:00"), // 300: 30 beyond
		visitBody(f.auth, f.educator, "2025-05-12", "09:00", "10:00"), // the next week
	}
	absent := visitBody(f.auth, f.educator, "2025-05-08", "09:00", "12:00")
	absent["absent"] = true
	items = append(items, absent)
	var got batchAnswer
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": items}, &got))
	for i, want := range []int{0, 0, 30, 0, 0} {
		if r := got.Results[i]; r.Visit == nil || r.Visit.ExcessMinutes != want {
			t.Errorf("visit %d: %+v, want excess %d", i, r.Visit, want)
		}
	}
	// A later request of the same week: all of it beyond (Sunday 2025-05-11).
	var v interventions.Visit
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-11", "09:00", "09:45"), &v))
	if v.ExcessMinutes != 45 {
		t.Errorf("Sunday's visit: excess %d, want 45", v.ExcessMinutes)
	}
	// In total: 3 hours over the period.
	b := s.body()
	b["hours"] = map[string]any{"total": 3}
	total := s.active(b)
	var tot batchAnswer
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": []any{
		visitBody(total, f.educator, "2025-07-01", "09:00", "11:00"),
		visitBody(total, f.educator, "2025-09-01", "09:00", "11:00"),
	}}, &tot))
	if tot.Results[0].Visit.ExcessMinutes != 0 || tot.Results[1].Visit.ExcessMinutes != 60 {
		t.Errorf("total: excess %d and %d, want 0 and 60", tot.Results[0].Visit.ExcessMinutes, tot.Results[1].Visit.ExcessMinutes)
	}
}

// TestVisitVoid: a visit voided with a reason and replaced; both stay visible; a voided visit
// cannot be voided again; voids of an approved month are refused.
func TestVisitVoid(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	var v interventions.Visit
	s.Must(201, s.Do("POST", "/v1/visits", f.eduTok, visitBody(f.auth, f.educator, "2025-05-05", "09:00", "11:00"), &v))
	path := "/v1/visits/" + v.ID.String() + "/void"
	s.Must(400, s.Do("POST", path, f.coord, map[string]any{"reason": ""}, nil))
	// the replacement takes part of the voided visit's time: allowed, the voided one no longer counts
	repl := visitBody(f.auth, f.educator, "2025-05-05", "09:30", "11:00")
	var res, again interventions.VoidResult
	s.Must(200, s.Do("POST", path, f.eduTok, map[string]any{"reason": "orario errato", "replacement": repl}, &res, "Idempotency-Key", "void-1"))
	// a retry with the key: the same answer, no second replacement
	s.Must(200, s.Do("POST", path, f.eduTok, map[string]any{"reason": "orario errato", "replacement": repl}, &again, "Idempotency-Key", "void-1"))
	if res.Replacement == nil || again.Replacement == nil || again.Replacement.ID != res.Replacement.ID || f.visits() != 2 {
		t.Fatalf("void retried: %+v then %+v, %d visits", res.Replacement, again.Replacement, f.visits())
	}
	if res.Voided.Status != "voided" || res.Voided.Voided == nil || res.Voided.Voided.Reason != "orario errato" || res.Replacement == nil ||
		res.Voided.Voided.ReplacedBy == nil || *res.Voided.Voided.ReplacedBy != res.Replacement.ID ||
		res.Replacement.Replaces == nil || *res.Replacement.Replaces != v.ID || res.Replacement.Minutes != 90 {
		t.Fatalf("void: %+v", res)
	}
	var got interventions.Visit
	s.Must(200, s.Do("GET", "/v1/visits/"+v.ID.String(), f.coord, nil, &got))
	if got.Status != "voided" || got.Voided == nil || got.Voided.By.Role != "educator" {
		t.Errorf("the voided visit: %+v", got)
	}
	var page struct{ Items []interventions.Visit }
	s.Must(200, s.Do("GET", "/v1/visits?authorization_id="+f.auth.ID.String(), f.coord, nil, &page))
	if len(page.Items) != 2 {
		t.Errorf("list: %d visits, want both", len(page.Items))
	}
	s.Must(200, s.Do("GET", "/v1/visits?status=voided", f.coord, nil, &page))
	if len(page.Items) != 1 || page.Items[0].ID != v.ID {
		t.Errorf("voided list: %+v", page.Items)
	}
	resp := s.Do("POST", path, f.coord, map[string]any{"reason": "di nuovo"}, nil)
	s.Must(409, resp)
	var p visitProblem
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if p.Code != interventions.CodeAlreadyVoided {
		t.Errorf("void twice: code %q", p.Code)
	}
	// A replacement breaking a rule leaves the visit valid.
	var w interventions.Visit
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-06", "09:00", "10:00"), &w))
	bad := visitBody(f.auth, f.educator, "2025-05-06", "09:00", "08:00")
	resp = s.Do("POST", "/v1/visits/"+w.ID.String()+"/void", f.coord, map[string]any{"reason": "errore", "replacement": bad}, nil)
	s.Must(400, resp)
	p = visitProblem{}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if !slices.Contains(p.fields(), "replacement.end") {
		t.Errorf("bad replacement: fields %v", p.fields())
	}
	s.Must(200, s.Do("GET", "/v1/visits/"+w.ID.String(), f.coord, nil, &got))
	if got.Status != "valid" {
		t.Errorf("a refused void changed the visit: %s", got.Status)
	}
	// another educator may not void it
	_, otherTok := s.staff(auth.RoleEducator, s.Coop)
	s.Must(403, s.Do("POST", "/v1/visits/"+w.ID.String()+"/void", otherTok, map[string]any{"reason": "no"}, nil))
	// the month approved: locked
	if _, err := s.App.Pool.Exec(t.Context(), `INSERT INTO statements (ambito_id, cooperative_id, month, status, data, version, created_at, updated_at)
		VALUES ($1, $2, '2025-05-01', 'approved', '{}', 1, now(), now())`, s.Ambito, s.Coop); err != nil {
		t.Fatal(err)
	}
	resp = s.Do("POST", "/v1/visits/"+w.ID.String()+"/void", f.coord, map[string]any{"reason": "tardi"}, nil)
	s.Must(409, resp)
	p = visitProblem{}
	_ = json.NewDecoder(resp.Body).Decode(&p)
	if p.Code != interventions.CodeMonthLocked {
		t.Errorf("void in an approved month: code %q", p.Code)
	}
	// events: visits.recorded per authorization and request, visit.voided per void
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'visit.voided' AND aggregate_id = $1`, v.ID.String()); n != 1 {
		t.Errorf("%d visit.voided events", n)
	}
}

// TestVoidRecountsExcess: a void gives its minutes back to the visits of its week, counted
// again in start order; a visit of a month already submitted keeps its excess (its minutes still
// count); the statement pays what is no longer excess.
func TestVoidRecountsExcess(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	// 4.5 hours a week (270 minutes); the week of Monday 2025-06-30 spans June and July.
	post := func(day, start, end string) interventions.Visit {
		t.Helper()
		var v interventions.Visit
		s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, day, start, end), &v))
		return v
	}
	tue := post("2025-07-01", "09:00", "13:00") // 240: none beyond
	mon := post("2025-06-30", "09:00", "11:00") // recorded after Tuesday's: 90 beyond
	wed := post("2025-07-02", "09:00", "10:00") // 60 beyond
	if tue.ExcessMinutes != 0 || mon.ExcessMinutes != 90 || wed.ExcessMinutes != 60 {
		t.Fatalf("excess as recorded: %d, %d, %d; want 0, 90, 60", tue.ExcessMinutes, mon.ExcessMinutes, wed.ExcessMinutes)
	}
	s.statement(f.coord, s.Coop, "2025-06")
	s.Must(200, s.Do("POST", stPath(s.Coop, "2025-06")+"/submit", f.coord, nil, nil))

	s.Must(200, s.Do("POST", "/v1/visits/"+tue.ID.String()+"/void", f.coord, map[string]any{"reason": "visita duplicata"}, nil))
	get := func(v interventions.Visit) int {
		t.Helper()
		var got interventions.Visit
		s.Must(200, s.Do("GET", "/v1/visits/"+v.ID.String(), f.coord, nil, &got))
		return got.ExcessMinutes
	}
	if e := get(mon); e != 90 {
		t.Errorf("Monday's visit, in the submitted June: excess %d, want 90 kept", e)
	}
	if e := get(wed); e != 0 {
		t.Errorf("Wednesday's visit after the void: excess %d, want 0 (Monday's 120 minutes leave 150)", e)
	}
	if l, ok := lineOf(t, s.statement(f.coord, s.Coop, "2025-07"), f.auth.ID); !ok || l.DeliveredMinutes != 60 || l.ExcessMinutes != 0 || l.PayableMinutes != 60 {
		t.Errorf("July's line after the void: %+v (found %v), want 60 delivered, none excess, 60 payable", l, ok)
	}
	// The void's event names the visit it changed, with its new excess.
	var payload string
	if err := s.App.Pool.QueryRow(t.Context(), `SELECT payload->>'recounted' FROM outbox WHERE type = 'visit.voided' AND aggregate_id = $1`,
		tue.ID.String()).Scan(&payload); err != nil {
		t.Fatal(err)
	}
	var rec []struct {
		ID            uuid.UUID `json:"id"`
		ExcessMinutes int       `json:"excess_minutes"`
	}
	if err := json.Unmarshal([]byte(payload), &rec); err != nil || len(rec) != 1 || rec[0].ID != wed.ID || rec[0].ExcessMinutes != 0 {
		t.Errorf("visit.voided recounted = %s (%v), want Wednesday's visit with 0", payload, err)
	}
	// Replaced by a longer visit: counted as recording counts it, and again by the void.
	var res interventions.VoidResult
	s.Must(200, s.Do("POST", "/v1/visits/"+wed.ID.String()+"/void", f.coord, map[string]any{"reason": "orario errato",
		"replacement": visitBody(f.auth, f.educator, "2025-07-02", "09:00", "12:30")}, &res))
	if res.Replacement == nil || res.Replacement.ExcessMinutes != 60 || get(*res.Replacement) != 60 {
		t.Errorf("the replacement of 210 minutes: %+v, want 60 beyond the 150 left", res.Replacement)
	}
}

// TestVisitScope: cooperative A never sees nor voids B's visits.
func TestVisitScope(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	var v interventions.Visit
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:00"), &v))
	other := uuid.Must(uuid.NewV7())
	coordB := s.Operator(auth.RoleCoopCoordinator, other, "cooperativa", "")
	clientB := s.coopClient(other, interventions.ScopeVisitsRead, interventions.ScopeVisitsWrite)
	for _, tok := range []string{coordB, clientB} {
		s.Must(404, s.Do("GET", "/v1/visits/"+v.ID.String(), tok, nil, nil))
		s.Must(404, s.Do("POST", "/v1/visits/"+v.ID.String()+"/void", tok, map[string]any{"reason": "mio"}, nil))
		var page struct{ Items []interventions.Visit }
		s.Must(200, s.Do("GET", "/v1/visits", tok, nil, &page))
		if len(page.Items) != 0 {
			t.Errorf("B lists %d of A's visits", len(page.Items))
		}
	}
	// A's client and A's roles see it; the comune's social worker too (its comune's authorization)
	for _, tok := range []string{s.coopClient(s.Coop, interventions.ScopeVisitsRead), s.tok(auth.RoleSocialWorker), s.tok(auth.RolePlanningOffice)} {
		var page struct{ Items []interventions.Visit }
		s.Must(200, s.Do("GET", "/v1/visits?month=2025-05", tok, nil, &page))
		if len(page.Items) != 1 {
			t.Errorf("%d visits listed, want 1", len(page.Items))
		}
	}
	// another comune's social worker does not
	sw := s.Operator(auth.RoleSocialWorker, uuid.New(), "comune", "015027")
	s.Must(404, s.Do("GET", "/v1/visits/"+v.ID.String(), sw, nil, nil))
	s.Must(400, s.Do("GET", "/v1/visits?month=2025-13", f.coord, nil, nil))
}

// TestVisitEventsAndAudit: one visits.recorded per authorization per request, listing the
// visit ids without the notes; one audit record per authorization with the citizen.
func TestVisitEventsAndAudit(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	second := s.active(s.body())
	var got batchAnswer
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": []any{
		visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:00"),
		visitBody(f.auth, f.educator, "2025-05-06", "09:00", "10:00"),
		visitBody(second, f.educator, "2025-05-07", "09:00", "10:00"),
	}}, &got))
	rows, err := s.App.Pool.Query(t.Context(), `SELECT aggregate_id, payload FROM outbox WHERE type = 'visits.recorded'`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var agg string
		var payload []byte
		if err := rows.Scan(&agg, &payload); err != nil {
			t.Fatal(err)
		}
		n++
		var ev struct {
			VisitIDs []uuid.UUID `json:"visit_ids"`
		}
		_ = json.Unmarshal(payload, &ev)
		want := 1
		if agg == f.auth.ID.String() {
			want = 2
		}
		if len(ev.VisitIDs) != want || bytes.Contains(payload, []byte("regolare")) {
			t.Errorf("event of %s: %s", agg, payload)
		}
	}
	if n != 2 {
		t.Errorf("%d visits.recorded events, want 2", n)
	}
	if c := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'visit.record' AND resource_id = $1 AND citizen_id = $2
		AND details->>'visits' = '2'`, f.auth.ID.String(), f.auth.CitizenID.String()); c != 1 {
		t.Errorf("%d audit records of the first authorization's visits", c)
	}
	before := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'visit.read'`)
	s.Must(200, s.Do("GET", "/v1/visits/"+got.Results[0].Visit.ID.String(), s.tok(auth.RoleSocialWorker), nil, nil))
	if after := s.Count(`SELECT count(*) FROM audit_records WHERE action = 'visit.read' AND citizen_id = $1`, f.auth.CitizenID.String()); after != before+1 {
		t.Errorf("read: %d audit records", after)
	}
}

// TestVisitIdentityDown: an operator's profiles cached, identity down does not block; not
// cached, 503 and nothing stored.
func TestVisitIdentityDown(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:00"), nil))
	s.identity.setDown(true)
	s.Must(201, s.Do("POST", "/v1/visits", f.coord, visitBody(f.auth, f.educator, "2025-05-06", "09:00", "10:00"), nil))
	asa, _ := s.staff(auth.RoleASA, s.Coop)
	before := f.visits()
	resp := s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": []any{
		visitBody(f.auth, f.educator, "2025-05-07", "09:00", "10:00"),
		visitBody(f.auth, asa, "2025-05-07", "09:00", "10:00"),
	}}, nil)
	s.Must(503, resp)
	if resp.Header.Get("Retry-After") == "" || f.visits() != before {
		t.Errorf("identity down: Retry-After %q, %d visits (was %d)", resp.Header.Get("Retry-After"), f.visits(), before)
	}
	s.identity.setDown(false)
}

// TestVisitOverlapRace: two concurrent requests for the same operator's slot, on two
// authorizations (their locks do not serialize them): exactly one is stored, the other is the
// overlap problem, never a 500.
func TestVisitOverlapRace(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	second := s.active(s.body())
	for round := range 10 {
		date := fmt.Sprintf("2025-06-%02d", round+1)
		// Even rounds: both requests held after their overlap query (neither sees the other's
		// visit), so that the exclusion constraint decides; odd rounds: free-running.
		if round%2 == 0 {
			var arrived sync.WaitGroup
			arrived.Add(2)
			restore := interventions.SetBeforeInsert(func() {
				arrived.Done()
				done := make(chan struct{})
				go func() { arrived.Wait(); close(done) }()
				select {
				case <-done:
				case <-time.After(5 * time.Second):
				}
			})
			defer restore()
		} else {
			interventions.SetBeforeInsert(nil)
		}
		var wg sync.WaitGroup
		statuses := make([]int, 2)
		for i, a := range []interventions.Authorization{f.auth, second} {
			wg.Add(1)
			go func() {
				defer wg.Done()
				raw, _ := json.Marshal(visitBody(a, f.educator, date, "09:00", "10:00"))
				req, _ := http.NewRequestWithContext(context.Background(), "POST", s.Srv.URL+"/v1/visits", bytes.NewReader(raw))
				req.Header.Set("Content-Type", "application/json")
				req.Header.Set("Authorization", "Bearer "+f.coord)
				req.Header.Set("Idempotency-Key", fmt.Sprintf("race-%d-%d", round, i))
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				statuses[i] = resp.StatusCode
			}()
		}
		wg.Wait()
		slices.Sort(statuses)
		if statuses[0] != 201 || statuses[1] != 422 {
			t.Errorf("round %d: statuses %v, want one 201 and one 422", round, statuses)
		}
		if n := s.Count(`SELECT count(*) FROM visits WHERE day = $1`, date); n != 1 {
			t.Errorf("round %d: %d visits stored", round, n)
		}
	}
}

// visitCalls are the visits' rows of the role × endpoint table: the coordinator and clients
// with visits:write write any operator's visits of the cooperative; an educator, ASA or OSS
// only their own (the table's visits are another educator's: 403).
func visitCalls(s *suite) []servicetest.Call {
	a := s.active(s.body())
	edu, _ := s.staff(auth.RoleEducator, s.Coop)
	n := 0
	fresh := func() map[string]any {
		n++
		day := time.Date(2025, 4, 1+n/20, 8, 0, 0, 0, time.UTC)
		start := day.Add(time.Duration(n%20) * 30 * time.Minute)
		return visitBody(a, edu, day.Format(time.DateOnly), start.Format("15:04"), start.Add(15*time.Minute).Format("15:04"))
	}
	coord := s.tok(auth.RoleCoopCoordinator)
	newVisit := func() string {
		var v interventions.Visit
		s.Must(201, s.Do("POST", "/v1/visits", coord, fresh(), &v))
		return "/v1/visits/" + v.ID.String()
	}
	vp := newVisit()
	own := func(role auth.Role) int {
		if role == auth.RoleCoopCoordinator {
			return 0
		}
		return 403
	}
	visitReaders := append([]auth.Role{auth.RolePlanningOffice}, append(writers, coopRoles...)...)
	return []servicetest.Call{
		{Name: "record visit", Method: "POST", Path: "/v1/visits", Body: func() any { return fresh() }, Roles: coopRoles, OK: 201,
			Status: own, Clients: map[string]int{"visits": 201}},
		{Name: "record visits", Method: "POST", Path: "/v1/visits:batch", Body: func() any { return map[string]any{"visits": []any{fresh()}} },
			Roles: coopRoles, OK: 200, Clients: map[string]int{"visits": 200}},
		{Name: "list visits", Method: "GET", Path: "/v1/visits", Roles: visitReaders, OK: 200, Clients: map[string]int{"visits": 200}},
		{Name: "get visit", Method: "GET", Path: vp, Roles: visitReaders, OK: 200, Clients: map[string]int{"visits": 200}},
		{Name: "void visit", Method: "POST", Path: vp + "/void", Fresh: func() string { return newVisit() + "/void" },
			Body: func() any { return map[string]any{"reason": "registrata due volte"} }, Roles: coopRoles, OK: 200, Status: own,
			Clients: map[string]int{"visits": 200}},
	}
}

// BenchmarkBatch posts batches of 1,000 visits (100 authorizations, 200 operators, no two
// visits overlapping) through the HTTP handler, each with its Idempotency-Key, and reports the
// visits stored per second.
func BenchmarkBatch(b *testing.B) {
	s := newSuite(b)
	auths := make([]interventions.Authorization, 100)
	for i := range auths {
		auths[i] = s.active(s.body())
	}
	ops := make([]uuid.UUID, 200)
	for i := range ops {
		ops[i], _ = s.staff(auth.RoleOSS, s.Coop)
	}
	client := s.coopClient(s.Coop, interventions.ScopeVisitsWrite)
	slot := 0 // every operator's next free hour: 16 a day from 06:00, April to December 2025
	batch := func() []byte {
		items := make([]any, 1000)
		for k := range items {
			n := slot*1000 + k
			op := n % len(ops)
			c := n / len(ops)
			day := time.Date(2025, 4, 1+c/16, 6+c%16, 0, 0, 0, time.UTC)
			items[k] = visitBody(auths[n%len(auths)], ops[op], day.Format(time.DateOnly), day.Format("15:04"), day.Add(45*time.Minute).Format("15:04"))
		}
		slot++
		raw, _ := json.Marshal(map[string]any{"visits": items})
		return raw
	}
	httpc := s.Srv.Client()
	for i := 0; b.Loop(); i++ {
		b.StopTimer()
		raw := batch()
		b.StartTimer()
		req, _ := http.NewRequest("POST", s.Srv.URL+"/v1/visits:batch", bytes.NewReader(raw))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Authorization", "Bearer "+client)
		req.Header.Set("Idempotency-Key", fmt.Sprintf("bench-%d", i))
		resp, err := httpc.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		var got batchAnswer
		err = json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if err != nil || resp.StatusCode != 200 || got.Stored != 1000 {
			b.Fatalf("batch %d: %d stored %d: %v %+v", i, resp.StatusCode, got.Stored, err, got.Results[0].Problem)
		}
	}
	b.ReportMetric(float64(b.N*1000)/b.Elapsed().Seconds(), "visits/s")
}

// TestVisitList: pages by cursor, newest first, with the filters bound to the cursor.
func TestVisitList(t *testing.T) {
	f := newVisitFixture(t)
	s := f.suite
	var got batchAnswer
	s.Must(200, s.Do("POST", "/v1/visits:batch", f.coord, map[string]any{"visits": []any{
		visitBody(f.auth, f.educator, "2025-05-05", "09:00", "10:00"),
		visitBody(f.auth, f.educator, "2025-05-06", "09:00", "10:00"),
		visitBody(f.auth, f.educator, "2025-06-06", "09:00", "10:00"),
	}}, &got))
	var p1, p2 struct {
		Items      []interventions.Visit
		NextCursor string `json:"next_cursor"`
	}
	s.Must(200, s.Do("GET", "/v1/visits?limit=2&operator_id="+f.educator.String(), f.coord, nil, &p1))
	if len(p1.Items) != 2 || p1.NextCursor == "" || p1.Items[0].ID != got.Results[2].Visit.ID {
		t.Fatalf("first page: %d items, cursor %q", len(p1.Items), p1.NextCursor)
	}
	s.Must(200, s.Do("GET", "/v1/visits?limit=2&operator_id="+f.educator.String()+"&cursor="+p1.NextCursor, f.coord, nil, &p2))
	if len(p2.Items) != 1 || p2.NextCursor != "" || p2.Items[0].ID != got.Results[0].Visit.ID {
		t.Errorf("second page: %+v", p2)
	}
	s.Must(400, s.Do("GET", "/v1/visits?limit=2&cursor="+p1.NextCursor, f.coord, nil, nil))
	var may struct{ Items []interventions.Visit }
	s.Must(200, s.Do("GET", "/v1/visits?month=2025-05&authorization_id="+f.auth.ID.String(), f.coord, nil, &may))
	if len(may.Items) != 2 {
		t.Errorf("May: %d visits", len(may.Items))
	}
}
