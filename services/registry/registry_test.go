package registry_test

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/audit/audittest"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
)

// TestCodiceFiscale checks each case DOMAIN.md names: a wrong check character, a birth date that
// disagrees, an unknown Belfiore code are refused naming the field, and nothing is written; an
// omocodic code is accepted and searchable by its canonical form.
func TestCodiceFiscale(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleSocialWorker]
	base := func() map[string]any {
		return map[string]any{"fiscal_code": "RSSMRA45D25F205N", "family_name": "Rossi", "given_name": "Mario", "sex": "M",
			"birth_date": "1945-04-25", "residence": map[string]any{"istat_code": milano, "address": "Via Dante 1"}}
	}
	with := func(k string, v any) map[string]any { b := base(); b[k] = v; return b }
	// A code with a valid check character whose birthplace code does not exist (Z999).
	unknownPlace := "RSSMRA45D25Z999"
	ch, err := codicefiscale.CheckCharacter(unknownPlace)
	if err != nil {
		t.Fatal(err)
	}
	unknownPlace += string(ch)
	bad := []struct {
		name   string
		body   map[string]any
		fields []string
	}{
		{"wrong check character", with("fiscal_code", "RSSMRA45D25F205X"), []string{"fiscal_code"}},
		{"birth date disagrees", with("birth_date", "1945-04-26"), []string{"birth_date"}},
		{"sex disagrees", with("sex", "F"), []string{"sex"}},
		{"unknown Belfiore code", with("fiscal_code", unknownPlace), []string{"fiscal_code"}},
		{"birthplace disagrees", with("birth_place", map[string]any{"belfiore_code": "L219"}), []string{"birth_place.belfiore_code"}},
		{"no code, no reason", with("fiscal_code", ""), []string{"no_fiscal_code_reason"}},
		{"residence not a comune", with("residence", map[string]any{"istat_code": "999999", "address": "x"}), []string{"residence.istat_code"}},
		{"names missing", map[string]any{"fiscal_code": "RSSMRA45D25F205N", "sex": "M", "birth_date": "1945-04-25"}, []string{"family_name", "given_name"}},
		{"unknown field", with("nickname", "Mario"), []string{"nickname"}},
	}
	for _, c := range bad {
		t.Run(c.name, func(t *testing.T) {
			resp := s.Do("POST", "/v1/citizens", tok, c.body, nil)
			s.Must(400, resp)
			if got := servicetest.DecodeProblem(t, resp).Fields(); !cmp.Equal(got, c.fields) {
				t.Errorf("fields = %v, want %v", got, c.fields)
			}
		})
	}
	if n := s.Count(`SELECT count(*) FROM citizens`); n != 0 {
		t.Fatalf("%d citizens written by refused requests", n)
	}

	// Omocodic: accepted as given, canonical stored, found by either form.
	omo := s.createCitizen(tok, with("fiscal_code", "RSSMRA45D25F20RI"))
	if omo.FiscalCode != "RSSMRA45D25F20RI" || omo.FiscalCodeCanonical != "RSSMRA45D25F205N" || omo.BirthPlace == nil || omo.BirthPlace.Name != "MILANO" && omo.BirthPlace.Name != "Milano" {
		t.Errorf("omocodic citizen = %+v", omo.Citizen)
	}
	for _, code := range []string{"RSSMRA45D25F20RI", "RSSMRA45D25F205N", "rssmra45d25f20ri"} {
		var page cursor.Page[registry.Hit]
		s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"fiscal_code": code}, &page))
		if len(page.Items) != 1 || page.Items[0].ID != omo.ID {
			t.Errorf("search %s = %+v, want the omocodic citizen", code, page.Items)
		}
	}
	// People without a code are allowed and flagged.
	nc := base()
	delete(nc, "fiscal_code")
	nc["no_fiscal_code_reason"] = "homeless"
	nc["given_name"] = "Ignoto"
	delete(nc, "residence")
	c := s.createCitizen(tok, nc)
	if c.FiscalCode != "" || c.NoFiscalCodeReason != "homeless" {
		t.Errorf("citizen without code = %+v", c.Citizen)
	}
}

// TestDuplicates: the same code is a 409 naming the existing record; a likely duplicate is
// reported on create.
func TestDuplicates(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleAdministrative]
	body := citizenBody(milano)
	first := s.createCitizen(tok, body)
	resp := s.Do("POST", "/v1/citizens", tok, body, nil)
	s.Must(409, resp)
	if p := servicetest.DecodeProblem(t, resp); p.ExistingID != first.ID.String() {
		t.Errorf("existing_id = %q, want %s", p.ExistingID, first.ID)
	}
	// The same person, registered without the code and with a typo in the name.
	dup := map[string]any{"no_fiscal_code_reason": "other", "family_name": body["family_name"].(string) + "i",
		"given_name": body["given_name"], "sex": body["sex"], "birth_date": body["birth_date"],
		"residence": body["residence"]}
	got := s.createCitizen(tok, dup)
	if len(got.PossibleDuplicates) != 1 || got.PossibleDuplicates[0].ID != first.ID {
		t.Errorf("possible_duplicates = %+v, want %s", got.PossibleDuplicates, first.ID)
	}
	if n := s.Count(`SELECT count(*) FROM citizens`); n != 2 {
		t.Errorf("%d citizens, want 2", n)
	}
}

