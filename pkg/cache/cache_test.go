package cache

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/redis/go-redis/v9"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// redisURL is the test server's URL; the tests fail without it, they never skip.
func redisURL(tb testing.TB) string {
	tb.Helper()
	u := os.Getenv("CSI_TEST_REDIS_URL")
	if u == "" {
		tb.Fatal(`CSI_TEST_REDIS_URL is not set: run the tests with 'make test' or after eval "$(scripts/test-env.sh)", which start Redis`)
	}
	return u
}

// newTestClient connects to the test Redis and closes the client when the test ends.
func newTestClient(tb testing.TB) *redis.Client {
	tb.Helper()
	opts, err := redis.ParseURL(redisURL(tb))
	if err != nil {
		tb.Fatalf("parse CSI_TEST_REDIS_URL: %v", err)
	}
	opts.ContextTimeoutEnabled = true
	client := redis.NewClient(opts)
	tb.Cleanup(func() { _ = client.Close() })
	if err := client.Ping(context.Background()).Err(); err != nil {
		tb.Fatalf("test Redis at %s not reachable: %v", opts.Addr, err)
	}
	return client
}

// uniqueNamespace returns a namespace no other test (or test package) uses; when client is not
// nil its keys are removed from Redis when the test ends.
func uniqueNamespace(tb testing.TB, client redis.UniversalClient) string {
	tb.Helper()
	var b [4]byte
	_, _ = rand.Read(b[:])
	name := strings.Map(func(r rune) rune {
		if r == '/' || r == ':' || r == ' ' || r < 0x20 {
			return '_'
		}
		return r
	}, tb.Name())
	ns := "t_" + name + "_" + hex.EncodeToString(b[:])
	if client != nil {
		tb.Cleanup(func() {
			ctx := context.Background()
			iter := client.Scan(ctx, 0, "csi:"+ns+":*", 100).Iterator()
			for iter.Next(ctx) {
				client.Del(ctx, iter.Val())
			}
			if err := iter.Err(); err != nil {
				tb.Logf("remove keys of %s: %v", ns, err)
			}
		})
	}
	return ns
}

// quietLogger discards the failure warnings the tests provoke on purpose.
var quietLogger = slog.New(slog.NewTextHandler(io.Discard, nil))

// implementation builds a cache of one kind under a namespace.
type implementation struct {
	name string
	new  func(t *testing.T, namespace string, opts ...Option) Cache
}

// implementations are the caches every contract test runs against.
func implementations(t *testing.T) []implementation {
	return []implementation{
		{"redis", func(t *testing.T, ns string, opts ...Option) Cache {
			client := newTestClient(t)
			return NewRedis(client, ns, append([]Option{WithLogger(quietLogger)}, opts...)...)
		}},
		{"memory", func(t *testing.T, ns string, opts ...Option) Cache {
			return NewMemory(ns, 100, append([]Option{WithLogger(quietLogger)}, opts...)...)
		}},
	}
}

// namespaceFor returns a fresh namespace, cleaned from Redis after the test.
func namespaceFor(t *testing.T) string {
	return uniqueNamespace(t, newTestClient(t))
}

func TestContract(t *testing.T) {
	for _, impl := range implementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			t.Parallel()
			testContract(t, impl)
		})
	}
}

