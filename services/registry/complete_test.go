package registry_test

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
)

// byCode reads the citizen with the codice fiscale of servicetest.PersonN(n) through the API.
func (s *suite) byCode(token string, n int64) registry.Citizen {
	s.T.Helper()
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", token, map[string]any{"fiscal_code": servicetest.PersonN(n).FiscalCode}, &page))
	if len(page.Items) != 1 {
		s.T.Fatalf("person %d: %d citizens found", n, len(page.Items))
	}
	var c registry.Citizen
	s.Must(200, s.Do("GET", "/v1/citizens/"+page.Items[0].ID.String(), token, nil, &c))
	if p := servicetest.PersonN(n); c.BirthDate != p.Birth.Format(time.DateOnly) || c.FamilyName != p.FamilyName {
		s.T.Errorf("person %d read as %s %s, want %s %s", n, c.FamilyName, c.BirthDate, p.FamilyName, p.Birth.Format(time.DateOnly))
	}
	return c
}

// startImport posts an extract (complete or not) and waits for its end.
func (s *suite) startImport(token, istat string, complete bool, csv string) registry.Import {
	s.T.Helper()
	path := "/v1/imports?istat_code=" + istat
	if complete {
		path += "&complete=true"
	}
	var im registry.Import
	s.Must(202, s.Do("POST", path, token, strings.NewReader(csv), &im))
	if im.Status != registry.ImportProcessing {
		return im
	}
	return s.waitImport(token, im.ID.String())
}

// statusOf is what an import left of a citizen's status.
type statusOf struct {
	Status  string
	MovedOn string
	Source  *registry.StatusSource
	Version int64
}

func statusOfCitizen(c registry.Citizen) statusOf {
	st := statusOf{Status: c.Status, Source: c.StatusSource, Version: c.Version}
	if c.MovedOn != nil {
		st.MovedOn = *c.MovedOn
	}
	return st
}

