package main

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// Every create ramp gets a new resident for every request it can send: the bench's default
// (-fresh 0) is the ramp's MaxRequests, and a shorter supply fails before the ramp, naming it.
func TestEnoughData(t *testing.T) {
	t.Parallel()
	r := benchRamp(createStart, createMax, 3*time.Second, load.Bound{})
	need := int(r.MaxRequests())
	if need < 2*int(createMax*3) {
		t.Fatalf("a create ramp sends at most %d requests: less than two steps at its ceiling, the bound is wrong", need)
	}
	tests := []struct {
		name    string
		fresh   int
		wantErr bool
	}{
		{"reuses its data", 0, false},
		{"exactly enough", need, false},
		{"one short", need - 1, true},
		{"the old 20,000", 20_000, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := enoughData(target{name: "citizen create", fresh: tc.fresh}, r)
			if (err != nil) != tc.wantErr {
				t.Fatalf("enoughData: %v, want error %v", err, tc.wantErr)
			}
			if err != nil && !strings.Contains(err.Error(), `"citizen create"`) {
				t.Errorf("error %q does not name the ramp", err)
			}
		})
	}
}

// Past the last new resident the operation fails as the load's own (no data), never wraps
// around to a resident the server already holds (which it would refuse 409).
func TestFreshAt(t *testing.T) {
	t.Parallel()
	list := []synth.Person{{FiscalCode: "A"}, {FiscalCode: "B"}}
	for i, want := range []string{"A", "B"} {
		p, err := freshAt(list, int64(i))
		if err != nil || p.FiscalCode != want {
			t.Errorf("freshAt(%d) = %q, %v, want %q", i, p.FiscalCode, err, want)
		}
	}
	if _, err := freshAt(list, 2); !errors.Is(err, load.ErrNoData) {
		t.Errorf("freshAt past the end: %v, want load.ErrNoData", err)
	}
}
