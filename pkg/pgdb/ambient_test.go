package pgdb_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func TestAmbient(t *testing.T) {
	bg := context.Background()
	pool := pgtest.New(t, migrations("ambient", "00001_t.sql", "CREATE TABLE items (id int PRIMARY KEY);"))
	other := pgtest.New(t, migrations("ambient", "00001_t.sql", "CREATE TABLE items (id int PRIMARY KEY);"))
	b := pgdb.NewBase(pool)
	ids := func(ctx context.Context, db pgdb.DB) []int {
		t.Helper()
		rows, err := db.Query(ctx, `SELECT id FROM items ORDER BY id`)
		if err != nil {
			t.Fatal(err)
		}
		got, err := pgdb.Collect(rows, func(r pgx.Rows, v *int) error { return r.Scan(v) })
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	insert := func(ctx context.Context, db pgdb.DB, id int) {
		t.Helper()
		if _, err := db.Exec(ctx, `INSERT INTO items VALUES ($1)`, id); err != nil {
			t.Fatal(err)
		}
	}

	amb, err := pgdb.Begin(bg, pool)
	if err != nil {
		t.Fatal(err)
	}
	ctx := amb.Context(bg)
	var log []string
	pgdb.AfterCommit(ctx, func(c context.Context) {
		if pgdb.InAmbientTx(c) {
			t.Error("an after-commit function got the transaction's context")
		}
		log = append(log, "after commit")
	})
	pgdb.OnRollback(ctx, func(context.Context) { t.Error("on-rollback function ran after a commit") })
	// A query of the base with the context runs in the ambient transaction...
	insert(ctx, b.DB, 1)
	// ... and so does InTx: in a savepoint, so that its error undoes its own writes only.
	errRule := errors.New("no")
	if err := b.InTx(ctx, func(tx pgdb.Base) error {
		insert(ctx, tx.DB, 2)
		return errRule
	}); err != errRule {
		t.Fatalf("InTx = %v, want the function's error", err)
	}
	if err := b.InTx(ctx, func(tx pgdb.Base) error {
		insert(ctx, tx.DB, 3)
		return tx.InTx(ctx, func(inner pgdb.Base) error { insert(ctx, inner.DB, 4); return nil })
	}); err != nil {
		t.Fatal(err)
	}
	// A write in InTx is read back outside it, with the same context.
	if diff := cmp.Diff([]int{1, 3, 4}, ids(ctx, b.DB)); diff != "" {
		t.Errorf("rows seen in the ambient transaction (-want +got):\n%s", diff)
	}
	// Nothing is visible elsewhere before the commit: not on the pool, not without the
	// transaction, and another pool's base does not join it.
	if got := ids(bg, pool); len(got) != 0 {
		t.Errorf("rows seen outside before the commit: %v", got)
	}
	if got := ids(pgdb.WithoutTx(ctx), b.DB); len(got) != 0 {
		t.Errorf("rows seen with WithoutTx before the commit: %v", got)
	}
	insert(ctx, pgdb.NewBase(other).DB, 9)
	if got := ids(bg, other); !slices.Equal(got, []int{9}) {
		t.Errorf("another pool's rows = %v, want its own insert committed", got)
	}
	if len(log) != 0 {
		t.Fatal("after-commit function ran before the commit")
	}
	if err := amb.Commit(bg); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"after commit"}, log); diff != "" {
		t.Errorf("after commit (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]int{1, 3, 4}, ids(bg, pool)); diff != "" {
		t.Errorf("rows committed (-want +got):\n%s", diff)
	}

	// A rolled-back transaction takes everything with it, InTx's released savepoints included,
	// and its after-commit functions never run.
	if amb, err = pgdb.Begin(bg, pool); err != nil {
		t.Fatal(err)
	}
	ctx = amb.Context(bg)
	pgdb.AfterCommit(ctx, func(context.Context) { t.Error("after-commit function ran after a rollback") })
	var undone []string
	for _, name := range []string{"first", "second"} {
		pgdb.OnRollback(ctx, func(c context.Context) {
			if pgdb.InAmbientTx(c) {
				t.Error("an on-rollback function got the transaction's context")
			}
			undone = append(undone, name)
		})
	}
	if err := b.InTx(ctx, func(tx pgdb.Base) error { insert(ctx, tx.DB, 5); return nil }); err != nil {
		t.Fatal(err)
	}
	if err := amb.Rollback(bg); err != nil {
		t.Fatal(err)
	}
	if err := amb.Rollback(bg); err != nil { // a second rollback undoes nothing again
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"second", "first"}, undone); diff != "" {
		t.Errorf("on-rollback functions (-want +got):\n%s", diff)
	}
	// A commit that fails runs them too.
	if amb, err = pgdb.Begin(bg, pool); err != nil {
		t.Fatal(err)
	}
	ctx = amb.Context(bg)
	failed := false
	pgdb.OnRollback(ctx, func(context.Context) { failed = true })
	if _, err := amb.Tx().Exec(bg, `INSERT INTO items VALUES (1)`); err == nil {
		t.Fatal("a duplicate key was inserted")
	}
	if err := amb.Commit(bg); err == nil {
		t.Error("the commit of an aborted transaction succeeded")
	}
	if !failed {
		t.Error("the on-rollback function did not run after a failed commit")
	}
	// Without an ambient transaction there is nothing to undo.
	pgdb.OnRollback(bg, func(context.Context) { t.Error("on-rollback function ran without a transaction") })
	if diff := cmp.Diff([]int{1, 3, 4}, ids(bg, pool)); diff != "" {
		t.Errorf("rows after the rollback (-want +got):\n%s", diff)
	}
	// Without an ambient transaction AfterCommit runs at once.
	ran := false
	pgdb.AfterCommit(bg, func(context.Context) { ran = true })
	if !ran {
		t.Error("AfterCommit without a transaction did not run at once")
	}
}
