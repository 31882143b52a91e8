package pgtest_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func databaseExists(t *testing.T, name string) bool {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, pgtest.ServerURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var n int
	if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_database WHERE datname = $1", name).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n == 1
}

func TestNew(t *testing.T) {
	set := pgdb.MigrationSet{Name: "pgtest", FS: fstest.MapFS{
		"00001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE t (id int);\n-- +goose Down\nDROP TABLE t;\n")},
	}}
	var names []string
	// A long subtest name with characters that are not valid in an unquoted identifier.
	for _, sub := range []string{"first", "Second/with spaces & Ünïcode, and a name far longer than sixty-three characters"} {
		t.Run(sub, func(t *testing.T) {
			pool := pgtest.New(t, set)
			ctx := context.Background()
			var name string
			if err := pool.QueryRow(ctx, "SELECT current_database()").Scan(&name); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
			if !strings.HasPrefix(name, "t_") || len(name) > 63 {
				t.Errorf("database name %q, want t_... of at most 63 bytes", name)
			}
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM t").Scan(&n); err != nil {
				t.Errorf("the migration was not applied: %v", err)
			}
		})
	}
	if len(names) != 2 || names[0] == names[1] {
		t.Fatalf("databases %v, want two distinct ones", names)
	}
	for _, name := range names {
		if databaseExists(t, name) {
			t.Errorf("database %s still exists after its test ended", name)
		}
	}
}

// fatalTB records Fatal instead of failing the real test.
type fatalTB struct {
	testing.TB
	msg string
}

func (f *fatalTB) Helper() {}

func (f *fatalTB) Fatal(args ...any) {
	f.msg = fmt.Sprint(args...)
	runtime.Goexit()
}

func TestServerURLMissing(t *testing.T) {
	t.Setenv("CSI_TEST_DATABASE_URL", "")
	tb := &fatalTB{TB: t}
	done := make(chan string, 1)
	go func() {
		defer func() { done <- tb.msg }()
		got := pgtest.ServerURL(tb)
		tb.msg = "returned " + got
	}()
	msg := <-done
	if !strings.Contains(msg, "CSI_TEST_DATABASE_URL is not set") {
		t.Errorf("ServerURL without the variable: %q, want a Fatal naming CSI_TEST_DATABASE_URL", msg)
	}
}

func TestRowCounts(t *testing.T) {
	set := pgdb.MigrationSet{Name: "rows", FS: fstest.MapFS{
		"00001_t.sql": {Data: []byte("-- +goose Up\nCREATE TABLE a (id int);\nCREATE TABLE \"Mixed Case\" (id int);\n" +
			"INSERT INTO a VALUES (1), (2);\n-- +goose Down\nDROP TABLE a;\n")},
	}}
	pool := pgtest.New(t, set)
	got := pgtest.RowCounts(t, pool)
	if got["a"] != 2 || got["Mixed Case"] != 0 {
		t.Errorf("RowCounts = %v, want a: 2, Mixed Case: 0", got)
	}
	if _, err := pool.Exec(context.Background(), `INSERT INTO "Mixed Case" VALUES (1)`); err != nil {
		t.Fatal(err)
	}
	if got := pgtest.RowCounts(t, pool)["Mixed Case"]; got != 1 {
		t.Errorf("after an insert, Mixed Case has %d rows, want 1", got)
	}
}
