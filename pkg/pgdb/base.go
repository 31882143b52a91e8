package pgdb

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Base is the pool, and the pool or the transaction (DB) a store's queries run on. A service's
// store is built on it through pgstore.Store, which adds the service's own InTx and the outbox.
//
// A context carrying an ambient transaction of the pool (Begin) puts every query of the base in
// it: the base's DB on the pool runs a query in the context's transaction, and InTx runs its
// function in a savepoint of it.
type Base struct {
	// DB runs the store's queries: the pool (or the ambient transaction of the query's
	// context), or the transaction of InTx.
	DB   DB
	pool *pgxpool.Pool
	tx   pgx.Tx
}

// NewBase returns a base whose queries run on pool.
func NewBase(pool *pgxpool.Pool) Base { return Base{DB: poolDB{pool}, pool: pool} }

// Pool is the pool the base was made with (for work outside the store's transaction, and
// outside the ambient one).
func (b Base) Pool() *pgxpool.Pool { return b.pool }

// InTransaction reports whether the base's queries run in a transaction of InTx.
func (b Base) InTransaction() bool { return b.tx != nil }

// InTx runs fn with a base whose queries run in one transaction, committed when fn returns nil.
// Nested calls join the outer transaction. With an ambient transaction in ctx, fn runs in a
// savepoint of it: released when fn returns nil (the change then commits with the ambient
// transaction), rolled back to otherwise, so that fn's error undoes fn's writes only.
func (b Base) InTx(ctx context.Context, fn func(Base) error) error {
	if b.tx != nil {
		return fn(b)
	}
	var on Beginner = b.pool
	if a := ambientOf(ctx, b.pool); a != nil {
		on = a.tx
	}
	return InTx(ctx, on, func(tx pgx.Tx) error {
		return fn(Base{DB: tx, pool: b.pool, tx: tx})
	})
}

// Versioned explains an UPDATE ... WHERE id = $id AND version = $expected RETURNING that
// returned err: no row means either that the row of table is gone (NotFound) or that it changed
// since the caller read it (PreconditionFailed, the answer to a stale If-Match). Other errors are
// translated.
func (b Base) Versioned(ctx context.Context, err error, table string, id any, what string) error {
	if !errors.Is(err, pgx.ErrNoRows) {
		return Translate(err)
	}
	var one int
	if e := b.DB.QueryRow(ctx, `SELECT 1 FROM `+pgx.Identifier{table}.Sanitize()+` WHERE id = $1`, id).Scan(&one); errors.Is(e, pgx.ErrNoRows) {
		return errs.E(errs.NotFound, "%s not found", what)
	} else if e != nil {
		return Translate(e)
	}
	return errs.E(errs.PreconditionFailed, "the %s was changed by someone else; read it again", what)
}

// Nullable is s, or SQL NULL when s is empty.
func Nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
