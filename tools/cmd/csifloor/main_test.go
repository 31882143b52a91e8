package main

import (
	"context"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

func TestFlags(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"no ambito", []string{"-intake-database-url", "postgres://x"}, "-ambito"},
		{"no database", []string{"-ambito", uuid.NewString(), "-database-url", ""}, "give -database-url"},
		{"bad url", []string{"-ambito", uuid.NewString(), "-intake-database-url", "::"}, "-intake-database-url: invalid"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := run(t.Context(), tc.args)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("run(%q) = %v, want an error with %q", tc.args, err, tc.want)
			}
		})
	}
}

// With -intake-database-url alone, csifloor serves intake's floor and not the registry's.
func TestServesIntakesFloor(t *testing.T) {
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	pool := pgtest.New(t,
		pgdb.MigrationSet{Name: "events", FS: os.DirFS(filepath.Join(root, "pkg/events/migrations"))},
		pgdb.MigrationSet{Name: "intake", FS: os.DirFS(filepath.Join(root, "services/intake/postgres/migrations"))})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-addr", addr, "-ambito", uuid.NewString(), "-database-url", "",
			"-intake-database-url", pool.Config().ConnString()})
	}()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("csifloor did not listen within 10 s")
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Post("http://"+addr+"/accesses", "application/json", strings.NewReader(`{"istat_code": "015182",
		"access_date": "2026-03-10", "recorded_by": "x", "data": {}}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusCreated {
		t.Errorf("POST /accesses: status %d, want 201", resp.StatusCode)
	}
	resp, err = http.Get("http://" + addr + "/citizens/" + uuid.NewString())
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /citizens/{id} without the registry's database: status %d, want 404 (not served)", resp.StatusCode)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("run after cancel: %v", err)
	}
}
