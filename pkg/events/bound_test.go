package events_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// holdXID opens a transaction on conn that holds an xid, until the test ends or release is
// called; it returns the xid.
func holdXID(t *testing.T, begin func(context.Context) (pgx.Tx, error)) (uint64, func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := begin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var xid uint64
	if err := tx.QueryRow(ctx, `SELECT pg_current_xact_id()::text::numeric::bigint`).Scan(&xid); err != nil {
		t.Fatal(err)
	}
	var once sync.Once
	release := func() { once.Do(func() { _ = tx.Rollback(ctx) }) }
	t.Cleanup(release)
	return xid, release
}

// otherDatabase is a pool on another, empty database of the same server.
func otherDatabase(t *testing.T) *pgxpool.Pool {
	t.Helper()
	pool, err := pgdb.Open(context.Background(), pgtest.NewURL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	return pool
}

// A long transaction holding an xid in another database of the server no longer holds the
// feed back (it did when the feed waited on the cluster-wide snapshot xmin).
func TestOtherDatabaseDoesNotStall(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, events.Migrations)
	other := otherDatabase(t)
	xid, _ := holdXID(t, other.Begin)
	appendCommitted(t, pool, ev(t, "a1", "one"), ev(t, "a1", "two"))
	// The other database's transaction is in progress in the feed's snapshots, and holds the
	// old bound (the snapshot's xmin) before the events.
	var running, stalled bool
	if err := pool.QueryRow(ctx, `SELECT $1::text::xid8 = ANY (SELECT pg_snapshot_xip(pg_current_snapshot())),
		pg_snapshot_xmin(pg_current_snapshot()) <= $1::text::xid8`, fmt.Sprint(xid)).Scan(&running, &stalled); err != nil || !running || !stalled {
		t.Fatalf("the other database's transaction: in progress %v, holding the old bound %v, %v", running, stalled, err)
	}
	got, _ := readAll(t, pool, events.Cursor{}, 10, "", 2)
	if diff := cmp.Diff([]string{"one", "two"}, aggregateIDs(got)); diff != "" {
		t.Errorf("feed with a long transaction in another database (-want +got):\n%s", diff)
	}
}

// A long transaction holding an xid in the feed's own database holds the feed back until it
// ends: it may still append events, which must come after everything served (documented in
// the package; unavoidable while the cursor is the transaction id).
func TestSameDatabaseHoldsBack(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, events.Migrations)
	appendCommitted(t, pool, ev(t, "a1", "before"))
	_, cursor := readAll(t, pool, events.Cursor{}, 10, "", 1)
	_, release := holdXID(t, pool.Begin)
	appendCommitted(t, pool, ev(t, "a1", "after"))
	for range 5 {
		page, next, err := events.Read(ctx, pool, cursor, 10, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(page) != 0 || next != cursor {
			t.Fatalf("Read() with an older transaction of this database running = %v (cursor %v), want nothing", aggregateIDs(page), next)
		}
		time.Sleep(20 * time.Millisecond)
	}
	release()
	got, _ := readAll(t, pool, cursor, 10, "", 1)
	if diff := cmp.Diff([]string{"after"}, aggregateIDs(got)); diff != "" {
		t.Errorf("feed once the transaction ended (-want +got):\n%s", diff)
	}
}

// Many writers appending in transactions with random delays, some rolled back, transactions in
// another database and xid-holding ones in this one coming and going, and one reader polling
// in small pages: every committed event is read exactly once, in cursor order, none skipped.
func TestConcurrentWriters(t *testing.T) {
	ctx := context.Background()
	pool := pgtest.New(t, events.Migrations)
	other := otherDatabase(t)
	const writers, txsPerWriter = 8, 25
	var mu sync.Mutex
	committed := map[uuid.UUID]bool{}
	var wg sync.WaitGroup
	sleep := func(max time.Duration) { time.Sleep(rand.N(max)) }
	for w := range writers {
		wg.Go(func() {
			for i := range txsPerWriter {
				var evs []events.Event
				for k := range 1 + rand.IntN(3) {
					evs = append(evs, ev(t, "a1", fmt.Sprintf("w%d-t%d-e%d", w, i, k)))
				}
				tx, err := pool.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				sleep(5 * time.Millisecond)
				for _, e := range evs {
					if err := events.Append(ctx, tx, e); err != nil {
						t.Error(err)
					}
					sleep(2 * time.Millisecond)
				}
				sleep(5 * time.Millisecond)
				if rand.IntN(4) == 0 {
					_ = tx.Rollback(ctx)
					continue
				}
				if err := tx.Commit(ctx); err != nil {
					t.Error(err)
					continue
				}
				mu.Lock()
				for _, e := range evs {
					committed[e.ID] = true
				}
				mu.Unlock()
			}
		})
	}
	// Noise: xid-holding transactions of another database, and of this one writing no event.
	stop := make(chan struct{})
	var noise sync.WaitGroup
	for _, p := range []*pgxpool.Pool{other, other, pool} {
		noise.Go(func() {
			for {
				select {
				case <-stop:
					return
				default:
				}
				tx, err := p.Begin(ctx)
				if err != nil {
					t.Error(err)
					return
				}
				if _, err := tx.Exec(ctx, `SELECT pg_current_xact_id()`); err != nil {
					t.Error(err)
				}
				sleep(20 * time.Millisecond)
				_ = tx.Rollback(ctx)
			}
		})
	}
	writersDone := make(chan struct{})
	go func() { wg.Wait(); close(writersDone) }()

	var read []events.Event
	cursor := events.Cursor{}
	deadline := time.Now().Add(2 * time.Minute)
	for done := false; ; {
		select {
		case <-writersDone:
			done = true
		default:
		}
		page, next, err := events.Read(ctx, pool, cursor, 7, "")
		if err != nil {
			t.Fatal(err)
		}
		read = append(read, page...)
		cursor = next
		mu.Lock()
		n := len(committed)
		mu.Unlock()
		if done && len(page) == 0 && len(read) >= n || time.Now().After(deadline) {
			break
		}
		if len(page) == 0 {
			time.Sleep(time.Millisecond)
		}
	}
	close(stop)
	noise.Wait()

	// Exactly once: every committed event, nothing else, no repeats.
	seen := map[uuid.UUID]int{}
	for _, e := range read {
		seen[e.ID]++
		if seen[e.ID] == 2 {
			t.Errorf("event %s read twice", e.AggregateID)
		}
		if !committed[e.ID] {
			t.Errorf("event %s read but not committed", e.AggregateID)
		}
	}
	missing := 0
	for id := range committed {
		if seen[id] == 0 {
			missing++
		}
	}
	if missing > 0 || len(committed) == 0 {
		t.Errorf("%d of %d committed events never read", missing, len(committed))
	}
	// In cursor order: (xid, seq) strictly increasing along the reads.
	pos := map[uuid.UUID]events.Cursor{}
	rows, err := pool.Query(ctx, `SELECT id, xid::text::numeric::bigint, seq FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var id uuid.UUID
		var c events.Cursor
		if err := rows.Scan(&id, &c.XID, &c.Seq); err != nil {
			t.Fatal(err)
		}
		pos[id] = c
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(read); i++ {
		a, b := pos[read[i-1].ID], pos[read[i].ID]
		if !(a.XID < b.XID || a.XID == b.XID && a.Seq < b.Seq) {
			t.Fatalf("read %d (%v) after %v: not in cursor order", i, b, a)
		}
	}
	t.Logf("%d events committed by %d writers, read in %d-event pages", len(committed), writers, 7)
}
