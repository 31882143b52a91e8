package pgdb

import (
	"context"
	"errors"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Ambient is a transaction that travels in a request's context: every query a Base on its pool
// makes with that context runs in it, and a Base's InTx runs its function in a savepoint of it
// (so that a business error undoes the function's writes only). pkg/idempotency opens one around
// a request with an Idempotency-Key, so that the change and the stored answer commit together.
//
// The owner of the transaction (the one that called Begin) commits or rolls it back; the code
// running inside only queries, and defers work that must follow the commit (cache invalidation)
// with AfterCommit. A transaction is one connection: the queries of one context must not run
// from several goroutines at once, and a goroutine that outlives the request must be given a
// context stripped of the transaction (WithoutTx; context.WithoutCancel keeps it).
type Ambient struct {
	pool *pgxpool.Pool
	tx   pgx.Tx

	mu    sync.Mutex
	after []func(context.Context)
	undo  []func(context.Context)
	ended bool
}

type ambientKey struct{}

// Begin opens a transaction on pool (ctx bounds the BEGIN only); its Context is the context
// that carries it.
func Begin(ctx context.Context, pool *pgxpool.Pool) (*Ambient, error) {
	tx, err := pool.Begin(ctx)
	if err != nil {
		return nil, Translate(err)
	}
	return &Ambient{pool: pool, tx: tx}, nil
}

// Context is ctx carrying the transaction as the ambient transaction of its pool's queries.
func (a *Ambient) Context(ctx context.Context) context.Context {
	return context.WithValue(ctx, ambientKey{}, a)
}

// Tx is the transaction (for the owner's own statements).
func (a *Ambient) Tx() pgx.Tx { return a.tx }

// Commit commits the transaction and then runs the functions given to AfterCommit, with a
// context without the transaction, in the order they were given. After a failed commit they do
// not run.
func (a *Ambient) Commit(ctx context.Context) error {
	a.mu.Lock()
	a.ended = true
	after, undo := a.after, a.undo
	a.after, a.undo = nil, nil
	a.mu.Unlock()
	if err := a.tx.Commit(ctx); err != nil {
		runUndo(ctx, undo)
		return Translate(err)
	}
	ctx = WithoutTx(ctx)
	for _, fn := range after {
		fn(ctx)
	}
	return nil
}

// Rollback rolls the transaction back, drops the functions given to AfterCommit and runs those
// given to OnRollback. It is a no-op after Commit.
func (a *Ambient) Rollback(ctx context.Context) error {
	a.mu.Lock()
	a.ended = true
	undo := a.undo
	a.after, a.undo = nil, nil
	a.mu.Unlock()
	err := a.tx.Rollback(ctx)
	runUndo(ctx, undo)
	if errors.Is(err, pgx.ErrTxClosed) {
		return nil
	}
	return Translate(err)
}

// ambientOf is the ambient transaction of ctx on pool, or nil.
func ambientOf(ctx context.Context, pool *pgxpool.Pool) *Ambient {
	a, _ := ctx.Value(ambientKey{}).(*Ambient)
	if a == nil || a.pool != pool {
		return nil
	}
	return a
}

// InAmbientTx reports whether ctx carries an ambient transaction (of any pool).
func InAmbientTx(ctx context.Context) bool {
	a, _ := ctx.Value(ambientKey{}).(*Ambient)
	return a != nil
}

// WithoutTx is ctx without its ambient transaction: for work that outlives the request or must
// not be part of its transaction (a background job started by a handler).
func WithoutTx(ctx context.Context) context.Context {
	if !InAmbientTx(ctx) {
		return ctx
	}
	return context.WithValue(ctx, ambientKey{}, (*Ambient)(nil))
}

// AfterCommit runs fn once the ambient transaction of ctx commits (never, if it rolls back),
// or now when ctx carries none: for work that must not happen before the change is visible to
// others, like dropping a cached copy that a reader could otherwise fill again with the old
// value.
func AfterCommit(ctx context.Context, fn func(context.Context)) {
	a, _ := ctx.Value(ambientKey{}).(*Ambient)
	if a != nil {
		a.mu.Lock()
		if !a.ended {
			a.after = append(a.after, fn)
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
	}
	fn(WithoutTx(ctx))
}

// OnRollback runs fn if the ambient transaction of ctx does not commit (rolled back, or its
// commit failed), never once it committed, and never when ctx carries none: for undoing work
// outside the database that the transaction's rows refer to (an object stored before the row
// that names it). The functions run after the rollback, newest first, with a context without
// the transaction.
func OnRollback(ctx context.Context, fn func(context.Context)) {
	a, _ := ctx.Value(ambientKey{}).(*Ambient)
	if a == nil {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.ended {
		a.undo = append(a.undo, fn)
	}
}

func runUndo(ctx context.Context, undo []func(context.Context)) {
	ctx = WithoutTx(ctx)
	for i := len(undo) - 1; i >= 0; i-- {
		undo[i](ctx)
	}
}

// poolDB is the DB of a Base on the pool: each query runs in the ambient transaction of its
// context when that is of the same pool, on the pool otherwise.
type poolDB struct{ pool *pgxpool.Pool }

func (p poolDB) db(ctx context.Context) DB {
	if a := ambientOf(ctx, p.pool); a != nil {
		return a.tx
	}
	return p.pool
}

func (p poolDB) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return p.db(ctx).Exec(ctx, sql, args...)
}

func (p poolDB) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	return p.db(ctx).Query(ctx, sql, args...)
}

func (p poolDB) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	return p.db(ctx).QueryRow(ctx, sql, args...)
}

func (p poolDB) CopyFrom(ctx context.Context, table pgx.Identifier, columns []string, src pgx.CopyFromSource) (int64, error) {
	return p.db(ctx).CopyFrom(ctx, table, columns, src)
}

func (p poolDB) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	return p.db(ctx).SendBatch(ctx, b)
}