// TestCompleteExtract: a complete extract marks the comune's residents it does not name moved
// away (the day of the import, the import as source, an event each), never deletes them, and
// touches no other comune; a partial extract changes nobody it does not name; a complete
// extract with a refused row is applied not at all; a resident named again is alive again.
func TestCompleteExtract(t *testing.T) {
	s := newSuite(t, options{chunk: 7})
	admin := s.Tokens[auth.RoleAdministrative] // Milano's
	worker := s.Tokens[auth.RoleSocialWorker]  // Milano's
	wide := s.Tokens[auth.RolePlanningOffice]
	// Milano: people 0-29; Bergamo: people 100-109 (an ambito-wide import).
	if im := s.startImport(admin, milano, false, registerCSV(t, 0, 30, "")); im.Status != registry.ImportCompleted || im.Created != 30 {
		t.Fatalf("first import of Milano = %+v", im)
	}
	if im := s.startImport(s.Clients["writer"], bergamo, false, strings.ReplaceAll(registerCSV(t, 100, 10, ""), ",20100,", ",24100,")); im.Status != registry.ImportCompleted || im.Created != 10 {
		t.Fatalf("import of Bergamo = %+v", im)
	}
	alive := statusOf{Status: registry.StatusAlive, Version: 1}

	// A partial extract naming people 0-19 and 30-34 (new): 20-29 untouched.
	partial := s.startImport(admin, milano, false, registerCSV(t, 0, 20, "")+strings.SplitN(registerCSV(t, 30, 5, ""), "\n", 2)[1])
	if partial.Status != registry.ImportCompleted || partial.Complete || partial.MovedAway != 0 || partial.Created != 5 || partial.Unchanged != 20 {
		t.Fatalf("partial import = %+v", partial)
	}
	for n := int64(20); n < 30; n++ {
		if got := statusOfCitizen(s.byCode(worker, n)); !cmp.Equal(got, alive) {
			t.Errorf("person %d after the partial extract: %s", n, cmp.Diff(got, alive))
		}
	}
	before := s.Count(`SELECT count(*) FROM outbox`)

	// A complete extract with a refused row (a wrong check character): failed, nothing applied.
	lines := strings.Split(strings.TrimSuffix(registerCSV(t, 0, 20, "ter"), "\n"), "\n")
	bad := []rune(lines[3])
	bad[15] = map[bool]rune{true: 'B', false: 'A'}[bad[15] == 'A']
	lines[3] = string(bad)
	refused := s.startImport(admin, milano, true, strings.Join(lines, "\n")+"\n")
	if refused.Status != registry.ImportFailed || !refused.Complete || refused.MovedAway != 0 || refused.RowsInvalid != 1 ||
		len(refused.Errors) != 1 || !strings.Contains(refused.Failure, "complete extract") {
		t.Fatalf("complete import with a refused row = %+v", refused)
	}
	if got := s.Count(`SELECT count(*) FROM outbox`); got != before {
		t.Errorf("%d events written by a refused complete extract", got-before)
	}
	if c := s.byCode(worker, 0); strings.HasSuffix(c.Residence.Address, "ter") || c.Version != 1 {
		t.Errorf("a refused complete extract changed person 0: %+v", c)
	}

	// A complete extract without rows would mark every resident moved away: refused, naming
	// complete, no import stored.
	imports := s.Count(`SELECT count(*) FROM imports`)
	header := strings.SplitN(registerCSV(t, 0, 1, ""), "\n", 2)[0] + "\n"
	empty := s.Do("POST", "/v1/imports?istat_code="+milano+"&complete=true", admin, strings.NewReader(header), nil)
	if p := servicetest.DecodeProblem(t, empty); empty.StatusCode != 400 || !slices.Equal(p.Fields(), []string{"complete"}) {
		t.Errorf("complete extract without rows = %d %+v; want 400 naming complete", empty.StatusCode, p)
	}
	if got := s.Count(`SELECT count(*) FROM imports`); got != imports {
		t.Errorf("a refused empty complete extract stored %d imports", got-imports)
	}

	// The complete extract: people 0-19 (0-4 at a new address) and 35 (new); 20-34 are gone.
	csv := registerCSV(t, 0, 5, "bis") + strings.SplitN(registerCSV(t, 5, 15, ""), "\n", 2)[1] +
		strings.SplitN(registerCSV(t, 35, 1, ""), "\n", 2)[1]
	complete := s.startImport(admin, milano, true, csv)
	if complete.Status != registry.ImportCompleted || !complete.Complete || complete.MovedAway != 15 || complete.Created != 1 ||
		complete.Updated != 5 || complete.Unchanged != 15 {
		t.Fatalf("complete import = %+v", complete)
	}
	today := time.Now().In(registry.DefaultConfig().Location).Format(time.DateOnly)
	gone := statusOf{Status: registry.StatusMovedAway, MovedOn: today, Version: 2,
		Source: &registry.StatusSource{Kind: registry.StatusSourceImport, ImportID: complete.ID}}
	movedIDs := map[string]bool{}
	for n := int64(20); n < 35; n++ {
		// Still readable by the comune's operators (their residence stays), with date and source.
		c := s.byCode(worker, n)
		if got := statusOfCitizen(c); !cmp.Equal(got, gone) {
			t.Errorf("person %d after the complete extract: %s", n, cmp.Diff(got, gone))
		}
		if c.Residence == nil || c.Residence.ISTATCode != milano {
			t.Errorf("person %d: residence %+v", n, c.Residence)
		}
		movedIDs[c.ID.String()] = true
	}
	for n := int64(0); n < 20; n++ {
		if got := s.byCode(worker, n); got.Status != registry.StatusAlive || got.StatusSource != nil {
			t.Errorf("person %d, named by the complete extract: %+v", n, got)
		}
	}
	for n := int64(100); n < 110; n++ {
		if got := statusOfCitizen(s.byCode(wide, n)); !cmp.Equal(got, alive) {
			t.Errorf("person %d of Bergamo after Milano's complete extract: %s", n, cmp.Diff(got, alive))
		}
	}
	if n := s.Count(`SELECT count(*) FROM citizens`); n != 46 {
		t.Errorf("%d citizens, want 46 (none deleted)", n)
	}
	// An event each, naming the status and the import (read from the outbox: the feed serves
	// an event only once every older transaction of the server has ended, and the test
	// database's server is shared).
	got := map[string]bool{}
	rows, err := s.App.Pool.Query(context.Background(), `SELECT aggregate_id, payload->>'import_id' FROM outbox
		WHERE type = 'citizen.updated' AND payload->>'status' = 'moved_away'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id, imp string
		if err := rows.Scan(&id, &imp); err != nil {
			t.Fatal(err)
		}
		if imp != complete.ID.String() {
			t.Errorf("moved-away event of %s names import %s", id, imp)
		}
		got[id] = true
	}
	if rows.Close(); rows.Err() != nil {
		t.Fatal(rows.Err())
	}
	if !cmp.Equal(got, movedIDs) {
		t.Errorf("moved-away events: %s", cmp.Diff(got, movedIDs))
	}
	// The same complete extract again marks nobody more (the moved away are no longer alive).
	if again := s.startImport(admin, milano, true, csv); again.MovedAway != 0 || again.Unchanged != 21 {
		t.Errorf("the complete extract again = %+v", again)
	}

	// Person 25 is named again by a partial extract: alive, the move and its source gone.
	back := s.startImport(admin, milano, false, registerCSV(t, 25, 1, ""))
	if back.Updated != 1 {
		t.Errorf("import naming a moved-away resident = %+v", back)
	}
	if got, want := statusOfCitizen(s.byCode(worker, 25)), (statusOf{Status: registry.StatusAlive, Version: 3}); !cmp.Equal(got, want) {
		t.Errorf("person 25 named again: %s", cmp.Diff(got, want))
	}

	// An operator's change of the status clears the extract's source.
	c := s.byCode(worker, 26)
	var changed registry.Citizen
	s.Must(200, s.Do("PATCH", "/v1/citizens/"+c.ID.String(), worker, map[string]any{"moved_on": "2020-01-01"}, &changed, "If-Match", `"2"`))
	if changed.StatusSource != nil || changed.Status != registry.StatusMovedAway {
		t.Errorf("after the operator's change: %+v", changed)
	}
	s.Must(400, s.Do("POST", "/v1/imports?istat_code="+milano+"&complete=maybe", admin, strings.NewReader(csv), nil))
}
