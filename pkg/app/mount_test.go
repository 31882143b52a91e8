package app

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// TestEventually: work that succeeds at once runs once, in the caller; work that fails is tried
// again in the background until it succeeds; work that never does stops with the App.
func TestEventually(t *testing.T) {
	a := New(Base{Service: "apptest"}, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), pgtest.New(t))
	var once, thrice, never atomic.Int32
	a.Eventually(context.Background(), "once", time.Millisecond, func(context.Context) error { once.Add(1); return nil })
	if once.Load() != 1 {
		t.Fatalf("work that succeeds ran %d times before Eventually returned, want 1", once.Load())
	}
	a.Eventually(context.Background(), "thrice", time.Millisecond, func(context.Context) error {
		if thrice.Add(1) < 3 {
			return errors.New("not yet")
		}
		return nil
	})
	a.Eventually(context.Background(), "never", time.Millisecond, func(context.Context) error { never.Add(1); return errors.New("no") })
	waitFor(t, "the third try", func() bool { return thrice.Load() == 3 })
	if err := a.Close(context.Background()); err != nil {
		t.Fatal(err)
	}
	tries := never.Load()
	time.Sleep(20 * time.Millisecond)
	if thrice.Load() != 3 || never.Load() != tries || tries < 2 {
		t.Errorf("tries: %d after success (want 3), %d then %d after Close (want no more)", thrice.Load(), tries, never.Load())
	}
}
