// Package load drives an operation at a fixed arrival rate and ramps that rate to find the
// highest one the system sustains within a bound.
//
// The generator is open loop: the i-th request of a step is started at start + i/rate whether
// or not the earlier ones have been answered, and its latency is measured from that scheduled
// instant, not from when it was actually sent. A slow answer therefore never slows the
// arrivals down and never hides the requests that would have queued behind it (the
// "coordinated omission" of closed-loop tools, where a waiting client stops asking).
package load

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Op is an operation under load. Do performs the i-th request of a step (i counts from 0 over
// the whole ramp, so that an operation can pick a fresh id each time) and returns the HTTP
// status of the answer (0 when there was none) and an error when the request failed.
type Op struct {
	Name string
	Do   func(ctx context.Context, i int64) (int, error)
}

// HTTP returns an Op's Do that sends the request build makes with c, reads the body to its
// end and counts any status outside want (default 200) as a failure.
func HTTP(c *http.Client, build func(ctx context.Context, i int64) (*http.Request, error), want ...int) func(context.Context, int64) (int, error) {
	if len(want) == 0 {
		want = []int{http.StatusOK}
	}
	return func(ctx context.Context, i int64) (int, error) {
		req, err := build(ctx, i)
		if err != nil {
			return 0, err
		}
		resp, err := c.Do(req)
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
		if err != nil {
			return resp.StatusCode, fmt.Errorf("read body: %w", err)
		}
		if !slices.Contains(want, resp.StatusCode) {
			return resp.StatusCode, fmt.Errorf("status %d: %.200s", resp.StatusCode, body)
		}
		return resp.StatusCode, nil
	}
}

// NewClient returns an HTTP client for load: keep-alive connections, enough idle ones per
// host for the bursts of an open-loop generator, and no overall timeout (each request has its
// own deadline).
func NewClient() *http.Client {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = 2048
	t.MaxIdleConnsPerHost = 1024
	t.IdleConnTimeout = 30 * time.Second
	return &http.Client{Transport: t}
}

// Step is one fixed-rate run.
type Step struct {
	Rate        float64       // requests per second
	Duration    time.Duration // of the schedule
	Timeout     time.Duration // per request, from its scheduled start (default 5 s)
	MaxInFlight int           // arrivals beyond this many outstanding requests fail as "dropped" (default 20,000)
	First       int64         // index of the first request (Op.Do's i)
	Procs       []Proc        // processes whose CPU and memory are measured during the step
}

// Result is what a step measured. Latencies run from each request's scheduled start to its
// answer (or its timeout), failures included.
type Result struct {
	Op         string
	Rate       float64        // target arrivals per second
	Sent       int            // requests scheduled
	OK         int            // answered as wanted
	Errors     map[string]int // failures by status code, or "timeout", "transport", "dropped", "no data"
	FirstError string         // one failure's message, to say what went wrong
	// FirstClientFault is one message of a failure that was the caller's own (ClientFault).
	FirstClientFault string
	Elapsed          time.Duration // from the first scheduled start to the last answer
	Throughput       float64       // OK answers per second of Elapsed
	P50, P95         time.Duration
	P99, Max         time.Duration
	MaxLag           time.Duration // how late the generator itself started a request (its own health)
	Procs            []ProcUsage
}

// ErrorRate is the share of requests that failed.
func (r Result) ErrorRate() float64 {
	if r.Sent == 0 {
		return 0
	}
	return float64(r.Sent-r.OK) / float64(r.Sent)
}

// ErrorSummary lists the failures by kind, "-" when there were none: "503:12 timeout:3".
func (r Result) ErrorSummary() string {
	if len(r.Errors) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += " "
		}
		s += k + ":" + strconv.Itoa(r.Errors[k])
	}
	return s
}

// ErrNoData is what an Op's Do returns when it has no fresh datum left for request i (every
// synthetic resident created already): a failure of the load, never of the server.
var ErrNoData = errors.New("the load ran out of fresh data")

// ClientFault reports whether a failure (a key of Result.Errors) is the caller's own doing
// rather than the server's capacity failing: any 4xx status (a 409 for a resident created
// twice, a 400 or 422 for a request the generator made wrong, a 401 for a token gone stale, a
// 404 for an id that is not there) except 408 Request Timeout and 429 Too Many Requests,
// which a server answers when it cannot keep up. 5xx, timeouts, transport errors and dropped
// arrivals are capacity. "no data" (ErrNoData) is the caller's.
func ClientFault(kind string) bool {
	if kind == "no data" {
		return true
	}
	code, err := strconv.Atoi(kind)
	if err != nil {
		return false
	}
	return code >= 400 && code < 500 && code != http.StatusRequestTimeout && code != http.StatusTooManyRequests
}

