package events_test

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// producer is a peer serving its real outbox (PostgreSQL) at GET /v1/events over HTTP, with a
// switch that makes it answer 503.
type producer struct {
	pool  *pgxpool.Pool
	down  atomic.Bool
	pages atomic.Int64 // requests of GET /v1/events
	srv   *httptest.Server
}

func newProducer(t *testing.T) *producer {
	p := &producer{pool: pgtest.New(t, events.Migrations)}
	client := auth.Claims{Subject: "svc", Kind: auth.KindClient, Role: auth.RoleClient, Scopes: []string{events.ScopeRead}}
	feed := httpapi.NewServer(slog.New(slog.DiscardHandler), events.FeedEndpoint(p.pool), events.DecodeFeedRequest)
	h := httpapi.Chain(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p.pages.Add(1)
		if p.down.Load() {
			httpapi.WriteProblem(r.Context(), nil, w, r, &errs.Error{Kind: errs.Unavailable, Message: "down for the test"})
			return
		}
		feed.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), client)))
	}), httpapi.RequestIDs())
	mux := http.NewServeMux()
	mux.Handle("GET /v1/events", h)
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *producer) source(t *testing.T) events.Source {
	c, err := peers.New(peers.Config{Name: "producer", Peers: discovery.NewStatic(map[string][]string{"csi-producer": {p.srv.URL}}),
		Timeout: 2 * time.Second, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return c.Feed()
}

// consumerDB is the consumer's own database: the cursors and the table its Apply writes, one row
// per event (a primary key: an event applied twice fails the page).
func consumerDB(t *testing.T) *pgxpool.Pool {
	pool := pgtest.New(t, events.ConsumerMigrations)
	if _, err := pool.Exec(context.Background(), `CREATE TABLE applied (event_id uuid PRIMARY KEY, aggregate_id text NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	return pool
}

// applyRows inserts a row per event through a store's base on pool: in the consumer's
// transaction, which the context carries.
func applyRows(pool *pgxpool.Pool) events.ApplyFunc {
	db := pgdb.NewBase(pool).DB
	return func(ctx context.Context, evs []events.Event) error {
		for _, e := range evs {
			if _, err := db.Exec(ctx, `INSERT INTO applied (event_id, aggregate_id) VALUES ($1, $2)`, e.ID, e.AggregateID); err != nil {
				return pgdb.Translate(err)
			}
		}
		return nil
	}
}

func count(t *testing.T, pool *pgxpool.Pool) int {
	t.Helper()
	var n int
	if err := pool.QueryRow(context.Background(), `SELECT count(*) FROM applied`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// drain steps c until it has applied want rows in all, within the feed's settling time.
func drain(t *testing.T, c *events.Consumer, pool *pgxpool.Pool, want int) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for count(t, pool) < want {
		if time.Now().After(deadline) {
			t.Fatalf("applied %d events, want %d", count(t, pool), want)
		}
		full, err := c.Step(context.Background())
		if err != nil {
			t.Fatalf("Step() = %v", err)
		}
		if !full {
			time.Sleep(20 * time.Millisecond)
		}
	}
	if got := count(t, pool); got != want {
		t.Fatalf("applied %d events, want %d", got, want)
	}
}

func appendN(t *testing.T, pool *pgxpool.Pool, n int) {
	t.Helper()
	evs := make([]events.Event, n)
	for i := range evs {
		evs[i] = ev(t, "a1", uuid.NewString())
	}
	appendCommitted(t, pool, evs...)
}

func TestConsumerAppliesEachEventOnce(t *testing.T) {
	p := newProducer(t)
	db := consumerDB(t)
	reg := prometheus.NewRegistry()
	c := &events.Consumer{Name: "test-feed", Source: p.source(t), Pool: db, Apply: applyRows(db), Limit: 2,
		Log: slog.New(slog.DiscardHandler), Metrics: events.NewConsumerMetrics(reg, "test")}
	ctx := context.Background()

	appendN(t, p.pool, 5)
	drain(t, c, db, 5)
	pos, err := c.Position(ctx)
	if err != nil || pos == "" {
		t.Fatalf("Position() = %q, %v; want the cursor after 5 events", pos, err)
	}
	// Caught up: a step reads an empty page and changes nothing.
	if full, err := c.Step(ctx); err != nil || full {
		t.Fatalf("Step() caught up = %v, %v", full, err)
	}
	if got, _ := c.Position(ctx); got != pos {
		t.Errorf("Position() after an empty page = %q, want %q", got, pos)
	}

	// A crash in the middle of a page: the first event of the page is written, the second fails.
	// Nothing of the page stays, the cursor does not move; the next run applies it once.
	appendN(t, p.pool, 3)
	fail := errors.New("crash")
	c.Apply = func(ctx context.Context, evs []events.Event) error {
		if err := applyRows(db)(ctx, evs[:1]); err != nil {
			return err
		}
		return fail
	}
	deadline := time.Now().Add(settle)
	for {
		_, err := c.Step(ctx)
		if errors.Is(err, fail) {
			break
		}
		if err != nil || time.Now().After(deadline) {
			t.Fatalf("Step() with a failing apply = %v, want the apply's error", err)
		}
		time.Sleep(20 * time.Millisecond) // the new events not served yet
	}
	if got := count(t, db); got != 5 {
		t.Errorf("after a failed page, applied = %d, want 5 (nothing of the page)", got)
	}
	if got, _ := c.Position(ctx); got != pos {
		t.Errorf("after a failed page, Position() = %q, want %q (unchanged)", got, pos)
	}
	c.Apply = applyRows(db)
	drain(t, c, db, 8)

	// A second replica with the same name starting from the same position finds nothing to do
	// twice: the rows' primary key would fail a page applied again.
	other := &events.Consumer{Name: "test-feed", Source: p.source(t), Pool: db, Apply: applyRows(db), Limit: 2, Log: slog.New(slog.DiscardHandler)}
	if _, err := other.Step(ctx); err != nil {
		t.Fatalf("second replica Step() = %v", err)
	}
	if got := count(t, db); got != 8 {
		t.Errorf("applied = %d, want 8", got)
	}
	if got := testutil.ToFloat64(c.Metrics.Applied("test-feed")); got != 8 {
		t.Errorf("events applied metric = %v, want 8", got)
	}
}

// racing is a source that, once it has read a page, lets another replica apply that page and
// move the cursor: what happens when two replicas poll at once.
type racing struct {
	events.Source
	other func()
}

func (s racing) Page(ctx context.Context, after string, limit int) (events.Page, error) {
	p, err := s.Source.Page(ctx, after, limit)
	if err == nil && len(p.Items) > 0 {
		s.other()
	}
	return p, err
}

func TestConsumerReplicaRace(t *testing.T) {
	p := newProducer(t)
	db := consumerDB(t)
	a := &events.Consumer{Name: "race", Source: p.source(t), Pool: db, Apply: applyRows(db), Limit: 10, Log: slog.New(slog.DiscardHandler)}
	appendN(t, p.pool, 3)
	// Replica B reads the page; before it locks the cursor, replica A applies the same page. B
	// drops its page (applying it again would fail the rows' primary key) and reports a step to
	// take again from A's position.
	b := &events.Consumer{Name: "race", Source: racing{Source: p.source(t), other: func() { drain(t, a, db, 3) }}, Pool: db,
		Apply: applyRows(db), Limit: 10, Log: slog.New(slog.DiscardHandler)}
	deadline := time.Now().Add(settle)
	for count(t, db) == 0 && time.Now().Before(deadline) {
		full, err := b.Step(context.Background())
		if err != nil {
			t.Fatalf("replica B Step() = %v", err)
		}
		if count(t, db) > 0 && !full {
			t.Errorf("replica B Step() after losing the race = not full, want full (read again at once)")
		}
		time.Sleep(20 * time.Millisecond)
	}
	if got := count(t, db); got != 3 {
		t.Errorf("applied = %d, want 3", got)
	}
	pa, _ := a.Position(context.Background())
	pb, _ := b.Position(context.Background())
	if pa != pb || pa == "" {
		t.Errorf("positions of A and B = %q, %q; want one cursor", pa, pb)
	}
}

func TestConsumerBacksOffWhenThePeerIsDown(t *testing.T) {
	p := newProducer(t)
	db := consumerDB(t)
	reg := prometheus.NewRegistry()
	c := &events.Consumer{Name: "down", Source: p.source(t), Pool: db, Apply: applyRows(db), Idle: 20 * time.Millisecond,
		MinBackoff: 40 * time.Millisecond, MaxBackoff: 160 * time.Millisecond, Log: slog.New(slog.DiscardHandler),
		Metrics: events.NewConsumerMetrics(reg, "test")}
	p.down.Store(true)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- c.Run(ctx) }()

	time.Sleep(time.Second)
	calls := p.pages.Load()
	// 40, 80, 160, 160 ... ms (less up to a fifth): about 8 requests in a second; a loop without
	// backoff would make hundreds, one every Idle would make 50.
	if calls < 3 || calls > 15 {
		t.Errorf("requests to a peer down for a second = %d, want from 3 to 15 (backing off)", calls)
	}
	if got := testutil.ToFloat64(c.Metrics.Failures("down")); got < 3 {
		t.Errorf("failures metric = %v, want at least 3", got)
	}

	// The peer comes back: the consumer catches up by itself.
	p.down.Store(false)
	appendN(t, p.pool, 4)
	deadline := time.Now().Add(settle)
	for count(t, db) < 4 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if got := count(t, db); got != 4 {
		t.Errorf("applied after the peer came back = %d, want 4", got)
	}

	// Cancelling stops Run promptly, without an error.
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run() = %v, want nil on cancel", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("Run() did not return after its context was cancelled")
	}
}
