package registry_test

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
)

// registerCSV writes an extract of n people resident in istat, families of three (head,
// spouse, child) sharing a family number; variant changes every address.
func registerCSV(tb testing.TB, from, n int64, variant string) string {
	var b strings.Builder
	b.WriteString("fiscal_code,family_name,given_name,sex,birth_date,birth_place,citizenship,address,postal_code,family_number,relationship\n")
	rel := []string{"head", "spouse", "child"}
	for i := from; i < from+n; i++ {
		p := servicetest.PersonN(i)
		fmt.Fprintf(&b, "%s,%s,%s,%s,%s,F205,IT,Via Verdi %d%s,20100,F%d,%s\n", p.FiscalCode, p.FamilyName, p.GivenName, p.Sex, p.Birth.Format(time.DateOnly),
			i%500, variant, i/3, rel[i%3])
	}
	return b.String()
}

// waitImport polls the import until it is no longer processing.
func (s *suite) waitImport(token, id string) registry.Import {
	s.T.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		var im registry.Import
		s.Must(200, s.Do("GET", "/v1/imports/"+id, token, nil, &im))
		if im.Status != registry.ImportProcessing {
			return im
		}
		if time.Now().After(deadline) {
			s.T.Fatalf("import %s still processing: %+v", id, im)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func (s *suite) importCSV(token, istat string, body io.Reader) registry.Import {
	s.T.Helper()
	var im registry.Import
	s.Must(202, s.Do("POST", "/v1/imports?istat_code="+istat, token, body, &im))
	return s.waitImport(token, im.ID.String())
}

// TestImport: rows are validated one by one, households are built from the family number, and
// a re-import updates without duplicating.
func TestImport(t *testing.T) {
	s := newSuite(t, options{chunk: 7})
	tok := s.Tokens[auth.RoleAdministrative]
	csv := registerCSV(t, 0, 30, "")
	// Two bad rows more (copies of good ones): a wrong check character and a birth date that
	// disagrees with the code.
	lines := strings.Split(strings.TrimSuffix(csv, "\n"), "\n")
	bad1 := []rune(lines[5])
	bad1[15] = 'A'
	if string(bad1) == lines[5] {
		bad1[15] = 'B'
	}
	f := strings.Split(lines[6], ",")
	f[4] = "1999-01-01"
	body := strings.Join(append(lines, string(bad1), strings.Join(f, ",")), "\n") + "\n"

	im := s.importCSV(tok, milano, strings.NewReader(body))
	if im.Status != registry.ImportCompleted || im.RowsTotal != 32 || im.RowsInvalid != 2 || im.Created != 30 || im.Updated != 0 {
		t.Fatalf("first import = %+v", im)
	}
	fields := []string{}
	for _, e := range im.Errors {
		fields = append(fields, fmt.Sprintf("%d:%s", e.Line, e.Field))
	}
	if got, want := strings.Join(fields, " "), "32:fiscal_code 33:birth_date"; got != want {
		t.Errorf("row errors = %s, want %s", got, want)
	}
	if n := s.Count(`SELECT count(*) FROM citizens`); n != 30 {
		t.Errorf("%d citizens after the first import", n)
	}
	if n := s.Count(`SELECT count(DISTINCT household_id) FROM household_members WHERE valid_to IS NULL`); n != 10 {
		t.Errorf("%d households, want 10", n)
	}
	// The same file again: nothing changes.
	again := s.importCSV(tok, milano, strings.NewReader(csv))
	if again.Created != 0 || again.Updated != 0 || again.Unchanged != 30 {
		t.Errorf("re-import = %+v", again)
	}
	// New addresses: updated, never duplicated; households stay.
	moved := s.importCSV(tok, milano, strings.NewReader(registerCSV(t, 0, 30, "bis")))
	if moved.Created != 0 || moved.Updated != 30 {
		t.Errorf("import with new addresses = %+v", moved)
	}
	if n := s.Count(`SELECT count(*) FROM citizens`); n != 30 {
		t.Errorf("%d citizens after re-imports, want 30", n)
	}
	if n := s.Count(`SELECT count(*) FROM household_members`); n != 30 {
		t.Errorf("%d memberships after re-imports, want 30", n)
	}
	// The household is readable through the API.
	var page cursor.Page[registry.Hit]
	s.Must(200, s.Do("POST", "/v1/citizens:search", tok, map[string]any{"fiscal_code": servicetest.PersonN(0).FiscalCode}, &page))
	if len(page.Items) != 1 || !strings.HasSuffix(page.Items[0].Residence.Address, "bis") {
		t.Fatalf("imported citizen = %+v", page.Items)
	}
	var h registry.Household
	s.Must(200, s.Do("GET", "/v1/citizens/"+page.Items[0].ID.String()+"/household", tok, nil, &h))
	if h.FamilyNumber != "F0" || len(h.Members) != 3 {
		t.Errorf("household = %+v", h)
	}
	// A comune's operator imports only their comune; a bad header is refused.
	s.Must(403, s.Do("POST", "/v1/imports?istat_code="+bergamo, tok, csv, nil))
	s.Must(400, s.Do("POST", "/v1/imports?istat_code="+milano, tok, "name,surname\nx,y\n", nil))
	if n := s.Count(`SELECT count(*) FROM import_rows`); n != 0 {
		t.Errorf("%d staged rows left", n)
	}
	if n := s.Count(`SELECT count(*) FROM outbox WHERE type = 'citizen.updated'`); n != 30 {
		t.Errorf("%d citizen.updated events, want 30", n)
	}
}

// TestInterruptedImport: the service stopped in the middle of two imports (their chunks held up
// by a lock on the citizens) stops its import workers before the audit log and the pool, and
// leaves both imports processing. Started again, it resumes the one whose staged rows are all
// there, which then completes with every row applied once and its audit record, and marks
// failed, saying why, the one whose staged rows the database lost (the staging table is
// unlogged: a database crash empties it).
func TestInterruptedImport(t *testing.T) {
	ctx := context.Background()
	dbURL := pgtest.NewURL(t)
	first := newSuite(t, options{dbURL: dbURL, chunk: 7})
	tok := first.Tokens[auth.RoleAdministrative]
	db, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close(ctx)
	lock, err := db.Begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := lock.Exec(ctx, `LOCK TABLE citizens IN EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	var kept, lost registry.Import
	first.Must(202, first.Do("POST", "/v1/imports?istat_code="+milano, tok, registerCSV(t, 0, 30, ""), &kept))
	first.Must(202, first.Do("POST", "/v1/imports?istat_code="+milano, tok, registerCSV(t, 100, 30, ""), &lost))
	closed := make(chan error, 1)
	go func() { closed <- first.App.Close(ctx) }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatalf("closing the App: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the App did not close: its import workers did not stop")
	}
	if err := lock.Rollback(ctx); err != nil {
		t.Fatal(err)
	}
	var statuses []string
	rows, _ := db.Query(ctx, `SELECT status FROM imports ORDER BY created_at`)
	statuses, err = pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil || !slices.Equal(statuses, []string{"processing", "processing"}) {
		t.Fatalf("imports after the stop: %v, %v; want both processing", statuses, err)
	}
	if _, err := db.Exec(ctx, `DELETE FROM import_rows WHERE import_id = $1`, lost.ID); err != nil {
		t.Fatal(err)
	}

	again := newSuite(t, options{dbURL: dbURL, chunk: 7, ambito: first.Ambito})
	tok = again.Tokens[auth.RoleAdministrative]
	done := again.waitImport(tok, kept.ID.String())
	if done.Status != registry.ImportCompleted || done.RowsProcessed != 30 || done.Created != 30 || done.Updated+done.Unchanged != 0 {
		t.Errorf("the resumed import = %+v, want completed with 30 citizens created", done)
	}
	failed := again.waitImport(tok, lost.ID.String())
	if failed.Status != registry.ImportFailed || !strings.Contains(failed.Failure, "staged rows were lost") ||
		!strings.Contains(failed.Failure, "import the file again") {
		t.Errorf("the import without its rows = %+v, want failed saying why", failed)
	}
	if n := again.Count(`SELECT count(*) FROM citizens`); n != 30 {
		t.Errorf("%d citizens, want the 30 of the resumed import", n)
	}
	if n := again.Count(`SELECT count(*) FROM audit_records WHERE action = 'citizen.import' AND resource_id = $1 AND actor_role = 'administrative'`,
		kept.ID.String()); n != 1 {
		t.Errorf("%d audit records of the resumed import by its administrator, want 1", n)
	}
}
