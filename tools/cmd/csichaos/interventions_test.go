package main

import (
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/docstore"
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

// The S3 switch carries connections while up; down, it cuts those it carries and refuses new
// ones; up again, it carries new ones.
func TestS3Switch(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() { _, _ = io.Copy(c, c); _ = c.Close() }() // an echo server
		}
	}()
	sw, err := newS3Switch(docstore.S3Config{Endpoint: ln.Addr().String()})
	if err != nil {
		t.Fatal(err)
	}
	defer sw.Close()
	echo := func(c net.Conn) error {
		_ = c.SetDeadline(time.Now().Add(2 * time.Second))
		if _, err := c.Write([]byte("ping")); err != nil {
			return err
		}
		b := make([]byte, 4)
		if _, err := io.ReadFull(c, b); err != nil {
			return err
		}
		if string(b) != "ping" {
			return fmt.Errorf("echo %q", b)
		}
		return nil
	}
	c, err := net.Dial("tcp", sw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c); err != nil {
		t.Fatalf("up: %v", err)
	}
	sw.SetDown(true)
	if err := echo(c); err == nil {
		t.Error("down: a connection it carried still answers")
	}
	if c2, err := net.Dial("tcp", sw.Addr()); err == nil {
		if err := echo(c2); err == nil {
			t.Error("down: a new connection answers")
		}
	}
	sw.SetDown(false)
	c3, err := net.Dial("tcp", sw.Addr())
	if err != nil {
		t.Fatal(err)
	}
	if err := echo(c3); err != nil {
		t.Errorf("up again: %v", err)
	}
}