func testContract(t *testing.T, impl implementation) {
	ctx := context.Background()

	t.Run("miss", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		got, found, err := c.Get(ctx, "absent")
		if err != nil || found || got != nil {
			t.Errorf("Get(absent) = %q, %v, %v; want nil, false, nil", got, found, err)
		}
	})

	t.Run("set then get", func(t *testing.T) {
		tests := []struct {
			name string
			val  []byte
		}{
			{"text", []byte(`{"name":"Zoë Rossi"}`)},
			{"empty", []byte{}},
			{"binary", []byte{0, 1, 2, 0xff, '\n', ':'}},
			{"large", bytes.Repeat([]byte("abcdefgh"), 64<<10)},
		}
		c := impl.new(t, namespaceFor(t))
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				if err := c.Set(ctx, tt.name, tt.val, time.Minute); err != nil {
					t.Fatalf("Set: %v", err)
				}
				got, found, err := c.Get(ctx, tt.name)
				if err != nil || !found {
					t.Fatalf("Get = _, %v, %v; want found", found, err)
				}
				if !bytes.Equal(got, tt.val) {
					t.Errorf("Get = %d bytes %.40q, want %d bytes %.40q", len(got), got, len(tt.val), tt.val)
				}
			})
		}
	})

	t.Run("overwrite", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		mustSet(t, c, "k", "first", time.Minute)
		mustSet(t, c, "k", "second", time.Minute)
		if got := mustGet(t, c, "k"); got != "second" {
			t.Errorf("Get = %q, want %q", got, "second")
		}
	})

	t.Run("values are copies", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		val := []byte("original")
		if err := c.Set(ctx, "k", val, time.Minute); err != nil {
			t.Fatal(err)
		}
		copy(val, "XXXXXXXX")
		got, _, _ := c.Get(ctx, "k")
		copy(got, "YYYYYYYY")
		if got := mustGet(t, c, "k"); got != "original" {
			t.Errorf("Get after the caller changed its slices = %q, want %q", got, "original")
		}
	})

	t.Run("ttl expiry", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		mustSet(t, c, "short", "v", 50*time.Millisecond)
		mustSet(t, c, "long", "v", time.Minute)
		time.Sleep(300 * time.Millisecond) // well past the short TTL
		if _, found, err := c.Get(ctx, "short"); err != nil || found {
			t.Errorf("Get(short) after its TTL = found %v, err %v; want a miss", found, err)
		}
		if got := mustGet(t, c, "long"); got != "v" {
			t.Errorf("Get(long) = %q, want %q", got, "v")
		}
	})

	t.Run("non-positive ttl refused", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		for _, ttl := range []time.Duration{0, -time.Second} {
			err := c.Set(ctx, "k", []byte("v"), ttl)
			if got, want := errs.KindOf(err), errs.Invalid; err == nil || got != want {
				t.Errorf("Set with ttl %v: error %v of kind %v, want kind %v", ttl, err, got, want)
			}
		}
		if _, found, _ := c.Get(ctx, "k"); found {
			t.Error("a refused Set stored the value")
		}
	})

	t.Run("delete several keys", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		for _, k := range []string{"a", "b", "c", "keep"} {
			mustSet(t, c, k, k, time.Minute)
		}
		if err := c.Delete(ctx, "a", "b", "c", "never-set"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if err := c.Delete(ctx); err != nil {
			t.Fatalf("Delete of no keys: %v", err)
		}
		for _, k := range []string{"a", "b", "c"} {
			if _, found, err := c.Get(ctx, k); err != nil || found {
				t.Errorf("Get(%s) after Delete = found %v, err %v; want a miss", k, found, err)
			}
		}
		if got := mustGet(t, c, "keep"); got != "keep" {
			t.Errorf("Get(keep) = %q, want %q", got, "keep")
		}
	})

	t.Run("delete one key", func(t *testing.T) {
		c := impl.new(t, namespaceFor(t))
		mustSet(t, c, "a", "a", time.Minute)
		if err := c.Delete(ctx, "a"); err != nil {
			t.Fatalf("Delete: %v", err)
		}
		if _, found, _ := c.Get(ctx, "a"); found {
			t.Error("Get(a) after Delete found it")
		}
	})

	t.Run("namespaces are separate", func(t *testing.T) {
		one := impl.new(t, namespaceFor(t))
		two := impl.new(t, namespaceFor(t))
		mustSet(t, one, "k", "one", time.Minute)
		if _, found, _ := two.Get(ctx, "k"); found {
			t.Fatal("a key set in one namespace is visible in another")
		}
		mustSet(t, two, "k", "two", time.Minute)
		if err := two.Delete(ctx, "k"); err != nil {
			t.Fatal(err)
		}
		if got := mustGet(t, one, "k"); got != "one" {
			t.Errorf("Get in the first namespace = %q, want %q", got, "one")
		}
	})
}

func mustSet(t *testing.T, c Cache, key, val string, ttl time.Duration) {
	t.Helper()
	if err := c.Set(context.Background(), key, []byte(val), ttl); err != nil {
		t.Fatalf("Set(%s): %v", key, err)
	}
}

