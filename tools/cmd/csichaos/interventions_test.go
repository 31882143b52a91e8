package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/ivload"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// The read-back of scenarios h and i counts the visits of the scenario's days: the ids answered
// that are missing (lost), the rows beyond the first of an operator and start (duplicated: a
// voided visit and a valid one of the same slot, which the exclusion constraint lets through),
// and the rows no answer named.
func TestReadBackVisits(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.New(t,
		pgdb.MigrationSet{Name: "events", FS: os.DirFS(filepath.Join(root, "pkg/events/migrations"))},
		pgdb.MigrationSet{Name: "interventions", FS: os.DirFS(filepath.Join(root, "services/interventions/postgres/migrations"))})
	ctx := t.Context()
	ambito, coop, auth := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	if _, err := pool.Exec(ctx, `INSERT INTO authorizations (id, ambito_id, istat_code, case_id, citizen_id, cooperative_id, service_type,
		status, data, version, created_at, updated_at) VALUES ($1, $2, '015146', $1, $1, $3, 'SAD', 'active', '{}', 2, now(), now())`,
		auth, ambito, coop); err != nil {
		t.Fatal(err)
	}
	op := uuid.Must(uuid.NewV7())
	visit := func(day string, hour int, status string) string {
		id := uuid.Must(uuid.NewV7())
		d, _ := time.Parse(time.DateOnly, day)
		at := d.Add(time.Duration(hour) * time.Hour)
		var voided *time.Time
		if status == "voided" {
			voided = &at
		}
		if _, err := pool.Exec(ctx, `INSERT INTO visits (id, ambito_id, authorization_id, cooperative_id, service_type, citizen_id, operator_id,
			day, starts_at, ends_at, minutes, absent, place, activities, notes, excess_minutes, status, voided_at, recorded_by, recorded_at)
			VALUES ($1, $2, $3, $4, 'SAD', $3, $5, $6, $7, $8, 60, false, 'home', '{}', '', 0, $9, $10, '{}', now())`,
			id, ambito, auth, coop, op, day, at, at.Add(time.Hour), status, voided); err != nil {
			t.Fatal(err)
		}
		return id.String()
	}
	a, b := visit("2011-01-01", 9, "valid"), visit("2011-01-01", 10, "voided")
	visit("2011-01-01", 10, "valid") // the voided one's slot again: a duplicate, named by no answer
	visit("2011-01-05", 9, "valid")  // outside the calendar
	outside := visit("2011-01-02", 11, "valid")
	cal := ivload.Calendar{First: time.Date(2011, 1, 1, 0, 0, 0, 0, time.UTC), Days: 2}
	w, err := readBackVisits(ctx, pool.Config().ConnString(), coop, cal, []string{a, b, outside, uuid.NewString()})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]int{"acked": w.acked, "rows": w.rows, "lost": w.lost, "duplicated": w.duplicated, "unacked": w.unacked}
	want := map[string]int{"acked": 4, "rows": 4, "lost": 1, "duplicated": 1, "unacked": 1}
	if d := cmp.Diff(got, want); d != "" {
		t.Errorf("read back (-got +want):\n%s", d)
	}
}
