package main

import (
	"testing"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/ivload"
	"github.com/csi-lombardia/csi/tools/internal/load"
)

// make bench's ramps fit the write authorizations' period: each write target gets days of its
// own for as many visits as its ramp can send, whatever its steps answer.
func TestWriteCalendarsFit(t *testing.T) {
	for _, step := range []time.Duration{time.Second, 3 * time.Second} {
		cals, err := ivCalendars(step)
		if err != nil {
			t.Fatalf("step %s: %v", step, err)
		}
		batch := benchRamp(batchStart, batchMax, step, load.Bound{}).MaxRequests() * batchSize
		if have := int64(cals[0].Days) * ivload.WriteOperators * ivload.SlotsPerDay; have < batch {
			t.Errorf("step %s: the batch calendar has %d slots for %d visits", step, have, batch)
		}
		for i := 1; i < len(cals); i++ {
			if !cals[i].First.Equal(cals[i-1].First.AddDate(0, 0, cals[i-1].Days)) {
				t.Errorf("step %s: calendar %d starts %s, not after calendar %d", step, i, cals[i].First, i-1)
			}
		}
		t.Logf("step %s: %d visits a batch ramp at most; calendars of %d, %d, %d, %d days", step, batch, cals[0].Days, cals[1].Days, cals[2].Days, cals[3].Days)
	}
}