func mustGet(t *testing.T, c Cache, key string) string {
	t.Helper()
	got, found, err := c.Get(context.Background(), key)
	if err != nil || !found {
		t.Fatalf("Get(%s) = found %v, err %v; want found", key, found, err)
	}
	return string(got)
}

func TestRedisKeyLayout(t *testing.T) {
	ctx := context.Background()
	client := newTestClient(t)
	ns := uniqueNamespace(t, client)
	c := NewRedis(client, ns)
	mustSet(t, c, "citizen:42", "v", time.Minute)
	got, err := client.Get(ctx, "csi:"+ns+":citizen:42").Result()
	if err != nil {
		t.Fatalf("raw GET of the namespaced key: %v", err)
	}
	if got != "v" {
		t.Errorf("raw value = %q, want %q", got, "v")
	}
	ttl, err := client.PTTL(ctx, "csi:"+ns+":citizen:42").Result()
	if err != nil || ttl <= 0 || ttl > time.Minute {
		t.Errorf("PTTL = %v, %v; want within (0, 1m]", ttl, err)
	}
}

// record is a value with the shapes services cache: times, slices, maps, pointers, unicode.
type record struct {
	ID      string         `json:"id"`
	Name    string         `json:"name"`
	Born    time.Time      `json:"born"`
	Tags    []string       `json:"tags"`
	Counts  map[string]int `json:"counts"`
	Note    *string        `json:"note"`
	Missing *string        `json:"missing"`
}

func TestGetOrLoad(t *testing.T) {
	ctx := context.Background()
	note := "nota: è già così"
	want := record{
		ID:     "0190d9a2-6a63-7c3e-8f1e-1c2b3d4e5f60",
		Name:   "Niccolò D'Ambrosio",
		Born:   time.Date(1950, 3, 4, 0, 0, 0, 0, time.UTC),
		Tags:   []string{"minori", "disabilità"},
		Counts: map[string]int{"interventi": 3},
		Note:   &note,
	}
	for _, impl := range implementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			t.Run("loads once then hits", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				loads := 0
				load := func(context.Context) (record, error) { loads++; return want, nil }
				for i := range 3 {
					got, err := GetOrLoad(ctx, c, "rec", time.Minute, load)
					if err != nil {
						t.Fatalf("call %d: %v", i, err)
					}
					if diff := cmp.Diff(got, want); diff != "" {
						t.Errorf("call %d: value (-got +want):\n%s", i, diff)
					}
				}
				if loads != 1 {
					t.Errorf("load called %d times, want 1", loads)
				}
			})

			t.Run("value survives the JSON round trip", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				if _, err := GetOrLoad(ctx, c, "rec", time.Minute, func(context.Context) (record, error) { return want, nil }); err != nil {
					t.Fatal(err)
				}
				got, err := GetOrLoad(ctx, c, "rec", time.Minute, func(context.Context) (record, error) {
					t.Error("load called on a hit")
					return record{}, nil
				})
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, want); diff != "" {
					t.Errorf("cached value (-got +want):\n%s", diff)
				}
			})

			t.Run("load error returned and not cached", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				errBoom := errs.E(errs.NotFound, "no such citizen")
				loads := 0
				_, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (int, error) { loads++; return 0, errBoom })
				if !errors.Is(err, errBoom) {
					t.Fatalf("error = %v, want %v", err, errBoom)
				}
				if _, found, _ := c.Get(ctx, "k"); found {
					t.Fatal("a failed load was cached")
				}
				got, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (int, error) { loads++; return 7, nil })
				if err != nil || got != 7 {
					t.Errorf("after a failed load: %v, %v; want 7, nil", got, err)
				}
				if loads != 2 {
					t.Errorf("load called %d times, want 2", loads)
				}
			})

			t.Run("undecodable cached value is replaced", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				mustSet(t, c, "k", `{"id": 12}`, time.Minute) // an older shape of the type
				got, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (record, error) { return want, nil })
				if err != nil {
					t.Fatal(err)
				}
				if diff := cmp.Diff(got, want); diff != "" {
					t.Errorf("value (-got +want):\n%s", diff)
				}
				got, err = GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (record, error) {
					t.Error("load called after the value was replaced")
					return record{}, nil
				})
				if err != nil || got.ID != want.ID {
					t.Errorf("second call = %v, %v; want the replaced value", got.ID, err)
				}
			})

			t.Run("unencodable value returned, not cached", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				got, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (func(), error) { return func() {}, nil })
				if err != nil || got == nil {
					t.Errorf("GetOrLoad = %p, %v; want the loaded func, nil", got, err)
				}
				if _, found, _ := c.Get(ctx, "k"); found {
					t.Error("an unencodable value was cached")
				}
			})

			t.Run("invalidate", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				version := 1
				load := func(context.Context) (int, error) { return version, nil }
				if got, _ := GetOrLoad(ctx, c, "k", time.Minute, load); got != 1 {
					t.Fatalf("first load = %d, want 1", got)
				}
				version = 2 // the write
				Invalidate(ctx, c, "k", "other")
				Invalidate(ctx, c)
				if got, _ := GetOrLoad(ctx, c, "k", time.Minute, load); got != 2 {
					t.Errorf("after Invalidate = %d, want 2", got)
				}
			})
		})
	}
}