// ClientFaults summarises the step's failures that are the caller's own (ClientFault), with
// one such failure's message: "409:12 (status 409: ...)". "" when there were none.
func (r Result) ClientFaults() string {
	keys := make([]string, 0, len(r.Errors))
	for k := range r.Errors {
		if ClientFault(k) {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return ""
	}
	slices.Sort(keys)
	s := ""
	for _, k := range keys {
		if s != "" {
			s += " "
		}
		s += k + ":" + strconv.Itoa(r.Errors[k])
	}
	if r.FirstClientFault != "" {
		s += " (" + r.FirstClientFault + ")"
	}
	return s
}

// Run runs one step of op: Rate × Duration requests on schedule, then waits for the last
// answers (each bounded by Timeout).
func Run(ctx context.Context, op Op, st Step) Result {
	if st.Timeout <= 0 {
		st.Timeout = 5 * time.Second
	}
	if st.MaxInFlight <= 0 {
		st.MaxInFlight = 20_000
	}
	n := int(math.Round(st.Rate * st.Duration.Seconds()))
	if n < 1 {
		n = 1
	}
	interval := time.Duration(float64(time.Second) / st.Rate)
	lat := make([]time.Duration, n)
	status := make([]string, n) // "" = OK
	var firstErr, firstFault atomic.Pointer[string]
	var inFlight atomic.Int64
	var wg sync.WaitGroup
	mon := startMonitor(st.Procs)

	start := time.Now().Add(5 * time.Millisecond)
	var maxLag time.Duration
	for k := range n {
		at := start.Add(time.Duration(k) * interval)
		if d := time.Until(at); d > 0 {
			select {
			case <-ctx.Done():
				n = k
			case <-time.After(d):
			}
		}
		if ctx.Err() != nil {
			n = k
			break
		}
		if lag := time.Since(at); lag > maxLag {
			maxLag = lag
		}
		if inFlight.Load() >= int64(st.MaxInFlight) {
			status[k], lat[k] = "dropped", st.Timeout // never answered: as bad as a timeout
			continue
		}
		inFlight.Add(1)
		wg.Add(1)
		go func(k int, at time.Time) {
			defer wg.Done()
			defer inFlight.Add(-1)
			rctx, cancel := context.WithDeadline(ctx, at.Add(st.Timeout))
			defer cancel()
			code, err := op.Do(rctx, st.First+int64(k))
			lat[k] = time.Since(at)
			if err == nil {
				return
			}
			switch {
			case errors.Is(err, ErrNoData):
				status[k] = "no data"
			case code != 0:
				status[k] = strconv.Itoa(code)
			case errors.Is(err, context.DeadlineExceeded) || rctx.Err() != nil:
				status[k] = "timeout"
			default:
				status[k] = "transport"
			}
			msg := err.Error()
			firstErr.CompareAndSwap(nil, &msg)
			if ClientFault(status[k]) {
				firstFault.CompareAndSwap(nil, &msg)
			}
		}(k, at)
	}
	wg.Wait()
	elapsed := time.Since(start)
	if d := st.Duration; elapsed < d {
		elapsed = d
	}
	lat, status = lat[:n], status[:n]

	r := Result{Op: op.Name, Rate: st.Rate, Sent: n, Elapsed: elapsed, MaxLag: maxLag, Procs: mon.stop(elapsed)}
	for _, s := range status {
		if s == "" {
			r.OK++
			continue
		}
		if r.Errors == nil {
			r.Errors = map[string]int{}
		}
		r.Errors[s]++
	}
	if p := firstErr.Load(); p != nil {
		r.FirstError = *p
	}
	if p := firstFault.Load(); p != nil {
		r.FirstClientFault = *p
	}
	r.Throughput = float64(r.OK) / elapsed.Seconds()
	slices.Sort(lat)
	r.P50, r.P95, r.P99 = Percentile(lat, 0.50), Percentile(lat, 0.95), Percentile(lat, 0.99)
	if len(lat) > 0 {
		r.Max = lat[len(lat)-1]
	}
	return r
}

// Percentile returns the nearest-rank p-quantile (0 < p <= 1) of sorted samples.
func Percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(math.Ceil(p*float64(len(sorted)))) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}
