package floor

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func TestVisitsCreateAndBatch(t *testing.T) {
	r := root(t)
	pool := pgtest.New(t,
		pgdb.MigrationSet{Name: "events", FS: os.DirFS(filepath.Join(r, "pkg/events/migrations"))},
		pgdb.MigrationSet{Name: "interventions", FS: os.DirFS(filepath.Join(r, "services/interventions/postgres/migrations"))})
	ambito, coop, citizen := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	ctx := t.Context()
	var auths []uuid.UUID
	for range 2 {
		id := uuid.Must(uuid.NewV7())
		if _, err := pool.Exec(ctx, `INSERT INTO authorizations (id, ambito_id, istat_code, case_id, citizen_id, cooperative_id, service_type,
			status, data, version, created_at, updated_at) VALUES ($1, $2, '015146', $3, $4, $5, 'SAD', 'active', '{}', 2, now(), now())`,
			id, ambito, uuid.Must(uuid.NewV7()), citizen, coop); err != nil {
			t.Fatal(err)
		}
		auths = append(auths, id)
	}
	srv := httptest.NewServer(InterventionsHandler{Pool: pool, Ambito: ambito}.Routes())
	defer srv.Close()
	op := uuid.Must(uuid.NewV7())
	visit := func(auth uuid.UUID, date, start, end string) map[string]any {
		return map[string]any{"authorization_id": auth, "operator_id": op, "date": date, "start": start, "end": end,
			"activities": []string{"personal_care", "meal"}, "place": "home", "notes": "", "absent": false, "cooperative_id": coop,
			"service_type": "SAD", "citizen_id": citizen, "recorded_by": map[string]any{"id": "c", "role": "client", "org_id": coop.String()}}
	}
	post := func(path string, body any) (int, []byte) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(srv.URL+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out bytes.Buffer
		_, _ = out.ReadFrom(resp.Body)
		return resp.StatusCode, out.Bytes()
	}
	if status, b := post("/visits", visit(auths[0], "2025-05-02", "09:00", "10:30")); status != http.StatusCreated {
		t.Fatalf("create: status %d (%s), want 201", status, b)
	}
	batch := []any{visit(auths[0], "2025-05-02", "10:30", "11:00"), visit(auths[1], "2025-05-03", "23:00", "24:00"),
		visit(auths[1], "2025-05-04", "08:00", "09:00")}
	status, b := post("/visits:batch", map[string]any{"visits": batch})
	var res struct{ Stored, Failed int }
	if err := json.Unmarshal(b, &res); err != nil || status != http.StatusOK || res.Stored != 3 || res.Failed != 0 {
		t.Fatalf("batch: status %d (%s), want 200 with 3 stored", status, b)
	}
	var rows, minutes, events int
	if err := pool.QueryRow(ctx, `SELECT count(*), sum(minutes), (SELECT count(*) FROM outbox WHERE type = 'visits.recorded')
		FROM visits WHERE ambito_id = $1 AND cooperative_id = $2 AND status = 'valid'`, ambito, coop).Scan(&rows, &minutes, &events); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]int{rows, minutes, events}, []int{4, 90 + 30 + 60 + 60, 3}); d != "" {
		t.Errorf("visits, minutes, events (-got +want):\n%s", d)
	}
	var end time.Time
	if err := pool.QueryRow(ctx, `SELECT ends_at FROM visits WHERE day = '2025-05-03'`).Scan(&end); err != nil ||
		!end.Equal(time.Date(2025, 5, 4, 0, 0, 0, 0, rome)) {
		t.Errorf("24:00 ends at %s (%v), want the next midnight", end, err)
	}
	// The same operator's slot again: the store's overlap check refuses it.
	if status, b := post("/visits", visit(auths[1], "2025-05-02", "09:30", "10:00")); status != http.StatusConflict {
		t.Errorf("overlapping visit: status %d (%s), want 409", status, b)
	}
	// Another ambito's floor does not find the authorization.
	other := httptest.NewServer(InterventionsHandler{Pool: pool, Ambito: uuid.Must(uuid.NewV7())}.Routes())
	defer other.Close()
	b, _ = json.Marshal(visit(auths[0], "2025-06-02", "09:00", "10:00"))
	if resp, err := http.Post(other.URL+"/visits", "application/json", bytes.NewReader(b)); err != nil || resp.StatusCode != http.StatusNotFound {
		t.Errorf("another ambito's create: %v %v, want 404", resp.StatusCode, err)
	}
}