// framed is a codec that keeps the bytes it decodes: a tag line, then the payload served as it
// was cached.
var framed = Codec[[]byte]{
	Encode: func(v []byte) ([]byte, error) { return append([]byte("v1\n"), v...), nil },
	Decode: func(b []byte) ([]byte, error) {
		rest, ok := bytes.CutPrefix(b, []byte("v1\n"))
		if !ok {
			return nil, errors.New("not a v1 value")
		}
		return rest, nil
	},
}

func TestGetOrLoadWith(t *testing.T) {
	ctx := context.Background()
	payload := []byte(`{"id":"0190d9a2-6a63-7c3e-8f1e-1c2b3d4e5f60","name":"Niccolò"}`)
	for _, impl := range implementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			t.Run("stores the encoded value, hits decode it", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				loads := 0
				load := func(context.Context) ([]byte, error) { loads++; return payload, nil }
				for i := range 3 {
					got, err := GetOrLoadWith(ctx, c, "k", time.Minute, framed, load)
					if err != nil || !bytes.Equal(got, payload) {
						t.Errorf("call %d = %q, %v; want %q", i, got, err, payload)
					}
				}
				if loads != 1 {
					t.Errorf("load called %d times, want 1", loads)
				}
				if got := mustGet(t, c, "k"); got != "v1\n"+string(payload) {
					t.Errorf("stored %q, want the encoded value", got)
				}
			})

			t.Run("a value the codec refuses is replaced", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				mustSet(t, c, "k", `{"id":12}`, time.Minute) // written by GetOrLoad, an older version
				got, err := GetOrLoadWith(ctx, c, "k", time.Minute, framed, func(context.Context) ([]byte, error) { return payload, nil })
				if err != nil || !bytes.Equal(got, payload) {
					t.Fatalf("GetOrLoadWith = %q, %v; want the loaded value", got, err)
				}
				if got := mustGet(t, c, "k"); got != "v1\n"+string(payload) {
					t.Errorf("stored %q, want the replaced value", got)
				}
			})

			t.Run("the cache's bytes stay as they were", func(t *testing.T) {
				c := impl.new(t, namespaceFor(t))
				src := append([]byte(nil), payload...)
				if _, err := GetOrLoadWith(ctx, c, "k", time.Minute, framed, func(context.Context) ([]byte, error) { return src, nil }); err != nil {
					t.Fatal(err)
				}
				copy(src, "XXXX") // the loader's slice, changed after the load
				got, err := GetOrLoadWith(ctx, c, "k", time.Minute, framed, func(context.Context) ([]byte, error) { return nil, errors.New("no load on a hit") })
				if err != nil || !bytes.Equal(got, payload) {
					t.Errorf("hit = %q, %v; want %q", got, err, payload)
				}
			})
		})
	}
}

// foreignCache is a Cache from outside the package: GetOrLoad works on it without metrics or
// stampede guard.
type foreignCache struct {
	mu sync.Mutex
	m  map[string][]byte
}

func (f *foreignCache) Get(_ context.Context, key string) ([]byte, bool, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	v, ok := f.m[key]
	return v, ok, nil
}

func (f *foreignCache) Set(_ context.Context, key string, val []byte, _ time.Duration) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.m[key] = val
	return nil
}

