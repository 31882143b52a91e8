package load

import (
	"context"
	"errors"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// The bound on the requests of a ramp, worked out by hand from its parameters.
func TestRampMaxRequests(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		ramp Ramp
		want int64
	}{
		// 50 passes, 100 (the ceiling) passes: 150. 50 passes, 100 fails, bisection at 75: 225.
		// 50 fails: halving to 1 (50+25+13+6+3+2+1 = 100), then at most one bisection below 50.
		{"ceiling reached", Ramp{Start: 50, Min: 1, Max: 100, Factor: 2, Bisect: 1, Step: time.Second}, 225},
		// The same ramp with every step possibly run twice.
		{"confirm doubles every step", Ramp{Start: 50, Min: 1, Max: 100, Factor: 2, Bisect: 1, Step: time.Second, Confirm: true}, 450},
		// 10, 20, 40 pass, 80 fails: bisect 60 passes, 70 passes (70/60 < 1.15 would stop a third): 10+20+40+80+60+70 = 280.
		{"two bisections", Ramp{Start: 10, Min: 10, Max: 80, Factor: 2, Bisect: 2, Step: time.Second}, 280},
		// A 3 s step: three times the requests of each rate.
		{"longer steps", Ramp{Start: 10, Min: 10, Max: 80, Factor: 2, Bisect: 2, Step: 3 * time.Second}, 840},
		// A start at the ceiling and the floor: one step, however it goes.
		{"a single step", Ramp{Start: 20, Min: 20, Max: 20, Step: time.Second}, 20},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := tc.ramp.MaxRequests(); got != tc.want {
				t.Errorf("MaxRequests() = %d, want %d", got, tc.want)
			}
		})
	}
}

// Whatever the steps answer, the ramp never sends more than MaxRequests: random outcomes
// through the ramp's own search, with csibench's parameters among others.
func TestRampNeverExceedsMaxRequests(t *testing.T) {
	t.Parallel()
	ramps := []Ramp{
		{Start: 50, Min: 1, Max: 5000, Factor: 2, Bisect: 2, Confirm: true, Step: 3 * time.Second},
		{Start: 20, Min: 1, Max: 5000, Factor: 2, Bisect: 2, Confirm: true, Step: 3 * time.Second},
		{Start: 100, Min: 5, Max: 700, Factor: 3, Bisect: 4, Step: 2 * time.Second},
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, r := range ramps {
		bound := r.MaxRequests()
		r.defaults()
		for range 2000 {
			var sent int64
			pass := rng.Float64()
			r.search(func(rate float64) (bool, bool) {
				n := StepRequests(rate, r.Step)
				ok := rng.Float64() < pass
				if !ok && r.Confirm {
					n *= 2
					ok = rng.Float64() < pass
				}
				sent += n
				return ok, true
			})
			if sent > bound {
				t.Fatalf("ramp %+v sent %d requests, more than its MaxRequests %d", r, sent, bound)
			}
		}
	}
}

// A real ramp's request indexes stay below MaxRequests.
func TestRampIndexesWithinMaxRequests(t *testing.T) {
	t.Parallel()
	var highest atomic.Int64
	op := Op{Name: "count", Do: func(ctx context.Context, i int64) (int, error) {
		for {
			h := highest.Load()
			if i <= h || highest.CompareAndSwap(h, i) {
				break
			}
		}
		return http.StatusOK, nil
	}}
	ramp := Ramp{Start: 100, Min: 10, Max: 800, Bisect: 2, Confirm: true, Step: 100 * time.Millisecond, Pause: time.Millisecond,
		Bound: Bound{P99: time.Second, ErrorRate: 0.01}}
	out := ramp.Run(context.Background(), op)
	var sent int64
	for _, s := range out.Steps {
		sent += int64(s.Sent)
	}
	if max := ramp.MaxRequests(); sent > max || highest.Load() >= max {
		t.Errorf("sent %d, highest index %d, want both below MaxRequests %d", sent, highest.Load(), max)
	}
}

func TestClientFault(t *testing.T) {
	t.Parallel()
	tests := []struct {
		kind string
		want bool
	}{
		{"409", true}, // the generator's resident created twice
		{"400", true}, // a request the generator made wrong
		{"422", true},
		{"401", true}, // the load's token
		{"404", true},
		{"408", false}, // the server gave up waiting: capacity
		{"429", false}, // the server sheds load: capacity
		{"500", false},
		{"503", false},
		{"timeout", false},
		{"transport", false},
		{"dropped", false},
		{"no data", true}, // ErrNoData: the generator ran out
	}
	for _, tc := range tests {
		if got := ClientFault(tc.kind); got != tc.want {
			t.Errorf("ClientFault(%q) = %v, want %v", tc.kind, got, tc.want)
		}
	}
}

// An operation that runs out of data answers 409 from some request on: the ramp stops at
// that step and says the bench is void, instead of reporting a broken bound.
func TestRampVoidOnClientFaults(t *testing.T) {
	t.Parallel()
	errDup := errors.New("status 409: a citizen with this fiscal_code exists already")
	tests := []struct {
		name     string
		status   int
		wantVoid bool
	}{
		{"409 from the data", http.StatusConflict, true},
		{"400 from a bad generated request", http.StatusBadRequest, true},
		{"503 from the server", http.StatusServiceUnavailable, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			op := Op{Name: "create", Do: func(ctx context.Context, i int64) (int, error) {
				if i >= 20 { // the data lasts for 20 requests: the first step (30) runs out
					return tc.status, errDup
				}
				return http.StatusCreated, nil
			}}
			ramp := Ramp{Start: 100, Min: 50, Max: 400, Bisect: 1, Confirm: true, Step: 300 * time.Millisecond, Pause: time.Millisecond,
				Bound: Bound{P99: time.Second, ErrorRate: 0.01}}
			out := ramp.Run(context.Background(), op)
			if got := out.Void != ""; got != tc.wantVoid {
				t.Fatalf("void %q, want void %v", out.Void, tc.wantVoid)
			}
			if !tc.wantVoid {
				return
			}
			if len(out.Steps) != 1 {
				t.Errorf("%d steps ran, want the ramp to stop at the first (void) one", len(out.Steps))
			}
			if !strings.Contains(out.Void, "409") && !strings.Contains(out.Void, "400") || !strings.Contains(out.Void, "100/s") {
				t.Errorf("void %q, want the status and the step's rate named", out.Void)
			}
		})
	}
}
