package load

import (
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"time"
)

// Bound is what a step must keep to count as sustained.
type Bound struct {
	P99       time.Duration // highest acceptable 99th percentile (default 25 ms)
	ErrorRate float64       // failures must stay below this share (default 0.01)
}

// Met reports whether r keeps within b, and if not, why.
func (b Bound) Met(r Result) (bool, string) {
	switch {
	case r.ErrorRate() >= b.ErrorRate:
		return false, fmt.Sprintf("errors %.1f%% (%s)", 100*r.ErrorRate(), r.ErrorSummary())
	case r.P99 > b.P99:
		return false, fmt.Sprintf("p99 %s > %s", Millis(r.P99), Millis(b.P99))
	}
	return true, ""
}

// Ramp searches an operation's sustainable rate: it multiplies the rate by Factor while the
// steps keep within Bound (divides it while they do not), then bisects between the highest
// passing and the lowest failing rate.
type Ramp struct {
	Start, Min, Max float64       // requests per second: first step, floor and ceiling of the search
	Factor          float64       // between steps of the first phase (default 2)
	Bisect          int           // refinement steps at most (default 3)
	Step            time.Duration // length of each step (default 3 s)
	Pause           time.Duration // between steps, for the system to settle (default 500 ms)
	Timeout         time.Duration // per request (default 5 s)
	Bound           Bound
	Procs           []Proc
	// Confirm runs a step that broke the bound once more, and counts it as broken only if it
	// breaks it again: on a shared machine a moment of someone else's work must not end a ramp.
	Confirm bool
	OnStep  func(r Result, ok bool, why string) // progress, may be nil
}

// Outcome is the result of a ramp.
type Outcome struct {
	Op      string
	Best    *Result  // the highest step that kept within the bound; nil when none did
	Steps   []Result // every step, in the order they ran
	Limit   string   // what broke at the lowest failing rate ("" when no step failed)
	Failing float64  // that rate (0 when no step failed)
	// Void says why the ramp measured nothing: a step failed for the caller's own requests
	// (ClientFaults), and the ramp stopped there. "" for a ramp that measured the server.
	Void string
}

// Sustained returns the requests per second of the best step (0 when none kept the bound).
func (o Outcome) Sustained() float64 {
	if o.Best == nil {
		return 0
	}
	return o.Best.Throughput
}

func (r *Ramp) defaults() {
	if r.Factor <= 1 {
		r.Factor = 2
	}
	if r.Bisect == 0 {
		r.Bisect = 3
	}
	if r.Step <= 0 {
		r.Step = 3 * time.Second
	}
	if r.Pause <= 0 {
		r.Pause = 500 * time.Millisecond
	}
	if r.Bound.P99 <= 0 {
		r.Bound.P99 = 25 * time.Millisecond
	}
	if r.Bound.ErrorRate <= 0 {
		r.Bound.ErrorRate = 0.01
	}
	if r.Min <= 0 {
		r.Min = 1
	}
	if r.Max <= 0 {
		r.Max = 100_000
	}
	if r.Start <= 0 {
		r.Start = r.Min
	}
}

