// Package cache is the cache-aside layer every service puts in front of PostgreSQL for hot reads.
//
// Values live under namespaced keys for a short TTL and are deleted explicitly when the source
// changes (Invalidate after the write commits). Redis (go-redis v9) is the shared store; with no
// Redis configured an in-process Memory cache takes its place. The cache is never required for
// a request to succeed: GetOrLoad falls back to the source on any cache failure, and Invalidate is
// best-effort. For the same reason a service's readiness never depends on Redis.
//
// Cache-aside has a known window: a reader that loaded a value just before a write can store it
// just after the write's invalidation. The short TTL bounds how long such a stale value lives;
// keep TTLs to seconds or a few minutes for data that changes.
package cache

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"golang.org/x/sync/singleflight"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Cache stores opaque bytes under keys. Keys are relative to the cache's namespace.
// Implementations are safe for concurrent use. Callers normally go through GetOrLoad and
// Invalidate, which never return infrastructure errors.
type Cache interface {
	// Get returns the value under key; (nil, false, nil) on a miss. The error reports an
	// infrastructure failure only (kind errs.Unavailable).
	Get(ctx context.Context, key string) ([]byte, bool, error)
	// Set stores val under key for ttl, which must be positive.
	Set(ctx context.Context, key string, val []byte, ttl time.Duration) error
	// Delete removes the keys; missing keys are not an error.
	Delete(ctx context.Context, keys ...string) error
}

// DefaultTimeout bounds every call to Redis unless WithTimeout says otherwise: a hung Redis
// costs a request at most this long per cache operation.
const DefaultTimeout = 100 * time.Millisecond

// DefaultMaxEntries is the bound of the Memory cache that Open builds.
const DefaultMaxEntries = 10_000

// logEvery is how often a cache logs its failures at most; failures in between are counted in
// the next line's "suppressed" attribute (and always in csi_cache_errors_total).
const logEvery = 10 * time.Second

// Option configures a cache built by NewRedis, NewMemory or Open.
type Option func(*config)

type config struct {
	logger  *slog.Logger
	reg     prometheus.Registerer
	timeout time.Duration
}

// WithLogger sets the logger for cache failures; slog.Default() otherwise.
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.logger = l
		}
	}
}

// WithMetrics registers the cache's counters on reg (never on the global default registry
// unless reg is it). Several caches may share a registry: they share the vectors and differ by
// the "namespace" label. Without this option the counters are kept but not exported.
func WithMetrics(reg prometheus.Registerer) Option {
	return func(c *config) { c.reg = reg }
}

// WithTimeout sets the deadline of every Redis call (DefaultTimeout otherwise). Memory ignores it.
func WithTimeout(d time.Duration) Option {
	return func(c *config) {
		if d > 0 {
			c.timeout = d
		}
	}
}

func newConfig(opts []Option) config {
	c := config{logger: slog.Default(), timeout: DefaultTimeout}
	for _, o := range opts {
		o(&c)
	}
	return c
}

// instruments is what Redis and Memory share: metrics, the rate-limited failure log and the
// stampede guard used by GetOrLoad.
type instruments struct {
	namespace string
	hits      prometheus.Counter
	misses    prometheus.Counter
	getErrors prometheus.Counter
	errors    *prometheus.CounterVec // csi_cache_errors_total, curried with the namespace
	requests  *prometheus.CounterVec // csi_cache_requests_total, uncurried (for tests)
	log       failureLog
	flights   *singleflight.Group // nil: no stampede guard
}

// instrumented is implemented by the caches of this package (and by types embedding them).
type instrumented interface{ instruments() *instruments }

// foreign serves GetOrLoad and Invalidate for Cache implementations from other packages.
var foreign = newInstruments("", config{}, false) // logs to slog.Default() as it is when they fail

func instrumentsOf(c Cache) *instruments {
	if i, ok := c.(instrumented); ok {
		return i.instruments()
	}
	return foreign
}

func newInstruments(namespace string, cfg config, guard bool) *instruments {
	requests := counterVec(cfg, prometheus.CounterOpts{
		Name: "csi_cache_requests_total",
		Help: "Cache lookups by namespace and result (hit, miss, error).",
	}, "namespace", "result")
	failures := counterVec(cfg, prometheus.CounterOpts{
		Name: "csi_cache_errors_total",
		Help: "Cache failures by namespace and operation (get, set, delete, encode, decode); requests were served from the source.",
	}, "namespace", "op")
	in := &instruments{
		namespace: namespace,
		hits:      requests.WithLabelValues(namespace, "hit"),
		misses:    requests.WithLabelValues(namespace, "miss"),
		getErrors: requests.WithLabelValues(namespace, "error"),
		errors:    failures.MustCurryWith(prometheus.Labels{"namespace": namespace}),
		requests:  requests,
		log:       failureLog{logger: cfg.logger, every: logEvery},
	}
	if guard {
		in.flights = new(singleflight.Group)
	}
	return in
}

