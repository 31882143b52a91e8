package floor

import (
	"encoding/json"
	"io"
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
)

// The intake floor is only a floor if it runs intake's statements: each must appear, up to
// white space, in intake's store or in pkg/events.
func TestStatementsAreIntakes(t *testing.T) {
	var src string
	for _, p := range []string{"services/intake/postgres/accesses.go", "services/intake/postgres/cases.go",
		"services/intake/postgres/needs.go", "pkg/events/events.go"} {
		b, err := os.ReadFile(filepath.Join(root(t), p))
		if err != nil {
			t.Fatal(err)
		}
		src += squash(string(b))
	}
	tests := []struct{ name, sql string }{
		{"taxonomy", TaxonomySQL},
		{"access insert", AccessInsertSQL},
		{"insert event", InsertEventSQL},
		{"case columns", CaseCols},
		{"case read tail", ` FROM cases c WHERE c.ambito_id = $1 AND c.id = $2`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, squash(tc.sql)) {
				t.Errorf("intake no longer runs %q: copy its statement here again", squash(tc.sql))
			}
		})
	}
}

// What the access create and the case read run, in intake's service code: the taxonomy read
// before the transaction, the access and its event in it; the case read is the store's GetCase.
// A change there (another statement in the create, a cache in front of the read) must reach
// the floor too.
func TestTransactionsAreIntakes(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "services/intake/accesses.go"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	_, create, ok := strings.Cut(src, "func (s *Service) CreateAccess(")
	if !ok {
		t.Fatal("no CreateAccess in services/intake/accesses.go")
	}
	create, _, _ = strings.Cut(create, "\n}\n")
	for _, call := range []string{"s.recordTaxonomy(ctx, sc.ambitoID, \"taxonomy_version\", in.TaxonomyVersion)",
		"s.store.InTx(ctx, func(tx Store) error {", "tx.CreateAccess(ctx, a)", "tx.AppendEvents(ctx, events.Of(sc.ambitoID, \"access.recorded\""} {
		if !strings.Contains(create, call) {
			t.Errorf("CreateAccess no longer calls %s: update the floor's access create", call)
		}
	}
	if n := strings.Count(create, "tx."); n != 2 {
		t.Errorf("CreateAccess runs %d statements in its transaction, the floor 2: update the floor", n)
	}
	b, err = os.ReadFile(filepath.Join(root(t), "services/intake/cases.go"))
	if err != nil {
		t.Fatal(err)
	}
	_, get, ok := strings.Cut(string(b), "func (s *Service) GetCase(")
	if !ok {
		t.Fatal("no GetCase in services/intake/cases.go")
	}
	get, _, _ = strings.Cut(get, "\n}\n")
	if n := strings.Count(get, "s.store."); n != 1 || !strings.Contains(get, "s.store.GetCase(ctx, sc.ambitoID, id, false)") {
		t.Errorf("GetCase reads the store %d times, or no longer with store.GetCase: update the floor's case read", n)
	}
}

func TestIntakeCreateAndRead(t *testing.T) {
	r := root(t)
	pool := pgtest.New(t,
		pgdb.MigrationSet{Name: "events", FS: os.DirFS(filepath.Join(r, "pkg/events/migrations"))},
		pgdb.MigrationSet{Name: "intake", FS: os.DirFS(filepath.Join(r, "services/intake/postgres/migrations"))})
	ambito := uuid.Must(uuid.NewV7())
	srv := httptest.NewServer(Mux(nil, &IntakeHandler{Pool: pool, Ambito: ambito}, nil))
	defer srv.Close()

	citizen := uuid.Must(uuid.NewV7())
	body := `{"istat_code": "015182", "access_date": "2026-03-10", "citizen_id": "` + citizen.String() + `", "outcome": "information",
		"recorded_by": "` + uuid.NewString() + `", "data": {"channel": "in_person", "needs": ["ANZ.01"]}}`
	resp, err := http.Post(srv.URL+"/accesses", "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var created Access
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d, %v, want 201", resp.StatusCode, err)
	}
	resp.Body.Close()
	var rows, events int
	ctx := t.Context()
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM accesses WHERE id = $1 AND ambito_id = $2 AND citizen_id = $3 AND data->>'channel' = 'in_person'`,
		created.ID, ambito, citizen).Scan(&rows); err != nil || rows != 1 {
		t.Errorf("access rows %d (%v), want 1", rows, err)
	}
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox WHERE aggregate_id = $1 AND type = 'access.recorded'`, created.ID.String()).Scan(&events); err != nil || events != 1 {
		t.Errorf("outbox rows %d (%v), want 1", events, err)
	}

	// A case on the access, as intake writes one, with its first status.
	caseID, me := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	now := time.Now().UTC()
	if _, err := pool.Exec(ctx, `INSERT INTO cases (id, ambito_id, citizen_id, istat_code, status, responsible_id, case_manager_id, access_id,
		data, version, created_at, updated_at) VALUES ($1, $2, $3, '015182', 'open', $4, $4, $5, '{"area": "ANZ"}', 1, $6, $6)`,
		caseID, ambito, citizen, me, created.ID, now); err != nil {
		t.Fatal(err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO case_status_history (ambito_id, case_id, status, reason, on_date, by_operator, at)
		VALUES ($1, $2, 'open', '', '2026-03-11', '{"id": "x"}', $3)`, ambito, caseID, now); err != nil {
		t.Fatal(err)
	}
	get := func(id string) (int, []byte) {
		resp, err := http.Get(srv.URL + "/cases/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, b
	}
	status, b := get(caseID.String())
	if status != http.StatusOK {
		t.Fatalf("read: status %d (%s), want 200", status, b)
	}
	var got struct {
		Data          map[string]any   `json:"data"`
		Version       int64            `json:"version"`
		StatusHistory []map[string]any `json:"status_history"`
		Transfers     []any            `json:"transfers"`
	}
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	have := map[string]any{"area": got.Data["area"], "version": got.Version, "history": len(got.StatusHistory), "transfers": len(got.Transfers)}
	want := map[string]any{"area": "ANZ", "version": int64(1), "history": 1, "transfers": 0}
	if d := cmp.Diff(have, want); d != "" {
		t.Errorf("read back (-got +want):\n%s", d)
	}
	if status, _ := get(uuid.NewString()); status != http.StatusNotFound {
		t.Errorf("unknown case: status %d, want 404", status)
	}
	// Another ambito's floor does not see the case.
	other := httptest.NewServer(IntakeHandler{Pool: pool, Ambito: uuid.Must(uuid.NewV7())}.Routes())
	defer other.Close()
	if resp, err := http.Get(other.URL + "/cases/" + caseID.String()); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("another ambito's read: %v %v, want 404", resp.StatusCode, err)
	}
}
