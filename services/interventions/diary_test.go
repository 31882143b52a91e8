package interventions_test

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
)

// entry writes a diary entry on authorization id (201 required).
func (s *suite) entry(token string, id uuid.UUID, visibility, text string, corrects *uuid.UUID) interventions.DiaryEntry {
	s.T.Helper()
	body := map[string]any{"category": "observation", "text": text, "occurred_on": "2025-04-03", "visibility": visibility}
	if corrects != nil {
		body["corrects"] = corrects
	}
	var e interventions.DiaryEntry
	s.Must(201, s.Do("POST", "/v1/authorizations/"+id.String()+"/diary", token, body, &e))
	return e
}

// diary reads the whole diary of authorization id as token.
func (s *suite) diary(token string, id uuid.UUID) []interventions.DiaryEntry {
	s.T.Helper()
	var page struct{ Items []interventions.DiaryEntry }
	s.Must(200, s.Do("GET", "/v1/authorizations/"+id.String()+"/diary?limit=200", token, nil, &page))
	return page.Items
}

// TestDiaryVisibility is the table of who reads an entry of each visibility level: every role
// that may read the diary, the writer, and the azienda's social worker.
func TestDiaryVisibility(t *testing.T) {
	s := newSuite(t)
	a := s.active(s.body())
	for _, writerRole := range []auth.Role{auth.RoleEducator, auth.RoleSocialWorker} {
		t.Run("written by "+string(writerRole), func(t *testing.T) {
			org, kind, istat := s.OrgOf(writerRole)
			writer := s.Operator(writerRole, org, kind, istat)
			prefix := string(writerRole) + ": "
			for _, v := range interventions.DiaryVisibilities {
				s.entry(writer, a.ID, v, prefix+v, nil)
			}
			all := []string{"coordinator", "social_services", "team"}
			readers := []struct {
				who   string
				token string
				sees  []string
			}{
				{"the writer", writer, all},
				{"social_worker", s.tok(auth.RoleSocialWorker), all},
				{"service_manager", s.tok(auth.RoleServiceManager), all},
				{"social_worker of the azienda", s.Operator(auth.RoleSocialWorker, s.Azienda, "azienda", ""), all},
				{"coop_coordinator", s.tok(auth.RoleCoopCoordinator), []string{"coordinator", "team"}},
				{"educator", s.tok(auth.RoleEducator), []string{"team"}},
				{"asa", s.tok(auth.RoleASA), []string{"team"}},
				{"oss", s.tok(auth.RoleOSS), []string{"team"}},
			}
			for _, r := range readers {
				var got []string
				for _, e := range s.diary(r.token, a.ID) {
					if v, ok := strings.CutPrefix(e.Text, prefix); ok {
						got = append(got, v)
					}
				}
				slices.Sort(got)
				if !slices.Equal(got, r.sees) {
					t.Errorf("%s reads %v, want %v", r.who, got, r.sees)
				}
			}
		})
	}
}