// counterVec registers a vector on the configured registerer, reusing the one already there
// when another cache (or a second build of the same service) registered it first.
func counterVec(cfg config, opts prometheus.CounterOpts, labels ...string) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(opts, labels)
	if cfg.reg == nil {
		return v
	}
	err := cfg.reg.Register(v)
	if err == nil {
		return v
	}
	var are prometheus.AlreadyRegisteredError
	if errors.As(err, &are) {
		if existing, ok := are.ExistingCollector.(*prometheus.CounterVec); ok {
			return existing
		}
	}
	logger := cfg.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.Warn("cache metrics not registered", slog.String("metric", opts.Name), slog.Any("error", err))
	return v
}

// fail counts a failed operation; the error is the caller's to return or report.
func (in *instruments) fail(op string) { in.errors.WithLabelValues(op).Inc() }

// report logs a failure swallowed by GetOrLoad or Invalidate, at most once per logEvery. A
// failure caused by the caller's own cancelled context is not the cache's and is not logged.
func (in *instruments) report(ctx context.Context, op string, err error) {
	if ctx.Err() != nil {
		return
	}
	in.log.warn(ctx, in.namespace, op, err)
}

// failureLog writes a warning for the first failure and then at most one per interval, with
// the number of failures it left out.
type failureLog struct {
	logger *slog.Logger // nil: slog.Default()
	every  time.Duration

	mu         sync.Mutex
	last       time.Time
	suppressed int
}

func (l *failureLog) warn(ctx context.Context, namespace, op string, err error) {
	now := time.Now()
	l.mu.Lock()
	if !l.last.IsZero() && now.Sub(l.last) < l.every {
		l.suppressed++
		l.mu.Unlock()
		return
	}
	suppressed := l.suppressed
	l.last, l.suppressed = now, 0
	l.mu.Unlock()
	logger := l.logger
	if logger == nil {
		logger = slog.Default()
	}
	logger.LogAttrs(ctx, slog.LevelWarn, "cache failure, serving from source",
		slog.String("namespace", namespace),
		slog.String("op", op),
		slog.String("error", err.Error()),
		slog.Int("suppressed", suppressed))
}

// Codec turns the values of GetOrLoadWith into the bytes a cache stores, and back. Decode must
// not change b; it may keep parts of it (a Memory cache hands out the very bytes it holds, which
// it never changes), so a value it returns must be treated as read-only too. An error of Decode
// makes the stored value a miss, replaced by a fresh load (a value written by an older version).
type Codec[T any] struct {
	Encode func(v T) ([]byte, error)
	Decode func(b []byte) (T, error)
}

// JSON is the codec of GetOrLoad: encoding/json.
func JSON[T any]() Codec[T] {
	return Codec[T]{
		Encode: func(v T) ([]byte, error) { return json.Marshal(v) },
		Decode: func(b []byte) (T, error) {
			var v T
			err := json.Unmarshal(b, &v)
			return v, err
		},
	}
}

// GetOrLoad returns the value under key, decoded from JSON (GetOrLoadWith with the JSON codec).
func GetOrLoad[T any](ctx context.Context, c Cache, key string, ttl time.Duration, load func(ctx context.Context) (T, error)) (T, error) {
	return GetOrLoadWith(ctx, c, key, ttl, JSON[T](), load)
}

// GetOrLoadWith returns the value under key, decoded with codec. On a miss, or when the cache
// fails, it calls load and stores the result for ttl (best-effort). Cache failures are counted,
// logged (rate-limited, at warn) and never returned; load's error is returned as is and never
// cached. Concurrent misses of the same key on the same cache share one call to load (and so one
// value: treat it as read-only). load gets the ctx of the first caller; a caller whose shared
// load failed only because that first caller's context ended loads again with its own.
//
// A codec that keeps the bytes it decodes (a record served as the JSON that was cached) saves
// the decoding and re-encoding per hit; on a Memory cache the bytes are not even copied.
func GetOrLoadWith[T any](ctx context.Context, c Cache, key string, ttl time.Duration, codec Codec[T], load func(ctx context.Context) (T, error)) (T, error) {
	in := instrumentsOf(c)
	var b []byte
	var found bool
	var err error
	if m, ok := c.(*Memory); ok { // exactly a Memory: a type embedding one may have its own Get
		b, found = m.view(key)
	} else {
		b, found, err = c.Get(ctx, key)
	}
	switch {
	case err != nil:
		in.report(ctx, "get", err)
	case found:
		v, err := codec.Decode(b)
		if err == nil {
			return v, nil
		}
		// A value written by an older version of the type: replace it.
		in.fail("decode")
		in.report(ctx, "decode", err)
	}
	fill := func(ctx context.Context) (T, error) {
		v, err := load(ctx)
		if err != nil {
			return v, err
		}
		store(ctx, c, in, key, ttl, codec, v)
		return v, nil
	}
	if in.flights == nil {
		return fill(ctx)
	}
	res, err, shared := in.flights.Do(key, func() (any, error) { return fill(ctx) })
	if shared && err != nil && ctx.Err() == nil &&
		(errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)) {
		return fill(ctx)
	}
	if err != nil {
		var zero T
		return zero, err
	}
	v, ok := res.(T)
	if !ok { // the same key loaded concurrently as another type: a caller's mistake, but survive it
		return fill(ctx)
	}
	return v, nil
}

