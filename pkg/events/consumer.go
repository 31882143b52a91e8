package events

import (
	"context"
	"embed"
	"errors"
	"log/slog"
	"math/rand/v2"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

//go:embed consumer_migrations/*.sql
var consumerFiles embed.FS

// ConsumerMigrations creates the table of the consumers' cursors (feed_cursors). A service that
// follows another's feed adds it to its migration sets.
var ConsumerMigrations = pgdb.Embedded("events_consumer", consumerFiles, "consumer_migrations")

// Source is a peer's event feed as a consumer reads it: the page after a cursor (""  is the
// start). pkg/peers implements it over GET /v1/events of a peer (peers.Client.Feed).
type Source interface {
	Page(ctx context.Context, after string, limit int) (Page, error)
}

// ApplyFunc makes what a consumer makes of a page of events. ctx carries the consumer's
// transaction as the ambient transaction of its pool (pgdb.Begin): every query of a store on
// that pool runs in it, and the cursor is moved past the page in it too, so the page is applied
// exactly once or not at all. An error rolls everything back; the page is read again after a
// backoff. An event the consumer cannot make sense of (a type it does not know, a payload it
// cannot read) should be skipped, not failed: a failing event would hold the feed back forever.
type ApplyFunc func(ctx context.Context, evs []Event) error

// Consumer follows a peer's feed from the cursor it keeps in the service's own database
// (feed_cursors, ConsumerMigrations). Each step reads a page after the stored cursor, then in one
// transaction locks the cursor row, checks that no other replica moved it meanwhile (if one
// did, the page is dropped and read again from the new position), applies the page and stores
// the page's next cursor. A crash anywhere loses nothing and applies nothing twice.
//
// Run polls: at once after a full page, after Idle otherwise; after a failure (the peer down,
// the database down, Apply failing) it waits a backoff doubling from MinBackoff to MaxBackoff,
// with jitter, or the peer's Retry-After when longer.
type Consumer struct {
	Name   string // the consumer's name in feed_cursors, logs and metrics: "intake-plans"
	Source Source
	Pool   *pgxpool.Pool
	Apply  ApplyFunc
	Limit  int           // events a page; default 100
	Idle   time.Duration // wait after a page that was not full; default 2s
	// MinBackoff and MaxBackoff bound the wait after a failure: default 1s and 1m.
	MinBackoff, MaxBackoff time.Duration
	Log                    *slog.Logger
	Metrics                *ConsumerMetrics // optional
	now                    func() time.Time
}

// ConsumerMetrics are the gauges and counters of a service's consumers, by feed (the consumer's
// name): csi_<service>_feed_lag_seconds (the age of the last event applied while more were
// waiting, 0 once the consumer has caught up), csi_<service>_feed_events_applied_total,
// csi_<service>_feed_failures_total and csi_<service>_feed_last_success_timestamp_seconds.
type ConsumerMetrics struct {
	lag, lastSuccess *prometheus.GaugeVec
	applied, failed  *prometheus.CounterVec
}

// NewConsumerMetrics registers the consumer metrics of service on reg.
func NewConsumerMetrics(reg prometheus.Registerer, service string) *ConsumerMetrics {
	m := &ConsumerMetrics{
		lag: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "csi_" + service + "_feed_lag_seconds",
			Help: "Age of the last event applied from a peer's feed while more were waiting; 0 when caught up."}, []string{"feed"}),
		lastSuccess: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "csi_" + service + "_feed_last_success_timestamp_seconds",
			Help: "When a peer's feed was last read and applied without error (Unix time)."}, []string{"feed"}),
		applied: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "csi_" + service + "_feed_events_applied_total",
			Help: "Events of a peer's feed applied."}, []string{"feed"}),
		failed: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "csi_" + service + "_feed_failures_total",
			Help: "Steps of a feed consumer that failed (the peer or the database down, an apply failing)."}, []string{"feed"}),
	}
	reg.MustRegister(m.lag, m.lastSuccess, m.applied, m.failed)
	return m
}

// Defaults of a Consumer.
const (
	DefaultConsumerLimit = 100
	DefaultIdle          = 2 * time.Second
	DefaultMinBackoff    = time.Second
	DefaultMaxBackoff    = time.Minute
)

