package pgdb_test

import (
	"context"
	"errors"
	"testing"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func TestBase(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, migrations("base", "00001_t.sql", "CREATE TABLE items (id int PRIMARY KEY, version int NOT NULL);"))
	b := pgdb.NewBase(pool)
	if b.InTransaction() {
		t.Fatal("a new base is in a transaction")
	}
	// A nested InTx joins the outer transaction: a failure of the outer one undoes both inserts.
	errRule := errors.New("no")
	err := b.InTx(ctx, func(outer pgdb.Base) error {
		if !outer.InTransaction() {
			t.Error("InTx's base is not in a transaction")
		}
		if _, err := outer.DB.Exec(ctx, `INSERT INTO items VALUES (1, 1)`); err != nil {
			return err
		}
		if err := outer.InTx(ctx, func(inner pgdb.Base) error {
			_, err := inner.DB.Exec(ctx, `INSERT INTO items VALUES (2, 1)`)
			return err
		}); err != nil {
			return err
		}
		return errRule
	})
	if err != errRule {
		t.Fatalf("InTx = %v, want the function's error", err)
	}
	var n int
	if err := pool.QueryRow(ctx, `SELECT count(*) FROM items`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("rows after the rolled-back transaction: %d, %v; want 0", n, err)
	}
	if _, err := pool.Exec(ctx, `INSERT INTO items VALUES (3, 2)`); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		id   int
		want errs.Kind
	}{
		{"row gone", 9, errs.NotFound},
		{"row changed", 3, errs.PreconditionFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var v int
			err := b.DB.QueryRow(ctx, `UPDATE items SET version = version + 1 WHERE id = $1 AND version = 1 RETURNING version`, tc.id).Scan(&v)
			got := b.Versioned(ctx, err, "items", tc.id, "item")
			var e *errs.Error
			if !errors.As(got, &e) || e.Kind != tc.want {
				t.Fatalf("Versioned = %v, want kind %v", got, tc.want)
			}
		})
	}
	if pgdb.Nullable("") != nil || *pgdb.Nullable("x") != "x" {
		t.Fatal("Nullable: empty is NULL, the rest itself")
	}
}
