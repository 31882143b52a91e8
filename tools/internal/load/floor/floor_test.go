package floor

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

func root(t *testing.T) string {
	t.Helper()
	r, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	return r
}

var space = regexp.MustCompile(`\s+`)

func squash(s string) string { return space.ReplaceAllString(s, " ") }

// The floor is only a floor if it runs the registry's statements: each must appear, up to
// white space, in the registry's store or in pkg/events.
func TestStatementsAreTheRegistrys(t *testing.T) {
	var src string
	for _, p := range []string{"services/registry/postgres/postgres.go", "pkg/events/events.go"} {
		b, err := os.ReadFile(filepath.Join(root(t), p))
		if err != nil {
			t.Fatal(err)
		}
		src += squash(string(b))
	}
	tests := []struct{ name, sql string }{
		{"citizen columns", CitizenCols},
		{"read tail", ` FROM citizens c WHERE c.ambito_id = $1 AND c.id = $2`},
		{"by code", ByCodeSQL},
		{"duplicates", DuplicatesSQL},
		{"insert", InsertSQL},
		{"insert code", InsertCodeSQL},
		{"insert event", InsertEventSQL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, squash(tc.sql)) {
				t.Errorf("the registry no longer runs %q: copy its statement here again", squash(tc.sql))
			}
		})
	}
}

func TestCreateAndRead(t *testing.T) {
	r := root(t)
	pool := pgtest.New(t,
		pgdb.MigrationSet{Name: "events", FS: os.DirFS(filepath.Join(r, "pkg/events/migrations"))},
		pgdb.MigrationSet{Name: "registry", FS: os.DirFS(filepath.Join(r, "services/registry/postgres/migrations"))})
	ambito := uuid.Must(uuid.NewV7())
	srv := httptest.NewServer(Handler{Pool: pool, Ambito: ambito}.Routes())
	defer srv.Close()

	body := `{"fiscal_code": "RSSMRA80A01F205X", "fiscal_code_canonical": "RSSMRA80A01F205X", "family_name": "Rossi",
		"given_name": "Mario", "sex": "M", "birth_date": "1980-01-01", "birth_belfiore": "F205", "residence_istat": "015182",
		"data": {"citizenship": "IT"}}`
	post := func() *http.Response {
		resp, err := http.Post(srv.URL+"/citizens", "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		return resp
	}
	resp := post()
	var created Citizen
	if err := json.NewDecoder(resp.Body).Decode(&created); err != nil || resp.StatusCode != http.StatusCreated {
		t.Fatalf("create: status %d, %v, want 201", resp.StatusCode, err)
	}
	resp.Body.Close()
	if resp := post(); resp.StatusCode != http.StatusConflict {
		t.Errorf("second create of the same code: status %d, want 409", resp.StatusCode)
	}

	get := func(id string) (*http.Response, []byte) {
		resp, err := http.Get(srv.URL + "/citizens/" + id)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		return resp, buf.Bytes()
	}
	resp, b := get(created.ID.String())
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("read: status %d (%s), want 200", resp.StatusCode, b)
	}
	var got Citizen
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	var history []map[string]any
	if err := json.Unmarshal(got.FiscalCodeHistory, &history); err != nil || len(history) != 1 || history[0]["fiscal_code"] != "RSSMRA80A01F205X" {
		t.Errorf("history %s, want the one assigned code", got.FiscalCodeHistory)
	}
	want := map[string]string{"id": created.ID.String(), "ambito": ambito.String(), "name": "Rossi Mario", "birth": "1980-01-01", "status": "alive"}
	have := map[string]string{"id": got.ID.String(), "ambito": got.AmbitoID.String(), "name": got.FamilyName + " " + got.GivenName,
		"birth": got.BirthDate, "status": got.Status}
	if d := cmp.Diff(have, want); d != "" {
		t.Errorf("read back (-got +want):\n%s", d)
	}
	var events int
	if err := pool.QueryRow(t.Context(), `SELECT count(*) FROM outbox WHERE aggregate_id = $1`, created.ID.String()).Scan(&events); err != nil || events != 1 {
		t.Errorf("outbox rows %d (%v), want 1", events, err)
	}
	if resp, _ := get(uuid.NewString()); resp.StatusCode != http.StatusNotFound {
		t.Errorf("unknown id: status %d, want 404", resp.StatusCode)
	}
}