// TestUpdateAndHistory: ETag/If-Match, a corrected code kept in the history, events written.
func TestUpdateAndHistory(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleSocialWorker]
	c := s.createCitizen(tok, citizenBody(milano))
	path := "/v1/citizens/" + c.ID.String()
	s.Must(428, s.Do("PATCH", path, tok, map[string]any{"phone": "02 1234"}, nil))
	s.Must(412, s.Do("PATCH", path, tok, map[string]any{"phone": "02 1234"}, nil, "If-Match", `"7"`))
	omo, err := codicefiscale.Omocode(c.FiscalCode, 1)
	if err != nil {
		t.Fatal(err)
	}
	s.Must(400, s.Do("PATCH", path, tok, map[string]any{"fiscal_code": omo}, nil, "If-Match", `"1"`))
	var out registry.Citizen
	s.Must(200, s.Do("PATCH", path, tok, map[string]any{"fiscal_code": omo, "fiscal_code_reason": "omocodic_replacement",
		"phone": "02 1234"}, &out, "If-Match", `"1"`))
	if out.Version != 2 || out.FiscalCode != omo || len(out.FiscalCodeHistory) != 2 || out.FiscalCodeHistory[0].ReplacedAt == nil {
		t.Errorf("after update: %+v", out)
	}
	// Bad input: 400 naming the field, nothing written.
	resp := s.Do("PATCH", path, tok, map[string]any{"status": "deceased"}, nil, "If-Match", `"2"`)
	s.Must(400, resp)
	if got := servicetest.DecodeProblem(t, resp).Fields(); !cmp.Equal(got, []string{"death_date"}) {
		t.Errorf("fields = %v", got)
	}
	var again registry.Citizen
	s.Must(200, s.Do("GET", path, tok, nil, &again))
	if again.Version != 2 || again.Status != "alive" {
		t.Errorf("a refused update changed the record: %+v", again)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type IN ('citizen.created', 'citizen.updated') AND aggregate_id = $1`, c.ID.String()); n != 2 {
		t.Errorf("%d events, want 2", n)
	}
}

// TestScope: a comune's operators see their residents only, and others by exact code with a
// purpose; the azienda sees the ambito; cooperatives, ATS, Region see nothing.
func TestScope(t *testing.T) {
	s := newSuite(t, options{})
	azienda := s.Operator(auth.RoleSocialWorker, uuid.New(), "azienda", "")
	resident := s.createCitizen(s.Tokens[auth.RoleSocialWorker], citizenBody(milano))
	other := s.createCitizen(azienda, citizenBody(bergamo))
	sw := s.Tokens[auth.RoleSocialWorker]
	s.Must(200, s.Do("GET", "/v1/citizens/"+resident.ID.String(), sw, nil, nil))
	s.Must(404, s.Do("GET", "/v1/citizens/"+other.ID.String(), sw, nil, nil))
	s.Must(200, s.Do("GET", "/v1/citizens/"+other.ID.String(), azienda, nil, nil))
	s.Must(200, s.Do("GET", "/v1/citizens/"+other.ID.String(), s.Tokens[auth.RolePlanningOffice], nil, nil))
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", sw, map[string]any{"fiscal_code": other.FiscalCode}, &page))
	if len(page.Items) != 0 {
		t.Errorf("a non-resident found without a purpose: %+v", page.Items)
	}
	s.Must(200, s.Do("POST", "/v1/citizens:search", sw, map[string]any{"fiscal_code": other.FiscalCode, "purpose": "urgent intake"}, &page))
	if len(page.Items) != 1 || page.Items[0].ID != other.ID {
		t.Errorf("by code with a purpose: %+v", page.Items)
	}
	var trail cursor.Page[audit.Record]
	s.Must(200, s.Do("GET", "/v1/citizens/"+other.ID.String()+"/audit", s.Tokens[auth.RolePrivacyOfficer], nil, &trail))
	found := slices.ContainsFunc(trail.Items, func(r audit.Record) bool { return r.Action == "citizen.search" && r.Purpose == "urgent intake" })
	if !found {
		t.Errorf("the search with a purpose is not in the audit trail: %+v", trail.Items)
	}
	for _, role := range []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS, auth.RoleATSMonitor, auth.RoleRegionMonitor} {
		s.Must(403, s.Do("GET", "/v1/citizens/"+resident.ID.String(), s.Tokens[role], nil, nil))
		s.Must(403, s.Do("POST", "/v1/citizens:search", s.Tokens[role], map[string]any{"fiscal_code": resident.FiscalCode, "purpose": "x"}, nil))
	}
	s.Must(403, s.Do("GET", "/v1/citizens/"+resident.ID.String(), s.Clients["coop"], nil, nil))
	var list cursor.Page[registry.Citizen]
	s.Must(200, s.Do("GET", "/v1/citizens", sw, nil, &list))
	if len(list.Items) != 1 || list.Items[0].ID != resident.ID {
		t.Errorf("residents = %+v", list.Items)
	}
	s.Must(403, s.Do("GET", "/v1/citizens?residence_istat="+bergamo, sw, nil, nil))
	// The comune comes from the token: another comune's operator sees its own residents only.
	bg := s.Operator(auth.RoleSocialWorker, uuid.New(), "comune", bergamo)
	s.Must(404, s.Do("GET", "/v1/citizens/"+resident.ID.String(), bg, nil, nil))
	s.Must(200, s.Do("GET", "/v1/citizens/"+other.ID.String(), bg, nil, nil))
	for _, istat := range []string{"", "999999"} { // a comune's token without a current comune: nothing
		s.Must(403, s.Do("GET", "/v1/citizens/"+resident.ID.String(), s.Operator(auth.RoleSocialWorker, uuid.New(), "comune", istat), nil, nil))
	}
}

// TestSearchByName: typos, accents, case and word order are tolerated; results are ranked.
func TestSearchByName(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RolePlanningOffice]
	writer := s.Clients["writer"]
	mk := func(family, given, birth string) registry.Citizen {
		return s.createCitizen(writer, map[string]any{"no_fiscal_code_reason": "other", "family_name": family, "given_name": given,
			"sex": "M", "birth_date": birth}).Citizen
	}
	nicolo := mk("Dell'Acqua", "Nicolò", "1980-02-03")
	mk("Bianchi", "Marco", "1980-02-03")
	rossi := mk("Rossi", "Mario", "1970-01-01")
	mk("Rossini", "Maria", "1970-01-01")
	deLuca := mk("De Luca", "Maria Grazia", "1950-05-06")
	cases := []struct {
		name, query, birth string
		want               uuid.UUID
	}{
		{"exact", "Dell'Acqua Nicolò", "", nicolo.ID},
		{"no accents, lower case", "dellacqua nicolo", "", nicolo.ID},
		{"typo", "Dell Aqua Nicolo", "", nicolo.ID},
		{"given name first", "nicolo dell'acqua", "", nicolo.ID},
		{"combined with the birth date", "dellacqua", "1980-02-03", nicolo.ID},
		{"exact words before near ones", "rossi mario", "", rossi.ID},
		{"a letter missing", "rosi mario", "", rossi.ID},
		{"names of two words written as one", "deluca mariagrazia", "", deLuca.ID},
		{"one word of a two-word given name", "de luca grazia", "", deLuca.ID},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var page cursor.Page[registry.Hit]
			q := map[string]any{"name": c.query}
			if c.birth != "" {
				q["birth_date"] = c.birth
			}
			s.Must(200, s.Do("POST", "/v1/citizens:search", tok, q, &page))
			if len(page.Items) == 0 || page.Items[0].ID != c.want {
				t.Errorf("search %q = %+v, want %s first", c.query, page.Items, c.want)
			}
		})
	}
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"birth_date": "1980-02-03", "limit": 1}, &page))
	if len(page.Items) != 1 || page.NextCursor == "" {
		t.Fatalf("first page = %+v", page)
	}
	var next cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"birth_date": "1980-02-03", "limit": 1, "cursor": page.NextCursor}, &next))
	if len(next.Items) != 1 || next.Items[0].ID == page.Items[0].ID {
		t.Errorf("second page = %+v", next)
	}
	// The cursor continues only the search that made it: other criteria, another list or an
	// altered cursor are refused, naming the cursor.
	s.createCitizen(writer, citizenBody(milano))
	s.createCitizen(writer, citizenBody(milano))
	var listed cursor.Page[registry.Citizen]
	s.Must(200, s.Do("GET", "/v1/citizens?limit=1&residence_istat="+milano, tok, nil, &listed))
	if listed.NextCursor == "" {
		t.Fatalf("residents' list = %+v, want a next page", listed)
	}
	tampered := []byte(page.NextCursor)
	tampered[0] ^= 'A' ^ 'B'
	for _, tc := range []struct {
		name string
		body map[string]any
	}{
		{"other criteria", map[string]any{"birth_date": "1970-01-01", "limit": 1, "cursor": page.NextCursor}},
		{"a criterion more", map[string]any{"birth_date": "1980-02-03", "name": "bianchi", "limit": 1, "cursor": page.NextCursor}},
		{"a cursor of the residents' list", map[string]any{"birth_date": "1980-02-03", "limit": 1, "cursor": listed.NextCursor}},
		{"tampered", map[string]any{"birth_date": "1980-02-03", "limit": 1, "cursor": string(tampered)}},
	} {
		resp := s.Do("POST", "/v1/citizens:search", tok, tc.body, nil)
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("%s: search = %d, want 400", tc.name, resp.StatusCode)
			continue
		}
		if got := servicetest.DecodeProblem(t, resp).Fields(); !slices.Equal(got, []string{"cursor"}) {
			t.Errorf("%s: fields %v, want [cursor]", tc.name, got)
		}
	}
	resp := s.Do("POST", "/v1/citizens:search", tok, map[string]any{}, nil)
	s.Must(400, resp)

	// A word near no name at all: nobody.
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": "rossi qwxzyk"}, &page))
	if len(page.Items) != 0 {
		t.Errorf("search with a word near no name = %+v, want nobody", page.Items)
	}
	// A new name is searchable at once, the old one no longer.
	var renamed registry.Citizen
	s.Must(200, s.Do("PATCH", "/v1/citizens/"+rossi.ID.String(), writer, map[string]any{"family_name": "Brambilla"}, &renamed,
		"If-Match", `"1"`))
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": "brambilla mario"}, &page))
	if len(page.Items) != 1 || page.Items[0].ID != rossi.ID {
		t.Errorf("search by the new name = %+v, want %s", page.Items, rossi.ID)
	}
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": "rossi mario", "birth_date": "1970-01-01"}, &page))
	for _, h := range page.Items {
		if h.ID == rossi.ID {
			t.Errorf("the old name still finds %s", rossi.ID)
		}
	}
}

// TestSearchCommonGivenName: a given name that more than a thousand people of the ambito bear
// (the search then reads the postings of the family name's few bearers only, or, when every
// word given is that common, those of one of them) finds the same people, ranked the same way,
// as a rare one.
func TestSearchCommonGivenName(t *testing.T) {
	s := newSuite(t, options{})
	const n = 1100
	born := func(i int) time.Time { return time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, i) }
	names := map[int][2]string{0: {"Rossi", "Giuseppe Maria"}, 1: {"Rossini", "Giuseppe Maria"}, 2: {"Brambilla", "Giuseppe"},
		3: {"Dell'Acqua", "Maria"}}
	var b strings.Builder
	b.WriteString("fiscal_code,family_name,given_name,sex,birth_date,birth_place,citizenship,address,postal_code,family_number,relationship\n")
	for i := range n {
		name, ok := names[i]
		if !ok {
			name = [2]string{servicetest.PersonN(int64(i)).FamilyName, "Giuseppe Maria"}
		}
		code, err := codicefiscale.Compute(name[0], name[1], born(i), codicefiscale.Male, "F205")
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s,%s,%s,M,%s,F205,IT,Via Verdi %d,20100,,\n", code, name[0], name[1], born(i).Format(time.DateOnly), i)
	}
	if im := s.importCSV(s.Clients["writer"], milano, strings.NewReader(b.String())); im.Status != registry.ImportCompleted || im.Created != n {
		t.Fatalf("import = %+v", im)
	}
	tok := s.Tokens[auth.RolePlanningOffice]
	find := func(q map[string]any) []registry.Hit {
		t.Helper()
		var page cursor.Page[registry.Hit]
		s.Must(200, s.Do("POST", "/v1/citizens:search", tok, q, &page))
		return page.Items
	}
	idOf := func(i int) string {
		hits := find(map[string]any{"birth_date": born(i).Format(time.DateOnly)})
		if len(hits) != 1 {
			t.Fatalf("born %s: %+v", born(i).Format(time.DateOnly), hits)
		}
		return hits[0].ID.String()
	}
	cases := []struct {
		name, query string
		birth       int // the row whose birth date the search gives, -1 for none
		want        int
	}{
		{"rare family name with a typo, common given name", "Rosi Giuseppe", -1, 0},
		{"given name first", "giuseppe rosi", -1, 0},
		{"exact family name before a near one", "Rossini Giuseppe Maria", -1, 1},
		{"typo in both", "Bramblla Giusepe", -1, 2},
		{"accents and apostrophe", "dellacqua maria", -1, 3},
		{"only common words, with the birth date", "giusepe maria", 500, 500},
		{"only common words, other order", "maria giuseppe", 700, 700},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			q := map[string]any{"name": c.query}
			if c.birth >= 0 {
				q["birth_date"] = born(c.birth).Format(time.DateOnly)
			}
			hits := find(q)
			if want := idOf(c.want); len(hits) == 0 || hits[0].ID.String() != want {
				t.Errorf("search %q = %+v, want %s first", c.query, hits, want)
			}
			for i := 1; i < len(hits); i++ {
				if hits[i].Score > hits[i-1].Score || hits[i].Score == hits[i-1].Score && hits[i].ID.String() < hits[i-1].ID.String() {
					t.Errorf("hit %d (%s, %v) ranked after %s (%v)", i, hits[i].ID, hits[i].Score, hits[i-1].ID, hits[i-1].Score)
				}
			}
		})
	}
	// Rossi and Rossini both: the same people, whichever word the intersection starts from.
	hits := find(map[string]any{"name": "rosi giuseppe maria", "limit": 100})
	got := map[string]bool{}
	for _, h := range hits {
		got[h.ID.String()] = true
	}
	if !got[idOf(0)] || !got[idOf(1)] {
		t.Errorf("search %q = %+v, want Rossi and Rossini", "rosi giuseppe maria", hits)
	}
	// A common given name alone pages through its bearers.
	var page, next cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": "giuseppe", "limit": 5}, &page))
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": "giuseppe", "limit": 5, "cursor": page.NextCursor}, &next))
	if len(page.Items) != 5 || len(next.Items) != 5 || page.Items[4].ID == next.Items[0].ID {
		t.Errorf("pages of %q = %+v, %+v", "giuseppe", page.Items, next.Items)
	}
}

// TestMerge keeps both records and histories; the merged id points to the survivor.
func TestMerge(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleAdministrative]
	body := citizenBody(milano)
	withCode := s.createCitizen(tok, body)
	noCode := map[string]any{"no_fiscal_code_reason": "undocumented", "family_name": body["family_name"], "given_name": body["given_name"],
		"sex": body["sex"], "birth_date": body["birth_date"], "residence": body["residence"]}
	survivor := s.createCitizen(tok, noCode)
	spouse := s.createCitizen(tok, citizenBody(milano))
	s.Must(201, s.Do("POST", "/v1/citizens/"+withCode.ID.String()+"/household/members", tok,
		map[string]any{"citizen_id": spouse.ID, "relationship": "spouse"}, nil))
	s.Must(403, s.Do("POST", "/v1/citizens/"+survivor.ID.String()+"/merge", s.Tokens[auth.RoleSocialWorker], map[string]any{"other_id": withCode.ID}, nil))
	var out registry.Citizen
	s.Must(200, s.Do("POST", "/v1/citizens/"+survivor.ID.String()+"/merge", tok, map[string]any{"other_id": withCode.ID, "reason": "same person"}, &out))
	if out.FiscalCode != withCode.FiscalCode || !cmp.Equal(out.MergedFrom, []uuid.UUID{withCode.ID}) || len(out.FiscalCodeHistory) != 1 {
		t.Errorf("survivor = %+v", out)
	}
	resp := s.Do("GET", "/v1/citizens/"+withCode.ID.String(), tok, nil, nil)
	s.Must(308, resp)
	if loc := resp.Header.Get("Location"); loc != "/v1/citizens/"+survivor.ID.String() {
		t.Errorf("Location = %q", loc)
	}
	// The merged record keeps its own history.
	if n := s.Count(`SELECT count(*) FROM citizen_fiscal_codes WHERE citizen_id = $1`, withCode.ID); n != 1 {
		t.Errorf("merged record's code history: %d rows", n)
	}
	s.Must(409, s.Do("POST", "/v1/citizens/"+survivor.ID.String()+"/merge", tok, map[string]any{"other_id": withCode.ID}, nil))
	// The survivor takes the merged record's place in its household.
	var h registry.Household
	s.Must(200, s.Do("GET", "/v1/citizens/"+survivor.ID.String()+"/household", tok, nil, &h))
	current := map[uuid.UUID]string{}
	for _, m := range h.Members {
		if m.ValidTo == nil {
			current[m.CitizenID] = m.Relationship
		}
	}
	if want := map[uuid.UUID]string{survivor.ID: "head", spouse.ID: "spouse"}; !cmp.Equal(current, want) {
		t.Errorf("current members after the merge = %v, want %v (household %+v)", current, want, h)
	}
	// Searching by the shared name finds the survivor only.
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"name": body["family_name"].(string) + " " + body["given_name"].(string)}, &page))
	if len(page.Items) != 1 || page.Items[0].ID != survivor.ID {
		t.Errorf("search after the merge = %+v, want the survivor %s only", page.Items, survivor.ID)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'citizen.merged'`); n != 1 {
		t.Errorf("%d citizen.merged events", n)
	}
	for _, id := range []uuid.UUID{survivor.ID, withCode.ID} {
		if n := s.Count(`SELECT count(*) FROM audit_records WHERE citizen_id = $1 AND action = 'citizen.merge'`, id.String()); n != 1 {
			t.Errorf("merge audit records of %s: %d", id, n)
		}
	}
}

