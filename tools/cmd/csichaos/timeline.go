package main

import (
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/load"
)

// latencyBound is the p99 the latency must come back to after a fault.
const latencyBound = 25 * time.Millisecond

// The rolling window of the latency's recovery: its length, how far it slides each time, and
// how few requests it may hold to say anything.
const (
	window      = time.Second
	windowSlide = 100 * time.Millisecond
	windowMin   = 10
)

// burst is the error burst of a scenario: from the first failed request's start to the last
// failed request's end.
type burst struct {
	failed      int
	first, last time.Time
}

func (b burst) length() time.Duration { return b.last.Sub(b.first) }

func (b burst) String() string {
	if b.failed == 0 {
		return "none"
	}
	return fmt.Sprintf("%.2f s (%d failed)", b.length().Seconds(), b.failed)
}

// errorBurst finds the burst among results.
func errorBurst(results []result) burst {
	var b burst
	for _, r := range results {
		if r.ok() {
			continue
		}
		end := r.at.Add(r.dur)
		if b.failed == 0 || r.at.Before(b.first) {
			b.first = r.at
		}
		if b.failed == 0 || end.After(b.last) {
			b.last = end
		}
		b.failed++
	}
	return b
}

// windowP99 is the nearest-rank p99 of the latencies of the requests sent in [from, to), a
// failed request counting as slower than any bound; n is how many there were.
func windowP99(results []result, from, to time.Time) (p99 time.Duration, n int) {
	var lat []time.Duration
	for _, r := range results {
		if r.at.Before(from) || !r.at.Before(to) {
			continue
		}
		d := r.dur
		if !r.ok() {
			d = math.MaxInt64
		}
		lat = append(lat, d)
	}
	slices.Sort(lat)
	return load.Percentile(lat, 0.99), len(lat)
}

// latencyRecovery is how the latency came back after a fault ended at end: the start of the
// first window of requests sent after end (sliding by windowSlide) whose p99 keeps bound, as
// time after end. ok is false when no window up to the load's end does; last is then the p99
// of the last full window (-1: there was none).
func latencyRecovery(results []result, end time.Time, bound time.Duration) (after time.Duration, ok bool, last time.Duration) {
	var stop time.Time
	for _, r := range results {
		if r.at.After(stop) {
			stop = r.at
		}
	}
	last = -1
	for from := end; !from.Add(window).After(stop.Add(time.Nanosecond)); from = from.Add(windowSlide) {
		p99, n := windowP99(results, from, from.Add(window))
		if n < windowMin {
			continue
		}
		if p99 <= bound {
			return from.Sub(end), true, p99
		}
		last = p99
	}
	return 0, false, last
}

// latencyText says how the latency came back after the fault: "0.3 s", "not within the load
// (last window p99 80.1 ms)", or "-" for a scenario without a fault's end. When the load's p99
// before the fault (before; 0 unknown) was over the bound already, as on a busy machine, it
// also says when the p99 was back to that level.
func latencyText(results []result, end time.Time, before time.Duration) string {
	if end.IsZero() {
		return "-"
	}
	after, ok, last := latencyRecovery(results, end, latencyBound)
	if ok {
		return fmt.Sprintf("%.1f s", after.Seconds())
	}
	s := "not within the load"
	switch {
	case last < 0:
		return "no full window after the fault"
	case last == math.MaxInt64:
		s += " (failures in the last window)"
	default:
		s += fmt.Sprintf(" (last window p99 %s)", load.Millis(last))
	}
	if before > latencyBound && before != math.MaxInt64 {
		if after, ok, _ := latencyRecovery(results, end, before); ok {
			s += fmt.Sprintf("; back to the p99 before the fault (%s) after %.1f s", load.Millis(before), after.Seconds())
		} else {
			s += fmt.Sprintf("; not back to the p99 before the fault (%s) either", load.Millis(before))
		}
	}
	return s
}

// latencyText99 prints a window's p99, a failure in it as "a failure".
func latencyText99(p99 time.Duration) string {
	if p99 == math.MaxInt64 {
		return "a failure"
	}
	return load.Millis(p99)
}
