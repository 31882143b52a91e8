package pgdb_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// migrations builds a set from (file name, SQL up) pairs.
func migrations(name string, files ...string) pgdb.MigrationSet {
	fsys := fstest.MapFS{}
	for i := 0; i < len(files); i += 2 {
		fsys[files[i]] = &fstest.MapFile{Data: []byte("-- +goose Up\n" + files[i+1] + "\n-- +goose Down\nSELECT 1;\n")}
	}
	return pgdb.MigrationSet{Name: name, FS: fsys}
}

// alpha records every application of its migrations in alpha_log, so that a migration applied
// twice shows. The second one is slow, so that concurrent runs overlap.
var alpha = migrations("alpha",
	"00001_log.sql", "CREATE TABLE alpha_log (version int NOT NULL);\nINSERT INTO alpha_log VALUES (1);",
	"00002_things.sql", "SELECT pg_sleep(0.3);\nCREATE TABLE things (id int PRIMARY KEY);\nINSERT INTO alpha_log VALUES (2);",
)

var beta = migrations("beta",
	"00001_widgets.sql", "CREATE TABLE widgets (id int PRIMARY KEY);",
)

func appliedVersions(t *testing.T, pool *pgxpool.Pool, table string) []int64 {
	t.Helper()
	rows, err := pool.Query(context.Background(),
		"SELECT version_id FROM "+pgx.Identifier{table}.Sanitize()+" WHERE version_id > 0 AND is_applied ORDER BY id")
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		t.Fatalf("read %s: %v", table, err)
	}
	return got
}

func alphaLog(t *testing.T, pool *pgxpool.Pool) []int {
	t.Helper()
	rows, err := pool.Query(context.Background(), "SELECT version FROM alpha_log ORDER BY version")
	if err != nil {
		t.Fatalf("read alpha_log: %v", err)
	}
	got, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatalf("read alpha_log: %v", err)
	}
	return got
}

func TestMigrate(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t) // an empty database
	for run := 1; run <= 2; run++ {
		if err := pgdb.Migrate(ctx, pool, nil, alpha, beta); err != nil {
			t.Fatalf("Migrate() run %d = %v", run, err)
		}
	}
	if diff := cmp.Diff([]int{1, 2}, alphaLog(t, pool)); diff != "" {
		t.Errorf("alpha migrations applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1, 2}, appliedVersions(t, pool, "goose_alpha")); diff != "" {
		t.Errorf("goose_alpha versions (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1}, appliedVersions(t, pool, "goose_beta")); diff != "" {
		t.Errorf("goose_beta versions (-want +got):\n%s", diff)
	}
	if _, err := pool.Exec(ctx, "INSERT INTO things VALUES (1); INSERT INTO widgets VALUES (1)"); err != nil {
		t.Errorf("tables of both sets: %v", err)
	}
	pending, err := pgdb.Pending(ctx, pool, alpha, beta)
	if err != nil || pending {
		t.Errorf("Pending() after Migrate = %v, %v; want false, nil", pending, err)
	}

	// A new migration in one set is applied alone; the other set is untouched.
	alpha3 := migrations("alpha",
		"00001_log.sql", "SELECT 1/0;", // already applied: must not run again
		"00002_things.sql", "SELECT 1/0;",
		"00003_more.sql", "ALTER TABLE things ADD COLUMN name text;\nINSERT INTO alpha_log VALUES (3);",
	)
	pending, err = pgdb.Pending(ctx, pool, beta, alpha3)
	if err != nil || !pending {
		t.Errorf("Pending() with a new migration = %v, %v; want true, nil", pending, err)
	}
	if err := pgdb.Migrate(ctx, pool, nil, beta, alpha3); err != nil {
		t.Fatalf("Migrate() with a new migration = %v", err)
	}
	if diff := cmp.Diff([]int{1, 2, 3}, alphaLog(t, pool)); diff != "" {
		t.Errorf("alpha migrations applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1}, appliedVersions(t, pool, "goose_beta")); diff != "" {
		t.Errorf("goose_beta versions (-want +got):\n%s", diff)
	}
}

func TestMigrateFailureRollsBack(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t)
	bad := migrations("bad",
		"00001_ok.sql", "CREATE TABLE ok_table (id int);",
		"00002_broken.sql", "CREATE TABLE half (id int);\nSELECT no_such_column FROM ok_table;",
	)
	err := pgdb.Migrate(ctx, pool, nil, bad)
	if err == nil || !strings.Contains(err.Error(), "migrations bad") {
		t.Fatalf("Migrate(broken) = %v, want an error naming the set", err)
	}
	if diff := cmp.Diff([]int64{1}, appliedVersions(t, pool, "goose_bad")); diff != "" {
		t.Errorf("goose_bad versions (-want +got):\n%s", diff)
	}
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM pg_tables WHERE tablename = 'half'").Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("the broken migration left table half behind")
	}
}