// TestDiaryCorrections: a correction is a new entry naming the one it corrects; both stay
// visible, the corrected one listing its corrections (those the reader may read).
func TestDiaryCorrections(t *testing.T) {
	s := newSuite(t)
	sm, sw, edu, coord := s.tok(auth.RoleServiceManager), s.tok(auth.RoleSocialWorker), s.tok(auth.RoleEducator), s.tok(auth.RoleCoopCoordinator)
	a := s.active(s.body())
	b := s.active(s.body())
	e1 := s.entry(edu, a.ID, "team", "incontro il 3 aprile", nil)
	e2 := s.entry(coord, a.ID, "team", "correzione: il 2 aprile", &e1.ID)
	e3 := s.entry(sw, a.ID, "social_services", "correzione riservata", &e2.ID)
	if e2.Corrects == nil || *e2.Corrects != e1.ID {
		t.Errorf("e2 corrects %v, want %s", e2.Corrects, e1.ID)
	}
	byID := func(list []interventions.DiaryEntry) map[uuid.UUID]interventions.DiaryEntry {
		m := map[uuid.UUID]interventions.DiaryEntry{}
		for _, e := range list {
			m[e.ID] = e
		}
		return m
	}
	full := byID(s.diary(sw, a.ID))
	if len(full) != 3 || !slices.Equal(full[e1.ID].CorrectedBy, []uuid.UUID{e2.ID}) || !slices.Equal(full[e2.ID].CorrectedBy, []uuid.UUID{e3.ID}) ||
		full[e1.ID].Text != "incontro il 3 aprile" {
		t.Errorf("the social worker's diary = %+v", full)
	}
	team := byID(s.diary(edu, a.ID))
	if _, ok := team[e3.ID]; ok || len(team) != 2 || len(team[e2.ID].CorrectedBy) != 0 || !slices.Equal(team[e1.ID].CorrectedBy, []uuid.UUID{e2.ID}) {
		t.Errorf("the educator's diary = %+v: the reserved correction must not show, not even its id", team)
	}
	other := s.entry(sm, b.ID, "team", "altra autorizzazione", nil)
	before := s.Count(`SELECT count(*) FROM diary_entries`)
	path := "/v1/authorizations/" + a.ID.String() + "/diary"
	for _, c := range []struct {
		name  string
		token string
		body  map[string]any
		field string
	}{
		{"a correction wider than the entry", sw, map[string]any{"category": "observation", "text": "x", "occurred_on": "2025-04-03", "visibility": "team", "corrects": e3.ID}, "visibility"},
		{"a correction of an entry the writer cannot read", edu, map[string]any{"category": "observation", "text": "x", "occurred_on": "2025-04-03", "visibility": "social_services", "corrects": e3.ID}, "corrects"},
		{"a correction of another diary's entry", sm, map[string]any{"category": "observation", "text": "x", "occurred_on": "2025-04-03", "visibility": "team", "corrects": other.ID}, "corrects"},
		{"a correction of no entry", sm, map[string]any{"category": "observation", "text": "x", "occurred_on": "2025-04-03", "visibility": "team", "corrects": uuid.New()}, "corrects"},
		{"unknown category", edu, map[string]any{"category": "gossip", "text": "x", "occurred_on": "2025-04-03", "visibility": "team"}, "category"},
		{"unknown visibility", edu, map[string]any{"category": "observation", "text": "x", "occurred_on": "2025-04-03", "visibility": "everyone"}, "visibility"},
		{"no text", edu, map[string]any{"category": "observation", "text": "", "occurred_on": "2025-04-03", "visibility": "team"}, "text"},
		{"text too long", edu, map[string]any{"category": "observation", "text": strings.Repeat("x", 4001), "occurred_on": "2025-04-03", "visibility": "team"}, "text"},
		{"in the future", edu, map[string]any{"category": "observation", "text": "x", "occurred_on": time.Now().AddDate(0, 0, 3).Format(time.DateOnly), "visibility": "team"}, "occurred_on"},
		{"not a date", edu, map[string]any{"category": "observation", "text": "x", "occurred_on": "3 aprile", "visibility": "team"}, "occurred_on"},
	} {
		resp := s.Do("POST", path, c.token, c.body, nil)
		if resp.StatusCode != 400 {
			t.Errorf("%s: %d, want 400", c.name, resp.StatusCode)
			continue
		}
		if f := servicetest.DecodeProblem(t, resp).Fields(); !slices.Equal(f, []string{c.field}) {
			t.Errorf("%s: fields %v, want [%s]", c.name, f, c.field)
		}
	}
	if after := s.Count(`SELECT count(*) FROM diary_entries`); after != before {
		t.Errorf("the refused entries wrote %d rows", after-before)
	}
	if _, err := s.App.Pool.Exec(t.Context(), `UPDATE diary_entries SET text = 'changed' WHERE id = $1`, e1.ID); err == nil {
		t.Error("the database let an entry be changed")
	}
}

// TestDiaryScopeAuditEvents: another cooperative gets 404; writing and reading are audited with
// the citizen; the event carries no text; a retry with the same key writes nothing twice.
func TestDiaryScopeAuditEvents(t *testing.T) {
	s := newSuite(t)
	edu := s.tok(auth.RoleEducator)
	a := s.active(s.body())
	body := map[string]any{"category": "family_contact", "text": "Telefonata con la madre: segreto", "occurred_on": "2025-04-03", "visibility": "team"}
	var e, again interventions.DiaryEntry
	s.Must(201, s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/diary", edu, body, &e, "Idempotency-Key", "diary-1"))
	s.Must(201, s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/diary", edu, body, &again, "Idempotency-Key", "diary-1"))
	if again.ID != e.ID || s.Count(`SELECT count(*) FROM diary_entries`) != 1 {
		t.Errorf("the retry wrote again: %s, %s", e.ID, again.ID)
	}
	other := s.Operator(auth.RoleEducator, uuid.Must(uuid.NewV7()), "cooperativa", "")
	s.Must(404, s.Do("POST", "/v1/authorizations/"+a.ID.String()+"/diary", other, body, nil))
	s.Must(404, s.Do("GET", "/v1/authorizations/"+a.ID.String()+"/diary", other, nil, nil))
	s.Must(404, s.Do("GET", "/v1/authorizations/"+a.ID.String()+"/diary", s.Operator(auth.RoleSocialWorker, uuid.Must(uuid.NewV7()), "comune", "015027"), nil, nil))
	s.diary(s.tok(auth.RoleSocialWorker), a.ID)
	for action, want := range map[string]int{"diary.write": 1, "diary.read": 1} {
		if n := s.Count(`SELECT count(*) FROM audit_records WHERE action = $1 AND citizen_id = $2 AND resource_id = $3`, action, a.CitizenID.String(), a.ID.String()); n != want {
			t.Errorf("%d audit records %s, want %d", n, action, want)
		}
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'diary.entry_added' AND aggregate_id = $1 AND payload::text NOT LIKE '%segreto%'`, e.ID.String()); n != 1 {
		t.Errorf("%d diary.entry_added events without the text, want 1", n)
	}
}