func (f *foreignCache) Delete(_ context.Context, keys ...string) error {
	return errors.New("delete not supported")
}

func TestGetOrLoadForeignCache(t *testing.T) {
	ctx := context.Background()
	c := &foreignCache{m: map[string][]byte{}}
	loads := 0
	for range 2 {
		got, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (string, error) { loads++; return "v", nil })
		if err != nil || got != "v" {
			t.Fatalf("GetOrLoad = %q, %v; want v, nil", got, err)
		}
	}
	if loads != 1 {
		t.Errorf("load called %d times, want 1", loads)
	}
	Invalidate(ctx, c, "k") // fails, must not panic or return
}

// lockedBuffer collects log output written from several goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// hungRedis accepts connections and never answers.
func hungRedis(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var (
		mu    sync.Mutex
		conns []net.Conn
		done  = make(chan struct{})
	)
	go func() {
		defer close(done)
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, conn)
			mu.Unlock()
		}
	}()
	t.Cleanup(func() {
		_ = ln.Close()
		<-done
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			_ = c.Close()
		}
	})
	return ln.Addr().String()
}

func TestRedisDown(t *testing.T) {
	tests := []struct {
		name string
		addr func(t *testing.T) string
	}{
		{"closed port", func(*testing.T) string { return "127.0.0.1:1" }},
		{"server never answers", hungRedis},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			client := redis.NewClient(&redis.Options{Addr: tt.addr(t), ContextTimeoutEnabled: true})
			t.Cleanup(func() { _ = client.Close() })
			var logs lockedBuffer
			ns := uniqueNamespace(t, nil)
			c := NewRedis(client, ns,
				WithLogger(slog.New(slog.NewTextHandler(&logs, nil))),
				WithMetrics(prometheus.NewRegistry()))

			const calls = 4
			loads := 0
			for i := range calls {
				got, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (string, error) { loads++; return "from source", nil })
				if err != nil || got != "from source" {
					t.Fatalf("call %d: GetOrLoad = %q, %v; want the loaded value and no error", i, got, err)
				}
			}
			Invalidate(ctx, c, "k", "j")

			if loads != calls {
				t.Errorf("load called %d times, want %d", loads, calls)
			}
			_, _, err := c.Get(ctx, "k")
			if got, want := errs.KindOf(err), errs.Unavailable; err == nil || got != want {
				t.Errorf("Get on a Redis that is down: error %v of kind %v, want kind %v", err, got, want)
			}
			counters := []struct {
				name string
				c    prometheus.Counter
				want float64
			}{
				{"requests error", c.in.requests.WithLabelValues(ns, "error"), calls + 1},
				{"requests hit", c.in.requests.WithLabelValues(ns, "hit"), 0},
				{"errors get", c.in.errors.WithLabelValues("get"), calls + 1},
				{"errors set", c.in.errors.WithLabelValues("set"), calls},
				{"errors delete", c.in.errors.WithLabelValues("delete"), 1},
			}
			for _, cc := range counters {
				if got := testutil.ToFloat64(cc.c); got != cc.want {
					t.Errorf("%s = %v, want %v", cc.name, got, cc.want)
				}
			}
			// Nine failures were swallowed within the log interval: one line says so.
			if got := strings.Count(logs.String(), "cache failure"); got != 1 {
				t.Errorf("logged %d failure lines, want 1 (rate-limited); log:\n%s", got, logs.String())
			}
		})
	}
}

func TestCallerCancellationIsNotAFailure(t *testing.T) {
	client := newTestClient(t)
	c := NewRedis(client, uniqueNamespace(t, client), WithLogger(quietLogger))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := GetOrLoad(ctx, c, "k", time.Minute, func(ctx context.Context) (int, error) { return 0, ctx.Err() })
	if !errors.Is(err, context.Canceled) {
		t.Errorf("error = %v, want %v", err, context.Canceled)
	}
	for _, op := range []string{"get", "set"} {
		if got := testutil.ToFloat64(c.in.errors.WithLabelValues(op)); got != 0 {
			t.Errorf("errors{op=%s} = %v, want 0", op, got)
		}
	}
}

