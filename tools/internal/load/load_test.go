package load

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func get(url string) func(ctx context.Context, i int64) (*http.Request, error) {
	return func(ctx context.Context, i int64) (*http.Request, error) {
		return http.NewRequestWithContext(ctx, http.MethodGet, url+"?i="+strconv.FormatInt(i, 10), nil)
	}
}

// A server slower than the arrival interval: a closed-loop client with one connection would
// send 10 requests in a second; the open-loop generator sends every one on schedule, and the
// server's delay shows in the latencies.
func TestRunKeepsScheduleAgainstSlowServer(t *testing.T) {
	t.Parallel()
	const delay = 100 * time.Millisecond
	var mu sync.Mutex
	var arrivals []time.Time
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		arrivals = append(arrivals, time.Now())
		mu.Unlock()
		time.Sleep(delay)
	}))
	defer srv.Close()

	begin := time.Now()
	r := Run(context.Background(), Op{Name: "slow", Do: HTTP(NewClient(), get(srv.URL))}, Step{Rate: 100, Duration: time.Second})

	if r.Sent != 100 || r.OK != 100 {
		t.Fatalf("sent %d, ok %d (%s: %s), want 100 and 100", r.Sent, r.OK, r.ErrorSummary(), r.FirstError)
	}
	mu.Lock()
	last := arrivals[len(arrivals)-1].Sub(begin)
	mu.Unlock()
	// The 100th request is due at 0.99 s; a generator waiting for answers would send it at ~10 s.
	if last > 1500*time.Millisecond {
		t.Errorf("last request arrived %s after the start, want about 1 s (on schedule)", last)
	}
	if r.P50 < delay {
		t.Errorf("p50 %s, want at least the server's delay %s", r.P50, delay)
	}
	if r.Throughput < 70 {
		t.Errorf("throughput %.1f/s, want about 100/s", r.Throughput)
	}
}

// One request in twenty is slow: it shows in p99 and max, not in p50.
func TestRunSlowTailShowsInP99(t *testing.T) {
	t.Parallel()
	const slow = 200 * time.Millisecond
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if i, _ := strconv.Atoi(r.URL.Query().Get("i")); i%20 == 0 {
			time.Sleep(slow)
		}
	}))
	defer srv.Close()

	r := Run(context.Background(), Op{Name: "tail", Do: HTTP(NewClient(), get(srv.URL))}, Step{Rate: 200, Duration: time.Second})

	if r.P99 < slow || r.Max < slow {
		t.Errorf("p99 %s, max %s, want both at least %s", r.P99, r.Max, slow)
	}
	if r.P50 >= slow/2 {
		t.Errorf("p50 %s, want well under %s", r.P50, slow)
	}
}

func TestRunCountsErrorsByStatus(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		i, _ := strconv.Atoi(r.URL.Query().Get("i"))
		switch {
		case i%10 == 0:
			w.WriteHeader(http.StatusServiceUnavailable)
		case i%25 == 1:
			time.Sleep(300 * time.Millisecond) // past the timeout
		}
	}))
	defer srv.Close()

	r := Run(context.Background(), Op{Name: "errors", Do: HTTP(NewClient(), get(srv.URL))},
		Step{Rate: 100, Duration: time.Second, Timeout: 100 * time.Millisecond})

	tests := []struct {
		kind string
		want int
	}{
		{"503", 10},    // i = 0, 10, ..., 90
		{"timeout", 4}, // i = 1, 26, 51, 76
	}
	for _, tc := range tests {
		if got := r.Errors[tc.kind]; got != tc.want {
			t.Errorf("errors[%s] = %d, want %d (all: %s)", tc.kind, got, tc.want, r.ErrorSummary())
		}
	}
	if got, want := r.OK, 86; got != want {
		t.Errorf("ok %d, want %d", got, want)
	}
	if got, want := r.ErrorSummary(), "503:10 timeout:4"; got != want {
		t.Errorf("summary %q, want %q", got, want)
	}
}

// limited refuses what comes beyond capacity requests per 100 ms window, as a rate limiter
// would: the ramp must settle between the last rate below the capacity and the capacity.
func limited(capacity int) Op {
	var window, count atomic.Int64
	start := time.Now()
	return Op{Name: "limited", Do: func(ctx context.Context, i int64) (int, error) {
		w := int64(time.Since(start) / (100 * time.Millisecond))
		if old := window.Load(); old != w && window.CompareAndSwap(old, w) {
			count.Store(0)
		}
		if count.Add(1) > int64(capacity/10) {
			return http.StatusTooManyRequests, errTooMany
		}
		return http.StatusOK, nil
	}}
}

