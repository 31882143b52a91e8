package main

import (
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// The read-back of scenario f counts intake's accesses by their desk and reads each one
// answered 2xx through the API: lost, duplicated, stored without a 2xx, unreadable.
func TestCheckStoredAccesses(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.New(t,
		pgdb.MigrationSet{Name: "events", FS: os.DirFS(filepath.Join(root, "pkg/events/migrations"))},
		pgdb.MigrationSet{Name: "intake", FS: os.DirFS(filepath.Join(root, "services/intake/postgres/migrations"))})
	ambito := uuid.Must(uuid.NewV7())
	ids := map[string]string{} // access id -> desk, as the fake intake answers
	insert := func(desk string) string {
		id := uuid.Must(uuid.NewV7())
		if _, err := pool.Exec(t.Context(), `INSERT INTO accesses (id, ambito_id, istat_code, access_date, recorded_by, data, created_at, updated_at)
			VALUES ($1, $2, '015182', '2026-03-10', 'x', jsonb_build_object('desk', $3::text), now(), now())`, id, ambito, desk); err != nil {
			t.Fatal(err)
		}
		ids[id.String()] = desk
		return id.String()
	}
	once := insert("m-once")
	twice := insert("m-twice")
	insert("m-twice")
	insert("m-refused-but-stored")
	unreadable := insert("m-unreadable")
	delete(ids, unreadable)

	intake := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		desk, ok := ids[strings.TrimPrefix(r.URL.Path, "/v1/accesses/")]
		if !ok || r.Header.Get("Authorization") != "Bearer tok" {
			w.WriteHeader(http.StatusNotFound)
			return
		}
		_ = json.NewEncoder(w).Encode(map[string]string{"desk": desk})
	}))
	defer intake.Close()
	tg := newTarget("", intake.URL, "", "", "", "run", "015182")
	tok := "tok"
	tg.userToken.Store(&tok)

	at := time.Now()
	results := []result{
		{op: opAccessCreate, at: at, status: 201, marker: "m-once", id: once},
		{op: opAccessCreate, at: at, status: 201, marker: "m-twice", id: twice},
		{op: opAccessCreate, at: at, status: 201, marker: "m-lost", id: uuid.NewString()},
		{op: opAccessCreate, at: at, status: 201, marker: "m-unreadable", id: unreadable},
		{op: opAccessCreate, at: at, status: 503, marker: "m-refused"},
		{op: opAccessCreate, at: at, status: 503, marker: "m-refused-but-stored"},
		{op: opAccessRead, at: at, status: 200},
		{op: opCreate, at: at, status: 201, marker: "m-citizen"}, // another store's
	}
	got, err := checkStored(t.Context(), pool.Config().ConnString(), tg, results, accesses)
	if err != nil {
		t.Fatal(err)
	}
	want := writes{acked: 4, lost: 1, duplicated: 1, unacked: 1, apiMissing: 2, rows: 5}
	if d := cmp.Diff(got, want, cmp.AllowUnexported(writes{})); d != "" {
		t.Errorf("checkStored (-got +want):\n%s", d)
	}
}

// Each access create of the load names one of the citizens the load created, in the
// operator's comune, and is marked by its desk; keys and markers never repeat.
func TestNewAccess(t *testing.T) {
	tg := newTarget("", "", "", "", "", "run", "015182")
	tg.stored = []string{"c1"}
	seen := map[string]bool{}
	for range 3 {
		body, marker, key := tg.newAccess()
		var a struct {
			ISTAT     string `json:"istat_code"`
			Desk      string `json:"desk"`
			CitizenID string `json:"citizen_id"`
		}
		if err := json.Unmarshal(body, &a); err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff([]string{a.ISTAT, a.Desk, a.CitizenID}, []string{"015182", marker, "c1"}); d != "" {
			t.Errorf("access (-got +want):\n%s", d)
		}
		if seen[marker] || seen[key] {
			t.Errorf("marker %s or key %s repeated", marker, key)
		}
		seen[marker], seen[key] = true, true
	}
}

// judge fails an outcome once for each kind of loss the read-back found, and for a failed read.
func TestJudge(t *testing.T) {
	for _, tc := range []struct {
		name string
		w    writes
		err  error
		want []string
	}{
		{"nothing lost", writes{acked: 5, rows: 5}, nil, nil},
		{"each kind", writes{acked: 5, lost: 1, duplicated: 2, unacked: 3, apiMissing: 4}, nil, []string{
			"1 visits answered 201 are missing", "2 visits are stored more than once (operator, start)",
			"3 visits are stored that no answer named", "4 visits answered 201 cannot be read back through the API"}},
		{"read failed", writes{}, errTest, []string{"reading back: " + errTest.Error()}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var o outcome
			o.judge(tc.w, tc.err, "visits", "201", "operator, start")
			if diff := cmp.Diff(tc.want, o.problems); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
			if o.w != tc.w {
				t.Errorf("read-back kept %+v, want %+v", o.w, tc.w)
			}
		})
	}
}

var errTest = errors.New("connection refused")