func TestMetrics(t *testing.T) {
	ctx := context.Background()
	for _, impl := range implementations(t) {
		t.Run(impl.name, func(t *testing.T) {
			reg := prometheus.NewRegistry()
			ns := namespaceFor(t)
			c := impl.new(t, ns, WithMetrics(reg))
			for range 3 {
				if _, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (int, error) { return 1, nil }); err != nil {
					t.Fatal(err)
				}
			}
			in := instrumentsOf(c)
			if got := testutil.ToFloat64(in.requests.WithLabelValues(ns, "miss")); got != 1 {
				t.Errorf("misses = %v, want 1", got)
			}
			if got := testutil.ToFloat64(in.requests.WithLabelValues(ns, "hit")); got != 2 {
				t.Errorf("hits = %v, want 2", got)
			}
			if got := testutil.ToFloat64(in.requests.WithLabelValues(ns, "error")); got != 0 {
				t.Errorf("errors = %v, want 0", got)
			}
			// All three results are exported from the start, so rates never start from a gap.
			n, err := testutil.GatherAndCount(reg, "csi_cache_requests_total")
			if err != nil || n != 3 {
				t.Errorf("gathered %d csi_cache_requests_total series (err %v), want 3 (hit, miss, error)", n, err)
			}
		})
	}
}

func TestMetricsShareARegistry(t *testing.T) {
	ctx := context.Background()
	reg := prometheus.NewRegistry()
	load := func(context.Context) (int, error) { return 1, nil }

	// The same service built twice in one process, plus a cache of another namespace.
	first := NewMemory("people", 10, WithMetrics(reg))
	second := NewMemory("people", 10, WithMetrics(reg))
	other := NewMemory("cases", 10, WithMetrics(reg))
	for _, c := range []*Memory{first, second, other} {
		if _, err := GetOrLoad(ctx, c, "k", time.Minute, load); err != nil {
			t.Fatal(err)
		}
	}
	if got := testutil.ToFloat64(first.in.requests.WithLabelValues("people", "miss")); got != 2 {
		t.Errorf("people misses = %v, want 2 (both builds count in one series)", got)
	}
	if got := testutil.ToFloat64(first.in.requests.WithLabelValues("cases", "miss")); got != 1 {
		t.Errorf("cases misses = %v, want 1", got)
	}
}

func TestOpen(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name      string
		url       func(t *testing.T) string
		wantRedis bool
	}{
		{"no url gives memory", func(*testing.T) string { return "" }, false},
		{"test server", func(t *testing.T) string { return redisURL(t) }, true},
		{"unreachable server still gives redis", func(*testing.T) string { return "redis://127.0.0.1:1/0" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := uniqueNamespace(t, newTestClient(t))
			c, closeCache, err := Open(ctx, tt.url(t), ns, quietLogger, prometheus.NewRegistry())
			if err != nil {
				t.Fatalf("Open: %v", err)
			}
			if _, isRedis := c.(*Redis); isRedis != tt.wantRedis {
				t.Errorf("Open returned %T, want Redis %v", c, tt.wantRedis)
			}
			got, err := GetOrLoad(ctx, c, "k", time.Minute, func(context.Context) (string, error) { return "v", nil })
			if err != nil || got != "v" {
				t.Errorf("GetOrLoad = %q, %v; want v, nil", got, err)
			}
			if err := closeCache(); err != nil {
				t.Errorf("close: %v", err)
			}
		})
	}
}

func TestOpenBadURL(t *testing.T) {
	tests := []struct {
		name string
		url  string
	}{
		{"wrong scheme", "http://127.0.0.1:6379"},
		{"bad port", "redis://user:s3cret@127.0.0.1:port/0"},
		{"unknown option", "redis://:s3cret@127.0.0.1:6379/0?no_such_option=1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Open(context.Background(), tt.url, "ns", quietLogger, nil)
			if err == nil {
				t.Fatal("Open accepted the URL")
			}
			if strings.Contains(err.Error(), "s3cret") {
				t.Errorf("error %q shows the password", err)
			}
		})
	}
}

func TestBadNamespacePanics(t *testing.T) {
	for _, ns := range []string{"", "a:b", "a b", "a\nb"} {
		t.Run(ns, func(t *testing.T) {
			defer func() {
				if recover() == nil {
					t.Errorf("NewMemory(%q) did not panic", ns)
				}
			}()
			NewMemory(ns, 1)
		})
	}
}