func TestMigrateConcurrent(t *testing.T) {
	ctx := context.Background()
	url := pgtest.NewURL(t)
	// Two replicas starting together, each with its own pool.
	var wg sync.WaitGroup
	errc := make(chan error, 2)
	for range 2 {
		pool, err := pgdb.Open(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		wg.Go(func() { errc <- pgdb.Migrate(ctx, pool, nil, alpha, beta) })
	}
	wg.Wait()
	close(errc)
	for err := range errc {
		if err != nil {
			t.Errorf("concurrent Migrate() = %v", err)
		}
	}
	pool, err := pgdb.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	if diff := cmp.Diff([]int{1, 2}, alphaLog(t, pool)); diff != "" {
		t.Errorf("alpha migrations applied (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int64{1, 2}, appliedVersions(t, pool, "goose_alpha")); diff != "" {
		t.Errorf("goose_alpha versions (-want +got):\n%s", diff)
	}
}

func TestInTx(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, migrations("intx", "00001_t.sql", "CREATE TABLE notes (id int PRIMARY KEY);"))
	errFn := errors.New("the business rule said no")
	tests := []struct {
		name    string
		id      int
		fn      func(tx pgx.Tx, id int) error
		wantErr func(error) bool
		wantRow bool
	}{
		{
			name:    "commit on nil",
			id:      1,
			fn:      func(tx pgx.Tx, id int) error { _, err := tx.Exec(ctx, "INSERT INTO notes VALUES ($1)", id); return err },
			wantErr: func(err error) bool { return err == nil },
			wantRow: true,
		},
		{
			name: "rollback on error, error returned as is",
			id:   2,
			fn: func(tx pgx.Tx, id int) error {
				if _, err := tx.Exec(ctx, "INSERT INTO notes VALUES ($1)", id); err != nil {
					return err
				}
				return errFn
			},
			wantErr: func(err error) bool { return err == errFn },
		},
		{
			name: "rollback after a failed statement",
			id:   3,
			fn: func(tx pgx.Tx, id int) error {
				if _, err := tx.Exec(ctx, "INSERT INTO notes VALUES ($1)", id); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "INSERT INTO notes VALUES ($1)", id)
				return pgdb.Translate(err)
			},
			wantErr: func(err error) bool { return errs.KindOf(err) == errs.Conflict },
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error { return tc.fn(tx, tc.id) })
			if !tc.wantErr(err) {
				t.Errorf("InTx() = %v", err)
			}
			var n int
			if err := pool.QueryRow(ctx, "SELECT count(*) FROM notes WHERE id = $1", tc.id).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if got := n == 1; got != tc.wantRow {
				t.Errorf("row committed = %v, want %v", got, tc.wantRow)
			}
		})
	}

	t.Run("rollback on panic", func(t *testing.T) {
		func() {
			defer func() {
				if v := recover(); v != "boom" {
					t.Errorf("recovered %v, want the panic to propagate", v)
				}
			}()
			_ = pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "INSERT INTO notes VALUES (4)"); err != nil {
					return err
				}
				panic("boom")
			})
		}()
		var n int
		if err := pool.QueryRow(ctx, "SELECT count(*) FROM notes WHERE id = 4").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Error("row committed despite the panic")
		}
		// The connection went back to the pool usable.
		if stat := pool.Stat(); stat.AcquiredConns() != 0 {
			t.Errorf("%d connections still acquired after the panic", stat.AcquiredConns())
		}
	})
}

func TestTranslate(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, migrations("tr", "00001_t.sql", `
CREATE TABLE parents (id int PRIMARY KEY, code text UNIQUE);
CREATE TABLE children (id int PRIMARY KEY, parent_id int NOT NULL REFERENCES parents(id),
  age int CONSTRAINT age_positive CHECK (age > 0));
INSERT INTO parents VALUES (1, 'A');`))
	exec := func(sql string, args ...any) func() error {
		return func() error { _, err := pool.Exec(ctx, sql, args...); return err }
	}
	tests := []struct {
		name      string
		run       func() error
		wantKind  errs.Kind
		wantExtra map[string]any
	}{
		{name: "unique violation", run: exec("INSERT INTO parents VALUES (2, 'A')"), wantKind: errs.Conflict,
			wantExtra: map[string]any{"constraint": "parents_code_key"}},
		{name: "primary key violation", run: exec("INSERT INTO parents VALUES (1, 'B')"), wantKind: errs.Conflict,
			wantExtra: map[string]any{"constraint": "parents_pkey"}},
		{name: "foreign key violation", run: exec("INSERT INTO children VALUES (1, 99, 3)"), wantKind: errs.FailedPrecondition,
			wantExtra: map[string]any{"constraint": "children_parent_id_fkey"}},
		{name: "check violation", run: exec("INSERT INTO children VALUES (1, 1, -3)"), wantKind: errs.Invalid},
		{name: "not null violation", run: exec("INSERT INTO children (id, age) VALUES (1, 3)"), wantKind: errs.Invalid},
		{name: "no rows", run: func() error {
			var id int
			return pool.QueryRow(ctx, "SELECT id FROM parents WHERE id = 42").Scan(&id)
		}, wantKind: errs.NotFound},
		{name: "statement timeout", run: func() error {
			return pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
				if _, err := tx.Exec(ctx, "SET LOCAL statement_timeout = 50"); err != nil {
					return err
				}
				_, err := tx.Exec(ctx, "SELECT pg_sleep(5)")
				return err
			})
		}, wantKind: errs.Unavailable},
		{name: "context deadline", run: func() error {
			ctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
			defer cancel()
			_, err := pool.Exec(ctx, "SELECT pg_sleep(5)")
			return err
		}, wantKind: errs.Unavailable},
		{name: "syntax error is internal", run: exec("SELEC 1"), wantKind: errs.Internal},
		{name: "a kind already set passes through", run: func() error { return errs.E(errs.Forbidden, "no") }, wantKind: errs.Forbidden},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			raw := tc.run()
			if raw == nil {
				t.Fatal("the statement succeeded; want an error")
			}
			err := pgdb.Translate(raw)
			if got := errs.KindOf(err); got != tc.wantKind {
				t.Errorf("Translate(%v) kind = %v, want %v", raw, got, tc.wantKind)
			}
			if !errors.Is(err, raw) {
				t.Errorf("Translate() = %v does not wrap the driver error", err)
			}
			var e *errs.Error
			if tc.wantExtra != nil && errors.As(err, &e) {
				if diff := cmp.Diff(tc.wantExtra, e.Extra); diff != "" {
					t.Errorf("extra (-want +got):\n%s", diff)
				}
			}
		})
	}
	if got := pgdb.Translate(nil); got != nil {
		t.Errorf("Translate(nil) = %v, want nil", got)
	}
}