type tooMany struct{}

func (tooMany) Error() string { return "too many" }

var errTooMany error = tooMany{}

func TestRampFindsCapacity(t *testing.T) {
	t.Parallel()
	var steps []float64
	ramp := Ramp{Start: 50, Factor: 2, Bisect: 3, Step: 300 * time.Millisecond, Pause: time.Millisecond,
		Bound:  Bound{P99: time.Second, ErrorRate: 0.01},
		OnStep: func(r Result, ok bool, why string) { steps = append(steps, r.Rate) }}
	out := ramp.Run(context.Background(), limited(300))

	if out.Best == nil {
		t.Fatalf("no step kept the bound; steps %v", steps)
	}
	if out.Best.Rate < 200 || out.Best.Rate > 300 {
		t.Errorf("best rate %.0f/s, want 200 to 300 (capacity 300/s); steps %v", out.Best.Rate, steps)
	}
	if out.Failing < 300 || out.Limit == "" {
		t.Errorf("failing rate %.0f (%q), want at least 300 with a reason", out.Failing, out.Limit)
	}
	if steps[0] != 50 || steps[1] != 100 || steps[2] != 200 || steps[3] != 400 {
		t.Errorf("steps %v, want 50, 100, 200, 400 then bisection", steps)
	}
}

func TestRampGoesDownWhenTheStartFails(t *testing.T) {
	t.Parallel()
	ramp := Ramp{Start: 400, Min: 25, Step: 300 * time.Millisecond, Pause: time.Millisecond, Bisect: 1,
		Bound: Bound{P99: time.Second, ErrorRate: 0.01}}
	out := ramp.Run(context.Background(), limited(150))
	if out.Best == nil || out.Best.Rate > 150 || out.Best.Rate < 75 {
		t.Errorf("best %v, want a rate from 75 to 150/s", out.Best)
	}
}

func TestMonitorMeasuresThisProcess(t *testing.T) {
	m := startMonitor([]Proc{{Name: "self", PID: os.Getpid()}})
	deadline := time.Now().Add(300 * time.Millisecond)
	x := 0
	for time.Now().Before(deadline) {
		x++
	}
	u := m.stop(300 * time.Millisecond)[0]
	if u.CPU < 50*time.Millisecond || u.CPU > time.Second {
		t.Errorf("cpu %s after 300 ms of busy loop, want 50 ms to 1 s (a shared machine gives less than all of it)", u.CPU)
	}
	if u.PeakRSS <= 0 || u.HWM < u.PeakRSS {
		t.Errorf("peak rss %d, hwm %d, want 0 < peak <= hwm", u.PeakRSS, u.HWM)
	}
	_ = x
}

func TestPercentile(t *testing.T) {
	var s []time.Duration
	for i := 1; i <= 100; i++ {
		s = append(s, time.Duration(i))
	}
	tests := []struct {
		name string
		p    float64
		want time.Duration
	}{
		{"p50", 0.50, 50},
		{"p95", 0.95, 95},
		{"p99", 0.99, 99},
		{"max", 1, 100},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := Percentile(s, tc.p); got != tc.want {
				t.Errorf("got %d, want %d", got, tc.want)
			}
		})
	}
}

// A moment of someone else's work breaks one step: with Confirm the step runs again and the
// ramp goes on up.
func TestRampConfirmsABrokenStep(t *testing.T) {
	t.Parallel()
	var calls atomic.Int64
	op := Op{Name: "hiccup", Do: func(ctx context.Context, i int64) (int, error) {
		if calls.Add(1) <= 15 {
			return http.StatusServiceUnavailable, errTooMany
		}
		return http.StatusOK, nil
	}}
	ramp := Ramp{Start: 50, Max: 100, Step: 300 * time.Millisecond, Pause: time.Millisecond, Confirm: true,
		Bound: Bound{P99: time.Second, ErrorRate: 0.01}}
	out := ramp.Run(context.Background(), op)
	var rates []float64
	for _, s := range out.Steps {
		rates = append(rates, s.Rate)
	}
	if len(rates) < 3 || rates[0] != 50 || rates[1] != 50 || rates[2] != 100 {
		t.Errorf("rates %v, want 50 (broken), 50 (again, kept), 100", rates)
	}
	if out.Best == nil || out.Best.Rate != 100 {
		t.Errorf("best %v, want the step at 100/s", out.Best)
	}
}