func store[T any](ctx context.Context, c Cache, in *instruments, key string, ttl time.Duration, codec Codec[T], v T) {
	b, err := codec.Encode(v)
	if err != nil {
		in.fail("encode")
		in.report(ctx, "encode", err)
		return
	}
	if err := c.Set(ctx, key, b, ttl); err != nil {
		in.report(ctx, "set", err)
	}
}

// Invalidate deletes the keys, best-effort: a failure is counted and logged, never returned.
// Call it after the write that changed the source has committed.
func Invalidate(ctx context.Context, c Cache, keys ...string) {
	if len(keys) == 0 {
		return
	}
	if err := c.Delete(ctx, keys...); err != nil {
		instrumentsOf(c).report(ctx, "delete", err)
	}
}

// Open builds the cache a service is configured for. With redisURL empty it returns a Memory
// cache of DefaultMaxEntries; otherwise a Redis cache on a client parsed from the URL
// (redis://[user:password@]host:port/db?options, see redis.ParseURL), even when Redis cannot be
// reached now: it may come up later, and meanwhile every request is served from the source.
// The returned function closes the client. Redis is deliberately not part of readiness. The URL
// names one server; for a cluster or Sentinel build the client yourself and use NewRedis.
func Open(ctx context.Context, redisURL, namespace string, logger *slog.Logger, reg prometheus.Registerer) (Cache, func() error, error) {
	if logger == nil {
		logger = slog.Default()
	}
	opts := []Option{WithLogger(logger), WithMetrics(reg)}
	if redisURL == "" {
		logger.Info("cache: in-process (no Redis configured)", slog.String("namespace", namespace))
		return NewMemory(namespace, DefaultMaxEntries, opts...), func() error { return nil }, nil
	}
	ro, err := redis.ParseURL(redisURL)
	if err != nil {
		// url.Error quotes the whole URL, password included: keep only its cause.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		return nil, nil, fmt.Errorf("parse redis url: %w", err)
	}
	// Let the per-call deadline reach the socket: without this go-redis waits ReadTimeout
	// (seconds) on a Redis that accepts connections but does not answer.
	ro.ContextTimeoutEnabled = true
	// go-redis logs reconnection failures through a process-wide logger of its own: route it to
	// slog at debug level, once; the cache's own rate-limited warnings say what matters.
	redisLoggerOnce.Do(func() { redis.SetLogger(slogPrintf{logger}) })
	client := redis.NewClient(ro)
	c := NewRedis(client, namespace, opts...)

	pctx, cancel := context.WithTimeout(ctx, 500*time.Millisecond) // only for the log line: do not hold up the start
	defer cancel()
	if err := client.Ping(pctx).Err(); err != nil {
		logger.Warn("cache: Redis not reachable now, serving from the source until it is",
			slog.String("namespace", namespace), slog.String("addr", ro.Addr), slog.Any("error", err))
	} else {
		logger.Info("cache: Redis", slog.String("namespace", namespace), slog.String("addr", ro.Addr))
	}
	return c, client.Close, nil
}

// unavailable wraps an infrastructure failure of op.
func unavailable(op string, err error) error {
	return errs.Wrap(errs.Unavailable, err, "cache %s failed", op)
}

// checkNamespace panics on a namespace that would make keys ambiguous: a programming error.
func checkNamespace(ns string) {
	if ns == "" {
		panic("cache: empty namespace")
	}
	for _, r := range ns {
		if r == ':' || r == ' ' || r < 0x20 {
			panic(fmt.Sprintf("cache: namespace %q must not contain ':', spaces or control characters", ns))
		}
	}
}

var redisLoggerOnce sync.Once

// slogPrintf adapts slog to go-redis's Printf logger.
type slogPrintf struct{ l *slog.Logger }

func (s slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	s.l.DebugContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}
