package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

func migrations(t *testing.T, service string) []pgdb.MigrationSet {
	t.Helper()
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	return []pgdb.MigrationSet{
		{Name: "events", FS: os.DirFS(filepath.Join(root, "pkg/events/migrations"))},
		{Name: service, FS: os.DirFS(filepath.Join(root, "services", service, "postgres/migrations"))},
	}
}

// Every pgbench script runs on its service's schema, without a failed transaction, and the
// creates leave their rows.
func TestPgbenchScriptsRun(t *testing.T) {
	if _, err := pgbenchPath(); err != nil {
		t.Fatal(err)
	}
	ambito := uuid.Must(uuid.NewV7())
	registry := pgtest.New(t, migrations(t, "registry")...)
	intake := pgtest.New(t, migrations(t, "intake")...)
	ctx := t.Context()
	now := time.Now().UTC()
	if _, err := registry.Exec(ctx, `INSERT INTO citizens (id, ambito_id, fiscal_code, fiscal_code_canonical, family_name, given_name, sex,
		birth_date, status, data, version, created_at, updated_at)
		VALUES ($1, $2, 'RSSMRA80A01F205X', 'RSSMRA80A01F205X', 'Rossi', 'Mario', 'M', '1980-01-01', 'alive', '{}', 1, $3, $3)`,
		uuid.Must(uuid.NewV7()), ambito, now); err != nil {
		t.Fatal(err)
	}
	if _, err := intake.Exec(ctx, `INSERT INTO cases (id, ambito_id, citizen_id, istat_code, status, responsible_id, case_manager_id,
		data, version, created_at, updated_at) VALUES ($1, $2, $3, '015182', 'open', $3, $3, '{}', 1, $4, $4)`,
		uuid.Must(uuid.NewV7()), ambito, uuid.Must(uuid.NewV7()), now); err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{"registry": registry.Config().ConnString(), "intake": intake.Config().ConnString()}
	out, err := runPgbench(ctx, io.Discard, urls, ambito.String(), time.Second)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, r := range out {
		names = append(names, r.Database+": "+r.Name)
		if r.TPS <= 0 || r.Statements == "" {
			t.Errorf("%s on %s: %.0f transactions/s, statements %q", r.Name, r.Database, r.TPS, r.Statements)
		}
	}
	want := []string{"registry: citizen read", "registry: citizen create", "intake: case read", "intake: access create"}
	if d := cmp.Diff(names, want); d != "" {
		t.Errorf("pgbench runs (-got +want):\n%s", d)
	}
	var accesses, events int
	if err := intake.QueryRow(ctx, `SELECT count(*), (SELECT count(*) FROM outbox WHERE type = 'access.recorded') FROM accesses
		WHERE ambito_id = $1 AND access_date = $2`, ambito, accessDate).Scan(&accesses, &events); err != nil {
		t.Fatal(err)
	}
	if accesses == 0 || accesses != events {
		t.Errorf("pgbench's access creates left %d accesses and %d events, want as many, more than none", accesses, events)
	}
	var left int
	if err := intake.QueryRow(ctx, `SELECT count(*) FROM pg_tables WHERE tablename = 'pgbench_ids'`).Scan(&left); err != nil || left != 0 {
		t.Errorf("the helper table is left behind (%d, %v)", left, err)
	}
}

// The floor writes the record intake stores: every field of the API's request, under the
// same name, and the columns from the same values.
func TestFloorAccessIsTheAPIs(t *testing.T) {
	c := citizen{ID: uuid.Must(uuid.NewV7()), ISTAT: "015009"}
	api := accessBody(c)
	fl := floorAccessBody(c)
	data := fl["data"].(map[string]any)
	for k, v := range api {
		if d := cmp.Diff(jsonOf(data[k]), jsonOf(v)); d != "" {
			t.Errorf("data.%s (-floor +api):\n%s", k, d)
		}
	}
	cols := map[string]any{"istat_code": fl["istat_code"], "access_date": fl["access_date"], "citizen_id": fl["citizen_id"], "outcome": fl["outcome"]}
	want := map[string]any{"istat_code": api["istat_code"], "access_date": api["date"], "citizen_id": api["citizen_id"], "outcome": "information"}
	if d := cmp.Diff(cols, want); d != "" {
		t.Errorf("columns (-floor +api):\n%s", d)
	}
}

// The report has intake's tables, with intake's CPU and memory, and keeps the hand-written
// sections of the previous one.
func TestReportHasIntake(t *testing.T) {
	path := filepath.Join(t.TempDir(), "BENCHMARKS.md")
	if err := os.WriteFile(path, []byte("old\n<!-- analysis -->\nhand-written analysis\n<!-- /analysis -->\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	procs := []load.Proc{{Name: "identity"}, {Name: "registry"}, {Name: "intake"}, {Name: "csifloor"}}
	step := func(rate float64, rss int64) load.Result {
		r := load.Result{Rate: rate, Throughput: rate, OK: int(rate) * 3, P50: time.Millisecond, P99: 10 * time.Millisecond}
		for _, p := range procs {
			r.Procs = append(r.Procs, load.ProcUsage{Name: p.Name, CPU: time.Duration(rate) * 3 * time.Millisecond, PeakRSS: rss, HWM: rss})
		}
		return r
	}
	result := func(t target, rate float64) opResult {
		s := step(rate, 42<<20)
		return opResult{target: t, out: load.Outcome{Best: &s, Steps: []load.Result{s}}}
	}
	ts := intakeTargets(nil, "http://intake", "http://floor", []citizen{{ISTAT: "015182"}}, []kase{{ISTAT: "015182"}}, workerTokens{}, nil)
	rep := report{began: time.Now(), procs: procs, intake: demo.IntakeResult{Accesses: 320, Cases: 109}}
	for i, tg := range ts {
		rep.results = append(rep.results, result(tg, float64(100*(i+1))))
	}
	if err := rep.write(path); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	out := string(b)
	for _, want := range []string{
		"## Intake: case reads", "## Intake: access creates",
		"CPU ms/req (identity / registry / intake / csifloor)",
		"| case read | 200 | 2.00 |", "| access create | 400 | 1.33 |",
		"| intake | 42.0 MB | 42.0 MB | yes |",
		"intake: 320 accesses and 109 cases",
		"one call to the registry per create",
		"hand-written analysis",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("the report lacks %q", want)
		}
	}
	if t.Failed() {
		t.Log(out)
	}
}

func TestJSONOf(t *testing.T) {
	var m map[string]any
	if err := json.Unmarshal([]byte(jsonOf(floorAccessBody(citizen{ISTAT: "015182"})["data"])), &m); err != nil || m["istat_code"] != "015182" {
		t.Errorf("jsonOf: %v %v", m, err)
	}
}
