package pgstore_test

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgstore"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// notes is a service's Store interface; store its implementation on pgstore.
type notes interface {
	InTx(ctx context.Context, fn func(notes) error) error
	AppendEvents(ctx context.Context, evs ...events.Event) error
	inTx() bool
}

type store struct{ pgstore.Store[notes] }

func (s *store) inTx() bool { return s.InTransaction() }

func wrap(s pgstore.Store[notes]) notes { return &store{s} }

func TestStore(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, events.Migrations)
	var s notes = &store{pgstore.New(pool, wrap)}
	ev := func() events.Event {
		e, err := events.New(uuid.NewString(), "note.written", "note", uuid.NewString(), map[string]any{"n": 1})
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	count := func() int {
		var n int
		if err := pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if s.inTx() {
		t.Fatal("the pool's store is in a transaction")
	}
	// Events appended in a transaction that fails are gone with it; nested InTx joins it.
	errRule := errors.New("no")
	err := s.InTx(ctx, func(tx notes) error {
		if !tx.inTx() {
			t.Error("InTx's store is not in a transaction")
		}
		if err := tx.AppendEvents(ctx, ev()); err != nil {
			return err
		}
		return tx.InTx(ctx, func(inner notes) error {
			if err := inner.AppendEvents(ctx, ev()); err != nil {
				return err
			}
			return errRule
		})
	})
	if err != errRule || count() != 0 {
		t.Fatalf("InTx = %v with %d events kept; want the function's error and none", err, count())
	}
	if err := s.InTx(ctx, func(tx notes) error { return tx.AppendEvents(ctx, ev(), ev()) }); err != nil || count() != 2 {
		t.Fatalf("InTx = %v with %d events; want 2", err, count())
	}
	if err := s.AppendEvents(ctx, ev()); err != nil || count() != 3 {
		t.Fatalf("AppendEvents outside a transaction = %v with %d events; want 3", err, count())
	}
}
