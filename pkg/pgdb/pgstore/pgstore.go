// Package pgstore is the base of every service's PostgreSQL store, so that a service's postgres
// package holds only its queries:
//
//	type Store struct{ pgstore.Store[intake.Store] }
//
//	func New(pool *pgxpool.Pool) *Store { return &Store{pgstore.New(pool, wrap)} }
//
//	func wrap(s pgstore.Store[intake.Store]) intake.Store { return &Store{s} }
//
// The service's Store interface asks for InTx(ctx, func(S) error) error,
// AppendEvents(ctx, ...events.Event) error and, when it has work that must follow a commit,
// AfterCommit(ctx, func(context.Context)); they come from here, with the queries on DB
// (pgdb.Base), the pool or the transaction (the request's ambient one, pgdb.Ambient, when its
// context carries one).
package pgstore

import (
	"context"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// Store is the base of a service's store whose interface is S.
type Store[S any] struct {
	pgdb.Base
	wrap func(Store[S]) S
}

// New returns the base of a store on pool; wrap makes the service's store around a base (the
// store of a transaction, for InTx).
func New[S any](pool *pgxpool.Pool, wrap func(Store[S]) S) Store[S] {
	return Store[S]{Base: pgdb.NewBase(pool), wrap: wrap}
}

// InTx runs fn with the service's store on one transaction, committed when fn returns nil;
// nested calls join the outer transaction, and with an ambient transaction in ctx fn runs in a
// savepoint of it (pgdb.Base.InTx).
func (s Store[S]) InTx(ctx context.Context, fn func(S) error) error {
	return s.Base.InTx(ctx, func(b pgdb.Base) error { return fn(s.wrap(Store[S]{Base: b, wrap: s.wrap})) })
}

// AppendEvents writes events to the service's outbox, in the store's transaction when it has one.
func (s Store[S]) AppendEvents(ctx context.Context, evs ...events.Event) error {
	return events.Append(ctx, s.DB, evs...)
}

// AfterCommit runs fn once the change of ctx's request is committed: at once, unless ctx carries
// an ambient transaction, which commits after the request's handler returned (pgdb.AfterCommit).
// For work others must not see before the change, like dropping a cached copy.
func (s Store[S]) AfterCommit(ctx context.Context, fn func(context.Context)) {
	pgdb.AfterCommit(ctx, fn)
}

// OnRollback runs fn if the request's ambient transaction does not commit (pgdb.OnRollback):
// for undoing work outside the database that the transaction's rows refer to. Without an
// ambient transaction it never runs: the store's own transactions have committed when they
// return.
func (s Store[S]) OnRollback(ctx context.Context, fn func(context.Context)) {
	pgdb.OnRollback(ctx, fn)
}