func closedPort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

func TestUnreachableDatabase(t *testing.T) {
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, "postgres://csi:s3cret-pw@"+closedPort(t)+"/csi?sslmode=disable")
	if err != nil {
		t.Fatalf("Open() = %v; want it not to wait for the database", err)
	}
	defer pool.Close()
	checks := map[string]error{"Ping": pgdb.Ping(ctx, pool)}
	_, err = pool.Exec(ctx, "SELECT 1")
	checks["Exec"] = err
	checks["InTx"] = pgdb.InTx(ctx, pool, func(pgx.Tx) error { return nil })
	for name, raw := range checks {
		if raw == nil {
			t.Errorf("%s on a closed port = nil, want an error", name)
			continue
		}
		err := pgdb.Translate(raw)
		if got := errs.KindOf(err); got != errs.Unavailable {
			t.Errorf("%s: Translate(%v) kind = %v, want unavailable", name, raw, got)
		}
		if !pgdb.IsConnError(raw) {
			t.Errorf("%s: IsConnError(%v) = false", name, raw)
		}
		if strings.Contains(err.Error(), "s3cret-pw") {
			t.Errorf("%s: error %q shows the password", name, err)
		}
	}
}

func TestOpenHidesPassword(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{name: "bad port", url: "postgres://csi:s3cret-pw@localhost:notaport/csi"},
		{name: "bad escape", url: "postgres://csi:s3cret-pw%zz@localhost/csi"},
		{name: "bad ipv6 host", url: "postgres://csi:s3cret-pw@[::1/csi"},
		{name: "bad parameter", url: "postgres://csi:s3cret-pw@localhost/csi?pool_max_conns=lots"},
		{name: "keyword form", url: "host=localhost password=s3cret-pw port=notaport"},
		{name: "unknown sslmode", url: "postgres://csi:s3cret-pw@localhost/csi?sslmode=sometimes"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool, err := pgdb.Open(context.Background(), tc.url)
			if err == nil {
				pool.Close()
				t.Fatalf("Open(%q) = nil error, want one", tc.url)
			}
			if strings.Contains(err.Error(), "s3cret-pw") {
				t.Errorf("Open() error %q shows the password", err)
			}
		})
	}
}

func TestOpenSettings(t *testing.T) {
	server := pgtest.ServerURL(t)
	sep := "?"
	if strings.Contains(server, "?") {
		sep = "&"
	}
	tests := []struct {
		name        string
		url         string
		wantMax     int32
		wantAppName string
		wantTimeout string
	}{
		{name: "defaults", url: server, wantMax: 20, wantAppName: "csi", wantTimeout: "30s"},
		{name: "URL wins", url: server + sep + "pool_max_conns=3&application_name=things&statement_timeout=5000",
			wantMax: 3, wantAppName: "things", wantTimeout: "5s"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			pool, err := pgdb.Open(ctx, tc.url)
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			if got := pool.Config().MaxConns; got != tc.wantMax {
				t.Errorf("MaxConns = %d, want %d", got, tc.wantMax)
			}
			var app, timeout string
			if err := pool.QueryRow(ctx, "SELECT current_setting('application_name'), current_setting('statement_timeout')").Scan(&app, &timeout); err != nil {
				t.Fatal(err)
			}
			got := fmt.Sprint(app, " ", timeout)
			want := fmt.Sprint(tc.wantAppName, " ", tc.wantTimeout)
			if got != want {
				t.Errorf("session application_name, statement_timeout = %s, want %s", got, want)
			}
		})
	}
}