func (c *Consumer) defaults() {
	if c.Limit <= 0 {
		c.Limit = DefaultConsumerLimit
	}
	if c.Idle <= 0 {
		c.Idle = DefaultIdle
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = DefaultMinBackoff
	}
	if c.MaxBackoff < c.MinBackoff {
		c.MaxBackoff = max(DefaultMaxBackoff, c.MinBackoff)
	}
	if c.Log == nil {
		c.Log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
}

// Run follows the feed until ctx is done; it returns nil then. It never returns on a failure:
// it logs it and backs off.
func (c *Consumer) Run(ctx context.Context) error {
	c.defaults()
	failures := 0
	for {
		full, err := c.Step(ctx)
		var wait time.Duration
		switch {
		case ctx.Err() != nil:
			return nil
		case err != nil:
			failures++
			wait = c.backoff(failures, err)
			c.Log.WarnContext(ctx, "feed consumer: step failed; backing off", "feed", c.Name, "err", err,
				"failures", failures, "retry_in", wait.String())
		case full:
			failures = 0
			continue
		default:
			if failures > 0 {
				c.Log.InfoContext(ctx, "feed consumer: recovered", "feed", c.Name, "after_failures", failures)
			}
			failures = 0
			wait = c.Idle
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-t.C:
		}
	}
}

// backoff is the wait after the n-th failure in a row: MinBackoff doubled n-1 times, at most
// MaxBackoff, less up to a fifth at random (so replicas do not poll in step), and at least the
// peer's Retry-After.
func (c *Consumer) backoff(n int, err error) time.Duration {
	d := c.MinBackoff
	for i := 1; i < n && d < c.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, c.MaxBackoff)
	d -= time.Duration(rand.Int64N(int64(d)/5 + 1))
	if e, ok := errors.AsType[*errs.Error](err); ok && e.RetryAfter > d {
		d = min(e.RetryAfter, c.MaxBackoff)
	}
	return d
}

// Step reads one page after the stored cursor and applies it with the cursor, in one
// transaction. It reports whether the page was full (more may be waiting).
func (c *Consumer) Step(ctx context.Context) (full bool, err error) {
	c.defaults()
	defer func() {
		if c.Metrics == nil || ctx.Err() != nil {
			return
		}
		if err != nil {
			c.Metrics.failed.WithLabelValues(c.Name).Inc()
		} else {
			c.Metrics.lastSuccess.WithLabelValues(c.Name).Set(float64(c.now().Unix()))
		}
	}()
	pos, err := c.Position(ctx)
	if err != nil {
		return false, err
	}
	page, err := c.Source.Page(ctx, pos, c.Limit)
	if err != nil {
		return false, err
	}
	if len(page.Items) == 0 {
		c.setLag(0)
		return false, nil
	}
	if page.NextCursor == "" || page.NextCursor == pos {
		return false, errs.E(errs.Internal, "feed %s answered %d events without moving its cursor past %q", c.Name, len(page.Items), pos)
	}
	amb, err := pgdb.Begin(ctx, c.Pool)
	if err != nil {
		return false, err
	}
	defer func() { _ = amb.Rollback(context.WithoutCancel(ctx)) }()
	tx := amb.Tx()
	if _, err := tx.Exec(ctx, `INSERT INTO feed_cursors (consumer, position) VALUES ($1, '') ON CONFLICT DO NOTHING`, c.Name); err != nil {
		return false, pgdb.Translate(err)
	}
	var locked string
	if err := tx.QueryRow(ctx, `SELECT position FROM feed_cursors WHERE consumer = $1 FOR UPDATE`, c.Name).Scan(&locked); err != nil {
		return false, pgdb.Translate(err)
	}
	if locked != pos {
		// Another replica applied this page (or more) meanwhile: read again from where it is.
		return true, nil
	}
	if err := c.Apply(amb.Context(ctx), page.Items); err != nil {
		return false, err
	}
	if _, err := tx.Exec(ctx, `UPDATE feed_cursors SET position = $2, applied = applied + $3, updated_at = now() WHERE consumer = $1`,
		c.Name, page.NextCursor, len(page.Items)); err != nil {
		return false, pgdb.Translate(err)
	}
	if err := amb.Commit(ctx); err != nil {
		return false, err
	}
	full = len(page.Items) >= c.Limit
	if c.Metrics != nil {
		c.Metrics.applied.WithLabelValues(c.Name).Add(float64(len(page.Items)))
	}
	if full {
		c.setLag(c.now().Sub(page.Items[len(page.Items)-1].OccurredAt))
	} else {
		c.setLag(0)
	}
	return full, nil
}

func (c *Consumer) setLag(d time.Duration) {
	if c.Metrics != nil {
		c.Metrics.lag.WithLabelValues(c.Name).Set(max(d, 0).Seconds())
	}
}

// Position returns the stored cursor of the consumer ("" before its first page).
func (c *Consumer) Position(ctx context.Context) (string, error) {
	var pos string
	err := c.Pool.QueryRow(ctx, `SELECT position FROM feed_cursors WHERE consumer = $1`, c.Name).Scan(&pos)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return pos, pgdb.Translate(err)
}

// Applied is the counter of events applied by the consumer feed (for tests and dashboards).
func (m *ConsumerMetrics) Applied(feed string) prometheus.Counter {
	return m.applied.WithLabelValues(feed)
}

// Failures is the counter of failed steps of the consumer feed.
func (m *ConsumerMetrics) Failures(feed string) prometheus.Counter {
	return m.failed.WithLabelValues(feed)
}
