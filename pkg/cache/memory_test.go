package cache

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestMemoryBounded(t *testing.T) {
	ctx := context.Background()
	c := NewMemory("bounded", 3)
	for _, k := range []string{"a", "b", "c"} {
		mustSet(t, c, k, k, time.Minute)
	}
	mustGet(t, c, "a") // a is now the most recently used, b the least
	mustSet(t, c, "d", "d", time.Minute)

	if got := c.Len(); got != 3 {
		t.Errorf("Len = %d, want 3", got)
	}
	tests := []struct {
		key  string
		want bool
	}{
		{"a", true},
		{"b", false},
		{"c", true},
		{"d", true},
	}
	for _, tt := range tests {
		if _, found, _ := c.Get(ctx, tt.key); found != tt.want {
			t.Errorf("Get(%s) found %v, want %v", tt.key, found, tt.want)
		}
	}
	for i := range 100 {
		mustSet(t, c, fmt.Sprint(i), "v", time.Minute)
	}
	if got := c.Len(); got != 3 {
		t.Errorf("Len after 100 more = %d, want 3", got)
	}
}

func TestMemoryDefaultBound(t *testing.T) {
	if got := NewMemory("default", 0).max; got != DefaultMaxEntries {
		t.Errorf("bound for maxEntries 0 = %d, want %d", got, DefaultMaxEntries)
	}
}

func TestMemoryExpiryDropsEntry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := NewMemory("expiry", 10)
		mustSet(t, c, "k", "v", time.Second)
		time.Sleep(999 * time.Millisecond)
		if got := mustGet(t, c, "k"); got != "v" {
			t.Errorf("Get before the TTL = %q, want v", got)
		}
		time.Sleep(time.Millisecond)
		if _, found, _ := c.Get(ctx, "k"); found {
			t.Error("Get at the TTL found the value")
		}
		if got := c.Len(); got != 0 {
			t.Errorf("Len after an expired Get = %d, want 0", got)
		}
	})
}

func TestMemoryConcurrentUse(t *testing.T) {
	ctx := context.Background()
	const (
		workers = 8
		ops     = 2000
		keys    = 50
		bound   = 16
	)
	c := NewMemory("concurrent", bound, WithLogger(quietLogger))
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for i := range ops {
				key := fmt.Sprint((w*7 + i) % keys)
				val := `"` + key + `"` // JSON, as GetOrLoad stores it
				var err error
				switch i % 5 {
				case 0:
					err = c.Set(ctx, key, []byte(val), time.Minute)
				case 1:
					var got []byte
					var found bool
					got, found, err = c.Get(ctx, key)
					if found && string(got) != val {
						err = fmt.Errorf("Get(%s) = %q", key, got)
					}
				case 2:
					err = c.Delete(ctx, key, fmt.Sprint((i+1)%keys))
				case 3:
					var got string
					got, err = GetOrLoad(ctx, c, key, time.Minute, func(context.Context) (string, error) { return key, nil })
					if err == nil && got != key {
						err = fmt.Errorf("GetOrLoad(%s) = %q", key, got)
					}
				case 4:
					Invalidate(ctx, c, key)
				}
				if err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	if got := c.Len(); got > bound {
		t.Errorf("Len = %d, want at most %d", got, bound)
	}
	if got, want := len(c.items), c.order.Len(); got != want {
		t.Errorf("index holds %d keys, list %d entries", got, want)
	}
}

func TestGetOrLoadStampede(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		c := NewMemory("stampede", 10)
		release := make(chan struct{})
		var loads atomic.Int32
		load := func(context.Context) (int, error) {
			loads.Add(1)
			<-release
			return 42, nil
		}
		const callers = 20
		results := make([]int, callers)
		var wg sync.WaitGroup
		for i := range callers {
			wg.Go(func() {
				v, err := GetOrLoad(ctx, c, "k", time.Minute, load)
				if err != nil {
					t.Error(err)
				}
				results[i] = v
			})
		}
		synctest.Wait() // every caller is waiting: one in load, the others on its result
		close(release)
		wg.Wait()
		if got := loads.Load(); got != 1 {
			t.Errorf("load called %d times for %d concurrent misses, want 1", got, callers)
		}
		for i, v := range results {
			if v != 42 {
				t.Errorf("caller %d got %d, want 42", i, v)
			}
		}
	})
}

func TestGetOrLoadSharedLoadCancelled(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := NewMemory("cancelled", 10)
		release := make(chan struct{})
		var loads atomic.Int32
		load := func(ctx context.Context) (int, error) {
			loads.Add(1)
			select {
			case <-ctx.Done():
				return 0, ctx.Err()
			case <-release:
				return 42, nil
			}
		}
		firstCtx, cancelFirst := context.WithCancel(context.Background())
		var firstErr, secondErr error
		var second int
		var wg sync.WaitGroup
		wg.Go(func() { _, firstErr = GetOrLoad(firstCtx, c, "k", time.Minute, load) })
		synctest.Wait()
		wg.Go(func() { second, secondErr = GetOrLoad(context.Background(), c, "k", time.Minute, load) })
		synctest.Wait()
		cancelFirst() // the first caller goes away while the second waits on its load
		synctest.Wait()
		close(release)
		wg.Wait()

		if firstErr != context.Canceled {
			t.Errorf("first caller: error %v, want %v", firstErr, context.Canceled)
		}
		if secondErr != nil || second != 42 {
			t.Errorf("second caller: %d, %v; want 42, nil", second, secondErr)
		}
		if got := loads.Load(); got != 2 {
			t.Errorf("load called %d times, want 2", got)
		}
	})
}