// Run ramps op. The request index keeps growing over the steps, so an operation that must
// not repeat itself (a fresh id, a new citizen) never does: MaxRequests says how many indexes
// a ramp can use at most. A step with failures that are the caller's own (ClientFault: a 409
// for data used twice, a 400 for a bad generated request) ends the ramp at once with
// Outcome.Void set: such a step measures the load's data, not the server's capacity.
func (r Ramp) Run(ctx context.Context, op Op) Outcome {
	r.defaults()
	out := Outcome{Op: op.Name}
	var next int64
	once := func(rate float64) (Result, bool, string) {
		res := Run(ctx, op, Step{Rate: rate, Duration: r.Step, Timeout: r.Timeout, First: next, Procs: r.Procs})
		next += int64(res.Sent)
		out.Steps = append(out.Steps, res)
		ok, why := r.Bound.Met(res)
		if r.OnStep != nil {
			r.OnStep(res, ok, why)
		}
		return res, ok, why
	}
	r.search(func(rate float64) (bool, bool) {
		res, ok, why := once(rate)
		if v := res.ClientFaults(); v != "" {
			out.Void = fmt.Sprintf("the step at %s/s failed for the load's own requests, not the server's capacity: %s", rateText(rate), v)
			return false, false
		}
		if !ok && r.Confirm && ctx.Err() == nil {
			time.Sleep(r.Pause)
			res, ok, why = once(rate)
			if v := res.ClientFaults(); v != "" {
				out.Void = fmt.Sprintf("the step at %s/s failed for the load's own requests, not the server's capacity: %s", rateText(rate), v)
				return false, false
			}
		}
		if ok {
			best := res
			out.Best = &best
		} else if out.Failing == 0 || rate < out.Failing {
			out.Limit, out.Failing = why, rate
		}
		if ctx.Err() != nil {
			return ok, false
		}
		select {
		case <-ctx.Done():
			return ok, false
		case <-time.After(r.Pause):
		}
		return ok, true
	})
	return out
}

// search is the ramp's choice of rates: step runs a step at a rate and says whether it kept
// the bound and whether the search may go on. Run and MaxRequests share it, so that the bound
// on the requests is the ramp's own logic, not a copy of it.
func (r Ramp) search(step func(rate float64) (ok, more bool)) {
	lo, hi := 0.0, math.Inf(1) // highest passing, lowest failing
	try := func(rate float64) (bool, bool) {
		ok, more := step(rate)
		if ok {
			lo = rate
		} else if rate < hi {
			hi = rate
		}
		return ok, more
	}
	rate := r.Start
	for {
		ok, more := try(rate)
		if !more {
			return
		}
		switch {
		case ok && math.IsInf(hi, 1) && rate < r.Max:
			rate = math.Min(rate*r.Factor, r.Max)
			continue
		case !ok && lo == 0 && rate > r.Min:
			rate = math.Max(rate/r.Factor, r.Min)
			continue
		}
		break
	}
	for range r.Bisect {
		if lo == 0 || math.IsInf(hi, 1) || hi/lo < 1.15 {
			break
		}
		mid := (lo + hi) / 2
		if mid > 20 {
			mid = math.Round(mid)
		}
		if _, more := try(mid); !more {
			return
		}
	}
}

// StepRequests is the number of requests a step of rate over d schedules (as Run does).
func StepRequests(rate float64, d time.Duration) int64 {
	return int64(max(1, math.Round(rate*d.Seconds())))
}

// MaxRequests is the most requests the ramp can send to an operation, whatever the steps
// answer: the largest total over every sequence of passing and failing steps the search can
// take, each step counted twice when Confirm may run it again. An operation that needs a fresh
// datum per request (a new citizen to create) needs this many, or its last steps measure
// the data running out instead of the server.
func (r Ramp) MaxRequests() int64 {
	r.defaults()
	runs := int64(1)
	if r.Confirm {
		runs = 2
	}
	var worst int64
	// Depth-first over the outcomes: replay a prefix of outcomes, then branch on the next.
	var explore func(prefix []bool)
	explore = func(prefix []bool) {
		var total int64
		i, open := 0, false
		r.search(func(rate float64) (bool, bool) {
			total += runs * StepRequests(rate, r.Step)
			if i == len(prefix) {
				open = true
				return false, false
			}
			i++
			return prefix[i-1], true
		})
		if !open {
			worst = max(worst, total)
			return
		}
		explore(append(slices.Clone(prefix), true))
		explore(append(slices.Clone(prefix), false))
	}
	explore(nil)
	return worst
}

func rateText(rate float64) string { return strconv.FormatFloat(rate, 'f', -1, 64) }

// Millis formats a duration in milliseconds with one decimal: "12.3 ms".
func Millis(d time.Duration) string {
	return fmt.Sprintf("%.1f ms", float64(d)/float64(time.Millisecond))
}