// TestHousehold adds members and reads the household.
func TestHousehold(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleSocialWorker]
	a := s.createCitizen(tok, citizenBody(milano))
	b := s.createCitizen(tok, citizenBody(milano))
	var h registry.Household
	s.Must(200, s.Do("GET", "/v1/citizens/"+a.ID.String()+"/household", tok, nil, &h))
	if h.ID != nil || len(h.Members) != 0 {
		t.Errorf("household before = %+v", h)
	}
	s.Must(400, s.Do("POST", "/v1/citizens/"+a.ID.String()+"/household/members", tok, map[string]any{"citizen_id": b.ID, "relationship": "cousin"}, nil))
	s.Must(201, s.Do("POST", "/v1/citizens/"+a.ID.String()+"/household/members", tok, map[string]any{"citizen_id": b.ID, "relationship": "spouse"}, &h))
	if len(h.Members) != 2 || h.Members[0].Relationship != "head" || h.Members[1].CitizenID != b.ID {
		t.Errorf("household = %+v", h)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'household.changed'`); n != 1 {
		t.Errorf("%d household.changed events", n)
	}
}

// TestMergedRecordRoutes sends every request under /v1/citizens/{id} that can meet a merged
// record to one: reads and the household POST answer 308 to the same route of the survivor,
// updates and merges 409; none of them writes anything (the audit record of a read aside). A Go
// client that follows the 308 of the household POST re-sends it, body included, to the survivor.
func TestMergedRecordRoutes(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleAdministrative]
	body := citizenBody(milano)
	merged := s.createCitizen(tok, body)
	survivor := s.createCitizen(tok, map[string]any{"no_fiscal_code_reason": "undocumented", "family_name": body["family_name"],
		"given_name": body["given_name"], "sex": body["sex"], "birth_date": body["birth_date"], "residence": body["residence"]})
	spouse := s.createCitizen(tok, citizenBody(milano))
	newcomer := s.createCitizen(tok, citizenBody(milano))
	s.Must(201, s.Do("POST", "/v1/citizens/"+merged.ID.String()+"/household/members", tok, map[string]any{"citizen_id": spouse.ID, "relationship": "spouse"}, nil))
	s.Must(200, s.Do("POST", "/v1/citizens/"+survivor.ID.String()+"/merge", tok, map[string]any{"other_id": merged.ID}, nil))
	var m registry.Citizen
	s.Must(200, s.Do("GET", "/v1/citizens/"+survivor.ID.String(), tok, nil, &m))
	mid, sid := merged.ID.String(), survivor.ID.String()

	tests := []struct {
		name, method, path string
		body               any
		headers            []string
		want               int
		wantLocation       string
		wantField          string // the field a 400 names
	}{
		{name: "read", method: "GET", path: "/v1/citizens/" + mid + "?purpose=visit", want: 308, wantLocation: "/v1/citizens/" + sid + "?purpose=visit"},
		{name: "household", method: "GET", path: "/v1/citizens/" + mid + "/household", want: 308, wantLocation: "/v1/citizens/" + sid + "/household"},
		{name: "add member", method: "POST", path: "/v1/citizens/" + mid + "/household/members",
			body: map[string]any{"citizen_id": newcomer.ID, "relationship": "child"}, want: 308, wantLocation: "/v1/citizens/" + sid + "/household/members"},
		{name: "update", method: "PATCH", path: "/v1/citizens/" + mid, body: map[string]any{"phone": "02 555"},
			headers: []string{"If-Match", httpapi.ETag(m.Version)}, want: 409},
		{name: "merge", method: "POST", path: "/v1/citizens/" + mid + "/merge", body: map[string]any{"other_id": newcomer.ID}, want: 409},
		{name: "add the merged record as a member", method: "POST", path: "/v1/citizens/" + newcomer.ID.String() + "/household/members",
			body: map[string]any{"citizen_id": merged.ID, "relationship": "child"}, want: 400, wantField: "citizen_id"},
	}
	// written counts what a write would change; audit records are left out (reads are audited).
	written := func() map[string]int {
		return map[string]int{
			"survivor version": s.Count(`SELECT version FROM citizens WHERE id = $1`, survivor.ID),
			"citizens":         s.Count(`SELECT count(*) FROM citizens WHERE merged_into IS NULL`),
			"members":          s.Count(`SELECT count(*) FROM household_members`),
			"households":       s.Count(`SELECT count(*) FROM households`),
			"events":           s.Count(`SELECT count(*) FROM outbox`),
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := written()
			resp := s.Do(tc.method, tc.path, tok, tc.body, nil, tc.headers...)
			var p struct {
				servicetest.Problem
				ID         uuid.UUID `json:"id"`
				MergedInto uuid.UUID `json:"merged_into"`
			}
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != tc.want {
				t.Errorf("%s %s = %d %+v, want %d", tc.method, tc.path, resp.StatusCode, p, tc.want)
			}
			if got := resp.Header.Get("Location"); got != tc.wantLocation {
				t.Errorf("Location = %q, want %q", got, tc.wantLocation)
			}
			switch tc.want {
			case 308:
				if p.Type != "urn:csi:problem:merged" || p.ID != merged.ID || p.MergedInto != survivor.ID {
					t.Errorf("body = %+v, want a merged problem naming %s and %s", p, merged.ID, survivor.ID)
				}
			case 409:
				if !strings.Contains(p.Detail, "merged") {
					t.Errorf("detail = %q, want it to say the record was merged", p.Detail)
				}
			case 400:
				if !slices.Contains(p.Fields(), tc.wantField) || !strings.Contains(fmt.Sprint(p.Errors), sid) {
					t.Errorf("errors = %+v, want %s naming the survivor %s", p.Errors, tc.wantField, sid)
				}
			}
			if after := written(); !maps.Equal(after, before) {
				t.Errorf("written: %v, want %v (unchanged)", after, before)
			}
		})
	}

	// A client that follows redirects (Go's default) re-sends the POST, body included, to the
	// survivor's route: the member joins the household the survivor took over.
	follow := s.Srv.Client()
	req, err := http.NewRequest("POST", s.Srv.URL+"/v1/citizens/"+mid+"/household/members",
		strings.NewReader(fmt.Sprintf(`{"citizen_id": %q, "relationship": "child"}`, newcomer.ID)))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := follow.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 201 || resp.Request.URL.Path != "/v1/citizens/"+sid+"/household/members" {
		t.Errorf("followed POST = %d at %s, want 201 at the survivor's route", resp.StatusCode, resp.Request.URL.Path)
	}
	var h registry.Household
	s.Must(200, s.Do("GET", "/v1/citizens/"+sid+"/household", tok, nil, &h))
	var ids []uuid.UUID
	for _, m := range h.Members {
		if m.ValidTo == nil {
			ids = append(ids, m.CitizenID)
		}
	}
	if want := []uuid.UUID{survivor.ID, spouse.ID, newcomer.ID}; !cmp.Equal(ids, want) {
		t.Errorf("the survivor's household = %v, want %v", ids, want)
	}
}

// TestHouseholdMemberTwice: adding a citizen to the household they already belong to is a 409
// conflict problem, and nothing is written: no second membership, no event, no audit record.
func TestHouseholdMemberTwice(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleSocialWorker]
	head := s.createCitizen(tok, citizenBody(milano))
	member := s.createCitizen(tok, citizenBody(milano))
	s.Must(201, s.Do("POST", "/v1/citizens/"+head.ID.String()+"/household/members", tok, map[string]any{"citizen_id": member.ID, "relationship": "spouse"}, nil))
	tests := []struct {
		name     string
		via, add uuid.UUID
		rel      string
	}{
		{name: "the same member again", via: head.ID, add: member.ID, rel: "spouse"},
		{name: "the same member with another relationship", via: head.ID, add: member.ID, rel: "partner"},
		{name: "the head, through a member", via: member.ID, add: head.ID, rel: "spouse"},
	}
	counts := func() [3]int {
		return [3]int{
			s.Count(`SELECT count(*) FROM household_members`),
			s.Count(`SELECT count(*) FROM outbox WHERE type = 'household.changed'`),
			s.Count(`SELECT count(*) FROM audit_records WHERE action = 'household.change'`),
		}
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			before := counts()
			resp := s.Do("POST", "/v1/citizens/"+tc.via.String()+"/household/members", tok, map[string]any{"citizen_id": tc.add, "relationship": tc.rel}, nil)
			var p servicetest.Problem
			if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
				t.Fatal(err)
			}
			if resp.StatusCode != 409 || p.Type != "urn:csi:problem:conflict" || !strings.Contains(p.Detail, "already a member") {
				t.Errorf("POST household/members = %d %+v, want 409 conflict", resp.StatusCode, p)
			}
			if after := counts(); after != before {
				t.Errorf("members, events, audit records = %v, want %v (unchanged)", after, before)
			}
		})
	}
	var h registry.Household
	s.Must(200, s.Do("GET", "/v1/citizens/"+head.ID.String()+"/household", tok, nil, &h))
	if len(h.Members) != 2 || h.Members[1].CitizenID != member.ID || h.Members[1].Relationship != "spouse" {
		t.Errorf("household = %+v, want the head and the spouse", h)
	}
}

// TestPseudonyms are stable within a purpose and differ across purposes.
func TestPseudonyms(t *testing.T) {
	s := newSuite(t, options{})
	c := s.createCitizen(s.Clients["writer"], citizenBody(bergamo))
	get := func(purpose string) string {
		var p registry.Pseudonym
		s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String()+"/pseudonyms/"+purpose, s.Clients["pseudonyms"], nil, &p))
		return p.Pseudonym
	}
	r1, r2, sinba, research := get("reporting"), get("reporting"), get("sinba"), get("research")
	if r1 != r2 {
		t.Errorf("reporting pseudonym not stable: %s, %s", r1, r2)
	}
	if r1 == sinba || r1 == research || sinba == research {
		t.Errorf("pseudonyms shared across purposes: %s %s %s", r1, sinba, research)
	}
	if r1 == c.ID.String() || r1 == c.FiscalCode {
		t.Error("the pseudonym is the id or the code")
	}
	s.Must(400, s.Do("GET", "/v1/citizens/"+c.ID.String()+"/pseudonyms/marketing", s.Clients["pseudonyms"], nil, nil))
	s.Must(403, s.Do("GET", "/v1/citizens/"+c.ID.String()+"/pseudonyms/reporting", s.Clients["reader"], nil, nil))
}

// TestReadsAudited: every read writes an audit record (citizen id and purpose) before the answer.
func TestReadsAudited(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleSocialWorker]
	c := s.createCitizen(tok, citizenBody(milano))
	for i := 0; i < 3; i++ {
		s.Must(200, s.Do("GET", fmt.Sprintf("/v1/citizens/%s?purpose=visit%d", c.ID, i), tok, nil, nil))
		if n := s.Count(`SELECT count(*) FROM audit_records WHERE citizen_id = $1 AND action = 'citizen.read' AND purpose = $2`,
			c.ID.String(), fmt.Sprintf("visit%d", i)); n != 1 {
			t.Errorf("read %d: %d audit records", i, n)
		}
	}
	s.Must(403, s.Do("GET", "/v1/citizens/"+c.ID.String()+"/audit", tok, nil, nil))
}

// TestRedisDown: with Redis unreachable every answer is what it is with a working cache.
func TestRedisDown(t *testing.T) {
	url := os.Getenv("CSI_TEST_REDIS_URL")
	if url == "" {
		t.Fatal("CSI_TEST_REDIS_URL is not set: run the tests with 'make test', which starts Redis")
	}
	for _, c := range []struct{ name, url string }{{"redis up", url}, {"redis down", "redis://127.0.0.1:1"}} {
		t.Run(c.name, func(t *testing.T) {
			s := newSuite(t, options{redisURL: c.url})
			tok := s.Tokens[auth.RolePlanningOffice]
			writer := s.Clients["writer"]
			cr := s.createCitizen(writer, citizenBody(bergamo))
			path := "/v1/citizens/" + cr.ID.String()
			var first, second, changed registry.Citizen
			s.Must(200, s.Do("GET", path, tok, nil, &first))
			s.Must(200, s.Do("GET", path, tok, nil, &second))
			if !cmp.Equal(first, second) || first.ID != cr.ID {
				t.Errorf("reads differ: %s", cmp.Diff(first, second))
			}
			s.Must(200, s.Do("PATCH", path, writer, map[string]any{"email": "new@example.org"}, nil, "If-Match", `"1"`))
			s.Must(200, s.Do("GET", path, tok, nil, &changed))
			if changed.Email != "new@example.org" || changed.Version != 2 {
				t.Errorf("after the change, read %+v: stale cache", changed)
			}
			var page cursor.Page[registry.Hit]
			s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"fiscal_code": cr.FiscalCode}, &page))
			if len(page.Items) != 1 || page.Items[0].Email != "new@example.org" {
				t.Errorf("search by code after the change = %+v", page.Items)
			}
		})
	}
}

// TestEventsFeed: the events are served to clients with events:read.
func TestEventsFeed(t *testing.T) {
	s := newSuite(t, options{})
	s.createCitizen(s.Clients["writer"], citizenBody(bergamo))
	var page events.Page
	s.Must(200, s.Do("GET", "/v1/events", s.Clients["events"], nil, &page))
	if len(page.Items) != 1 || page.Items[0].Type != "citizen.created" {
		t.Errorf("events = %+v", page.Items)
	}
	s.Must(403, s.Do("GET", "/v1/events", s.Tokens[auth.RolePlanningOffice], nil, nil))
}

// TestMunicipalities serves the picker.
func TestMunicipalities(t *testing.T) {
	s := newSuite(t, options{})
	var page cursor.Page[registry.Municipality]
	s.Must(200, s.Do("GET", "/v1/municipalities?q=bergamo", s.Tokens[auth.RoleSocialWorker], nil, &page))
	if len(page.Items) == 0 || page.Items[0].ISTATCode != bergamo {
		t.Errorf("municipalities = %+v", page.Items)
	}
	s.Must(400, s.Do("GET", "/v1/municipalities", s.Tokens[auth.RoleSocialWorker], nil, nil))
	s.Must(403, s.Do("GET", "/v1/municipalities?q=x", s.Tokens[auth.RoleEducator], nil, nil))
}

// TestAuditTamperingShows: a citizen's trail marks the record altered behind the service's back,
// and GET /v1/audit:verify names it (both answers checked against the contract).
func TestAuditTamperingShows(t *testing.T) {
	s := newSuite(t, options{})
	sw := s.Tokens[auth.RoleSocialWorker]
	c := s.createCitizen(sw, citizenBody(milano))
	s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String(), sw, nil, nil))
	s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String(), sw, nil, nil))
	po := s.Tokens[auth.RolePrivacyOfficer]

	var verified audit.VerifyResponse
	s.Must(200, s.Do("GET", "/v1/audit:verify", po, nil, &verified))
	if !verified.OK || verified.Records < 3 || !verified.Checkpoints.Enabled {
		t.Fatalf("before tampering: %+v", verified)
	}
	var trail cursor.Page[audit.Record]
	s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String()+"/audit", po, nil, &trail))
	var read audit.Record
	for _, r := range trail.Items {
		if r.Integrity != audit.IntegrityOK {
			t.Errorf("before tampering, record %s %s: integrity %q", r.ID, r.Action, r.Integrity)
		}
		if r.Action == "citizen.read" {
			read = r
		}
	}
	// Someone with the tables' owner rights hides who read the record.
	audittest.Tamper(t, s.App.Pool, fmt.Sprintf(`UPDATE audit_records SET actor_id = 'nobody' WHERE id = '%s'`, read.ID))

	s.Must(200, s.Do("GET", "/v1/citizens/"+c.ID.String()+"/audit", po, nil, &trail))
	audittest.CheckMarks(t, trail.Items, read.ID)
	s.Must(200, s.Do("GET", "/v1/audit:verify", po, nil, &verified))
	audittest.CheckNamed(t, verified, read.ID)
}

// TestIdempotentCreate: a create with an Idempotency-Key commits with its answer (pkg/idempotency):
// the retry gets the first answer and the citizen and its event are stored once; a business
// refusal is an answer like any other, replayed.
func TestIdempotentCreate(t *testing.T) {
	s := newSuite(t, options{})
	tok := s.Tokens[auth.RoleAdministrative]
	body := citizenBody(milano)
	var first, again registry.CreateResult
	s.Must(201, s.Do("POST", "/v1/citizens", tok, body, &first, "Idempotency-Key", "create-1"))
	resp := s.Do("POST", "/v1/citizens", tok, body, &again, "Idempotency-Key", "create-1")
	s.Must(201, resp)
	if resp.Header.Get("Idempotent-Replayed") != "true" || again.ID != first.ID {
		t.Errorf("retry = %s (replayed %q), want the first answer %s", again.ID, resp.Header.Get("Idempotent-Replayed"), first.ID)
	}
	if n := s.Count(`SELECT count(*) FROM citizens`); n != 1 {
		t.Errorf("%d citizens, want 1", n)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'citizen.created'`); n != 1 {
		t.Errorf("%d citizen.created events, want 1", n)
	}
	// Another key, the same person: the conflict is stored and replayed too.
	for i := range 2 {
		resp := s.Do("POST", "/v1/citizens", tok, body, nil, "Idempotency-Key", "create-2")
		s.Must(409, resp)
		if got, want := resp.Header.Get("Idempotent-Replayed"), map[bool]string{false: "", true: "true"}[i == 1]; got != want {
			t.Errorf("conflict %d: Idempotent-Replayed = %q, want %q", i, got, want)
		}
	}
	if n := s.Count(`SELECT count(*) FROM idempotency_keys WHERE status <> 0`); n != 2 {
		t.Errorf("%d stored answers, want 2", n)
	}
}
