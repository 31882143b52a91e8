package app

import (
	"io"
	"log/slog"
	"math"
	"runtime/debug"
	"testing"
)

func TestMemoryLimit(t *testing.T) {
	for _, tc := range []struct {
		name       string
		limitMiB   int
		gomemlimit string
		want       int64
	}{
		{"90% of the container's limit", 256, "", 241_591_910}, // 230.4 MiB
		{"a small limit", 10, "", 9 << 20},
		{"GOMEMLIMIT set wins", 256, "100MiB", 0},
		{"no container limit known", 0, "", 0},
		{"a negative limit ignored", -1, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := memoryLimit(tc.limitMiB, tc.gomemlimit); got != tc.want {
				t.Errorf("memoryLimit(%d, %q) = %d, want %d", tc.limitMiB, tc.gomemlimit, got, tc.want)
			}
		})
	}
}

// TestSetMemoryLimit: the runtime's soft limit is the one computed.
func TestSetMemoryLimit(t *testing.T) {
	t.Setenv("GOMEMLIMIT", "")
	prev := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(prev) })
	setMemoryLimit(slog.New(slog.NewTextHandler(io.Discard, nil)), 200)
	if got, want := debug.SetMemoryLimit(-1), int64(180<<20); got != want {
		t.Errorf("soft memory limit = %d, want %d", got, want)
	}
	debug.SetMemoryLimit(math.MaxInt64)
	setMemoryLimit(slog.New(slog.NewTextHandler(io.Discard, nil)), 0)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("without a container limit the soft limit became %d", got)
	}
}
