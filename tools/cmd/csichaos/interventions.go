package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/ivload"
)

// Interventions' scenarios write visits as a cooperative's system does: the bench cooperative's
// machine client (visits:write, tools/internal/ivload), each visit a slot of its own in a
// calendar of the cooperative's 60 operators, so that the overlap rule never refuses the load's
// own visits and a visit stored twice would be seen (two rows of one operator and start).
const (
	opBatch = "visits batch"
	opVisit = "visit create"
	// ivBatchSize is a batch of scenario h: big enough that a kill falls in the middle of one.
	ivBatchSize = 500
)

// ivChaos is the interventions load: its setup, calendars and token.
type ivChaos struct {
	st    ivload.Setup
	cals  []ivload.Calendar // scenario h's, scenario i's
	base  string
	http  *http.Client
	token atomic.Pointer[string]
}

// interventions prepares the interventions load once: the cooperative, its operators, client
// and authorizations, the visits of an earlier run removed.
func (e *env) interventions(ctx context.Context) (*ivChaos, error) {
	if e.iv != nil {
		return e.iv, e.iv.refresh(ctx, e)
	}
	if e.s.URL("interventions") == "" {
		return nil, fmt.Errorf("interventions is not running in this checkout")
	}
	st, err := ivload.Prepare(ctx, e.s, 20250101, e.log)
	if err != nil {
		return nil, err
	}
	if n, err := ivload.ResetVisits(ctx, e.s.DatabaseURL("interventions"), st.WriteCoop); err != nil {
		return nil, err
	} else if n > 0 {
		e.logf("removed the %d visits an earlier run wrote", n)
	}
	cals, err := ivload.Calendars(4_000_000, 400_000)
	if err != nil {
		return nil, err
	}
	iv := &ivChaos{st: st, cals: cals, base: e.s.URL("interventions"), http: &http.Client{Transport: e.t.http.Transport}}
	if err := iv.refresh(ctx, e); err != nil {
		return nil, err
	}
	e.iv = iv
	return iv, nil
}

func (iv *ivChaos) refresh(ctx context.Context, e *env) error {
	tok, err := idclient.New(e.s.URL("identity"), nil).ClientCredentials(ctx, iv.st.ClientID, iv.st.Secret)
	if err != nil {
		return fmt.Errorf("token of the bench cooperative's client: %w", err)
	}
	iv.token.Store(&tok.AccessToken)
	return nil
}

// ivAnswer is what the load keeps of a 2xx answer: the visits stored, and the items refused.
type ivAnswer struct {
	ids     []string
	refused []string // "index: status problem"
}

// post sends one visits request (a batch or a single visit) with its key.
func (iv *ivChaos) post(ctx context.Context, op, path string, body []byte, key string) (result, ivAnswer) {
	r := result{op: op, at: time.Now(), body: body, key: key}
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, iv.base+path, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+*iv.token.Load())
	req.Header.Set("Idempotency-Key", key)
	resp, err := iv.http.Do(req)
	if err != nil {
		r.dur, r.err = time.Since(r.at), err.Error()
		return r, ivAnswer{}
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.dur, r.status, r.retryAfter = time.Since(r.at), resp.StatusCode, resp.Header.Get("Retry-After")
	r.replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	var a ivAnswer
	switch {
	case !r.ok():
		r.err = fmt.Sprintf("%.200s", b)
	case op == opVisit:
		var v struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &v) == nil && v.ID != "" {
			a.ids, r.id = []string{v.ID}, v.ID
		}
	default:
		var br struct {
			Results []struct {
				Index   int                 `json:"index"`
				Status  int                 `json:"status"`
				Visit   struct{ ID string } `json:"visit"`
				Problem json.RawMessage     `json:"problem"`
			} `json:"results"`
		}
		if err := json.Unmarshal(b, &br); err != nil {
			a.refused = append(a.refused, "the answer: "+err.Error())
		}
		for _, it := range br.Results {
			if it.Status == http.StatusCreated && it.Visit.ID != "" {
				a.ids = append(a.ids, it.Visit.ID)
			} else {
				a.refused = append(a.refused, fmt.Sprintf("%d: %d %.200s", it.Index, it.Status, it.Problem))
			}
		}
	}
	return r, a
}

// untilDone sends a request and, while the answer is retryable (no answer, 5xx, 409, 429),
// sends it again with the same key (after Retry-After, or 100 ms), for retryBudget at most.
func (iv *ivChaos) untilDone(ctx context.Context, op, path string, body []byte, key string) (first result, again []result, ans ivAnswer) {
	first, ans = iv.post(ctx, op, path, body, key)
	r := first
	deadline := time.Now().Add(retryBudget)
	for !r.ok() && retryable(r) && time.Now().Before(deadline) && ctx.Err() == nil {
		wait := 100 * time.Millisecond
		if s, err := strconv.Atoi(r.retryAfter); err == nil && s > 0 {
			wait = time.Duration(min(s, 5)) * time.Second
		}
		sleep(ctx, wait)
		r, ans = iv.post(ctx, op, path, body, key)
		again = append(again, r)
	}
	return first, again, ans
}

// readBackVisits counts, in interventions' database, the visits of a calendar: the ids
// answered that are not there (lost), the rows beyond the first of an operator and start
// (duplicated), and the rows no answer named (stored without an acknowledgement).
func readBackVisits(ctx context.Context, dbURL string, coop uuid.UUID, cal ivload.Calendar, ids []string) (writes, error) {
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return writes{}, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	last := cal.First.AddDate(0, 0, cal.Days-1)
	w := writes{acked: len(ids)}
	var rows, distinct, named int
	if err := conn.QueryRow(ctx, `SELECT count(*), count(DISTINCT (operator_id, starts_at)), count(*) FILTER (WHERE id::text = ANY($4))
		FROM visits WHERE cooperative_id = $1 AND day BETWEEN $2 AND $3`, coop, cal.First, last, ids).Scan(&rows, &distinct, &named); err != nil {
		return w, err
	}
	var found int
	if err := conn.QueryRow(ctx, `SELECT count(*) FROM visits WHERE id::text = ANY($1)`, ids).Scan(&found); err != nil {
		return w, err
	}
	w.rows, w.lost, w.duplicated, w.unacked = rows, len(uniq(ids))-found, rows-distinct, rows-named
	return w, nil
}

func uniq(ids []string) []string {
	s := slices.Clone(ids)
	slices.Sort(s)
	return slices.Compact(s)
}

// h. The interventions service is killed with SIGKILL three times while cooperatives' systems
// post batches of visits and retry each with the same Idempotency-Key until it gets a 2xx. A
// kill falls in the middle of batches: before their transaction commits, between the commit and
// the stored answer, after both. Every batch must end 200 with every visit stored (a retry that
// ran the batch again would find its own visits stored and refuse them as overlaps), every
// visit answered must be in the database once: 0 lost, 0 duplicated by (operator, start).
func interventionsKilled(ctx context.Context, e *env) outcome {
	o := outcome{}
	iv, err := e.interventions(ctx)
	if err != nil {
		o.failf("%v", err)
		return o
	}
	cal := iv.cals[0]
	var inFlight atomic.Int64
	type kill struct{ at, readyAt time.Time }
	var kills []kill
	began := time.Now()
	var fault sync.WaitGroup
	fault.Go(func() {
		sleep(ctx, e.at())
		for i := range 3 {
			if i > 0 {
				sleep(ctx, e.dur/8)
			}
			for w := 0; inFlight.Load() == 0 && w < 100 && ctx.Err() == nil; w++ {
				sleep(ctx, 20*time.Millisecond) // a batch in flight: mid-batch
			}
			k := kill{at: time.Now()}
			if i == 0 {
				o.faultStart = k.at
			}
			if err := e.s.Signal("interventions", syscall.SIGKILL); err != nil {
				o.failf("kill interventions: %v", err)
				return
			}
			_ = e.s.Wait("interventions")
			e.logf("interventions killed (SIGKILL, %d of 3) with %d batches in flight", i+1, inFlight.Load())
			sleep(ctx, time.Second)
			if err := e.s.Restart(ctx, "interventions"); err != nil {
				o.failf("restart interventions: %v", err)
				return
			}
			k.readyAt = time.Now()
			o.faultEnd = k.readyAt
			kills = append(kills, k)
			e.logf("interventions ready again")
		}
	})

	var (
		mu       sync.Mutex
		wg       sync.WaitGroup
		ids      []string
		refused  []string
		failed   int
		replayed int
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.rate))
	end := time.After(e.dur)
loop:
	for k := int64(0); ; k++ {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		items := make([]map[string]any, 0, ivBatchSize)
		for j := range ivBatchSize {
			// The first half of the operators only: scenario i needs operators interventions
			// has never asked identity about.
			op, n := ivload.BatchSlot(k, j, ivBatchSize, len(iv.st.Operators)/2)
			v, err := iv.st.VisitOf(cal, op, n)
			if err != nil {
				o.failf("the load ran out of slots: %v", err)
				break loop
			}
			items = append(items, v)
		}
		body, _ := json.Marshal(map[string]any{"visits": items})
		wg.Go(func() {
			inFlight.Add(1)
			first, again, ans := iv.untilDone(ctx, opBatch, "/v1/visits:batch", body, uuid.NewString())
			inFlight.Add(-1)
			mu.Lock()
			defer mu.Unlock()
			o.results = append(o.results, first)
			o.retries = append(o.retries, again...)
			last := first
			if len(again) > 0 {
				last = again[len(again)-1]
			}
			if !last.ok() {
				failed++
				return
			}
			for _, r := range again {
				if r.replayed {
					replayed++
				}
			}
			ids = append(ids, ans.ids...)
			refused = append(refused, ans.refused...)
		})
	}
	tick.Stop()
	wg.Wait()
	fault.Wait()
	o.rate = float64(len(o.results)) / min(time.Since(began), e.dur).Seconds()
	e.waitReady(ctx)

	w, err := readBackVisits(ctx, e.s.DatabaseURL("interventions"), iv.st.WriteCoop, cal, ids)
	o.judge(w, err, "visits", "201", "operator, start")
	if len(kills) < 3 {
		o.failf("only %d of 3 kills done", len(kills))
	}
	if failed > 0 {
		o.failf("%d batches never got a 2xx in %s of retries with their key", failed, retryBudget)
	}
	if len(refused) > 0 {
		o.failf("%d visits of batches answered 200 were refused (first: %s): a retry ran its batch again", len(refused), refused[0])
	}
	var downs []string
	for i, k := range kills {
		downs = append(downs, fmt.Sprintf("%d. at +%.1f s, ready again %.2f s later", i+1, k.at.Sub(o.faultStart).Seconds(), k.readyAt.Sub(k.at).Seconds()))
	}
	retried := 0
	for _, r := range o.results {
		if !r.ok() {
			retried++
		}
	}
	o.notef("batches of %d visits at %.1f batches/s (%.0f visits/s) by the bench cooperative's machine client, each retried with its key until a 2xx",
		ivBatchSize, e.rate, e.rate*ivBatchSize)
	o.notef("kills (SIGKILL with a batch in flight, restart after 1 s): %s", strings.Join(downs, "; "))
	o.notef("batches: %d; %d needed more than one attempt; %d further attempts, by status: %s; %d answered as replays (Idempotent-Replayed)",
		len(o.results), retried, len(o.retries), formatCounts(statusCounts(o.retries)), replayed)
	o.notef("visits answered 201: %d; in the database for the scenario's days: %d rows, %d distinct (operator, start)", len(uniq(ids)), w.rows, w.rows-w.duplicated)
	if len(kills) > 0 {
		o.recovery = fmt.Sprintf("%.2f s (the last kill to ready)", kills[len(kills)-1].readyAt.Sub(kills[len(kills)-1].at).Seconds())
	}
	return o
}

// i. Identity is stopped while visits are posted one at a time: a visit whose operator's
// profiles interventions holds in its cache (answered within CSI_INTERVENTIONS_OPERATOR_TTL) is
// stored as ever; one whose operator it has never asked about answers 503 with Retry-After and
// stores nothing. Identity comes back; every visit refused is sent again with its key and must
// now be stored (not a replay of the 503). Every visit answered 201 is in the database once.
func identityDownVisits(ctx context.Context, e *env) outcome {
	o := outcome{}
	iv, err := e.interventions(ctx)
	if err != nil {
		o.failf("%v", err)
		return o
	}
	cal := iv.cals[1]
	half := len(iv.st.Operators) / 2
	// The first half of the operators: asked about once, so their answers are cached.
	var ids []string
	for op := range half {
		v, _ := iv.st.VisitOf(cal, op, 0)
		body, _ := json.Marshal(v)
		r, a := iv.post(ctx, opVisit, "/v1/visits", body, uuid.NewString())
		if !r.ok() {
			o.failf("warm-up visit of operator %d: status %d %s", op, r.status, r.err)
			return o
		}
		ids = append(ids, a.ids...)
	}
	var downAt, restartAt, upAt time.Time
	var down atomic.Bool // identity is stopped: the odd requests name operators never asked about
	began := time.Now()
	var fault sync.WaitGroup
	fault.Go(func() {
		sleep(ctx, e.at())
		if err := e.s.Signal("identity", syscall.SIGTERM); err != nil {
			o.failf("%v", err)
			return
		}
		_ = e.s.Wait("identity")
		downAt = time.Now()
		down.Store(true)
		e.logf("identity stopped")
		sleep(ctx, e.dur/2)
		restartAt = time.Now()
		down.Store(false)
		if err := e.s.Restart(ctx, "identity"); err != nil {
			o.failf("restart identity: %v", err)
			return
		}
		upAt = time.Now()
		e.logf("identity ready again")
	})
	var (
		mu      sync.Mutex
		wg      sync.WaitGroup
		answers = map[string]ivAnswer{} // by key
		cached  = map[string]bool{}     // by key: the operator's answer was cached before the outage
	)
	tick := time.NewTicker(time.Duration(float64(time.Second) / e.rate))
	end := time.After(e.dur)
	next := make([]int64, len(iv.st.Operators))
loop:
	for k := 0; ; k++ {
		select {
		case <-ctx.Done():
			break loop
		case <-end:
			break loop
		case <-tick.C:
		}
		// Even requests, and every request while identity is up: an operator of the cached
		// half; odd requests while identity is down: one of the other half, never asked about
		// (a refused visit caches nothing).
		op := (k / 2) % half
		if k%2 == 1 && down.Load() {
			op = half + (k/2)%(len(iv.st.Operators)-half)
		}
		next[op]++
		v, err := iv.st.VisitOf(cal, op, next[op])
		if err != nil {
			o.failf("the load ran out of slots: %v", err)
			break loop
		}
		body, _ := json.Marshal(v)
		key := uuid.NewString()
		wg.Go(func() {
			r, a := iv.post(ctx, opVisit, "/v1/visits", body, key)
			mu.Lock()
			defer mu.Unlock()
			o.results = append(o.results, r)
			answers[key] = a
			cached[key] = op < half
		})
	}
	tick.Stop()
	wg.Wait()
	fault.Wait()
	o.faultStart, o.faultEnd = downAt, upAt
	o.rate = float64(len(o.results)) / min(time.Since(began), e.dur).Seconds()
	if downAt.IsZero() || upAt.IsZero() {
		return o
	}
	e.waitReady(ctx)

	var refused []result
	var cachedDuring, cachedOK, freshDuring, slowest = 0, 0, 0, time.Duration(0)
	for _, r := range o.results {
		during := !r.at.Before(downAt) && r.at.Before(upAt)
		near := r.at.After(downAt.Add(-time.Second)) && r.at.Before(upAt.Add(time.Second))
		if during && cached[r.key] {
			cachedDuring++
			if r.ok() {
				cachedOK++
			}
		}
		if during && !cached[r.key] {
			freshDuring++
		}
		if r.ok() {
			ids = append(ids, answers[r.key].ids...)
			continue
		}
		slowest = max(slowest, r.dur)
		switch {
		case cached[r.key]:
			o.failf("a visit of an operator whose answer was cached failed: status %d %s", r.status, r.err)
		case r.status != http.StatusServiceUnavailable || r.retryAfter == "":
			o.failf("a visit answered status %d Retry-After %q %s: want 503 with Retry-After", r.status, r.retryAfter, r.err)
		case !near:
			o.failf("a visit answered 503 outside the outage, at %s", r.at.Format("15:04:05.000"))
		}
		refused = append(refused, r)
	}
	if freshDuring == 0 || cachedDuring == 0 {
		o.failf("during the outage %d visits of cached and %d of other operators were sent: the scenario tested nothing", cachedDuring, freshDuring)
	}
	before, err := readBackVisits(ctx, e.s.DatabaseURL("interventions"), iv.st.WriteCoop, cal, ids)
	if err != nil {
		o.failf("reading back: %v", err)
		return o
	}
	if before.unacked > 0 {
		o.failf("%d visits answered 503 were stored nonetheless", before.unacked)
	}
	var replayed int
	for _, r := range refused {
		again, a := iv.post(ctx, opVisit, "/v1/visits", r.body, r.key)
		o.retries = append(o.retries, again)
		if again.replayed {
			replayed++
		}
		if !again.ok() {
			o.failf("a visit refused during the outage, sent again with its key: status %d %s", again.status, again.err)
			continue
		}
		ids = append(ids, a.ids...)
	}
	if replayed > 0 {
		o.failf("%d retries after the outage got a replayed answer: a 503 was kept under its Idempotency-Key", replayed)
	}
	w, err := readBackVisits(ctx, e.s.DatabaseURL("interventions"), iv.st.WriteCoop, cal, ids)
	o.judge(w, err, "visits", "201", "operator, start")
	o.recovery = fmt.Sprintf("%.2f s (identity restart to ready)", upAt.Sub(restartAt).Seconds())
	o.notef("single visits (POST /v1/visits) at %.0f/s of the %d operators asked about before the outage (cached), and while identity was down every other one of the %d others, never asked about",
		e.rate, half, len(iv.st.Operators)-half)
	o.notef("identity down %.1f s: %d visits of cached operators sent, %d stored; %d of the others sent, %d answered 503 with Retry-After (slowest %d ms)",
		upAt.Sub(downAt).Seconds(), cachedDuring, cachedOK, freshDuring, len(refused), slowest.Milliseconds())
	o.notef("before the retries the database held %d visits of the scenario's days for %d answered 201, none of the %d refused",
		before.rows, before.acked, len(refused))
	o.notef("the %d refused visits sent again with their keys after the outage: %s (replays of the 503: %d)",
		len(refused), formatCounts(statusCounts(o.retries)), replayed)
	if len(o.problems) > 6 {
		o.problems = append(o.problems[:6], fmt.Sprintf("... and %d more", len(o.problems)-6))
	}
	return o
}

// ivOffers are the interventions scenarios' loads: half of what BENCHMARKS.md's visits batch
// (in visits, for scenario h's batches of ivBatchSize) and visit create sustain, or 2 batches/s
// and 20 visits/s when it has no figure.
func ivOffers(bench benchReport) map[string]offer {
	out := map[string]offer{"interventions-batch": {rate: 2, source: "no figure for visits batch in BENCHMARKS.md: 2 batches/s"},
		"interventions-visit": {rate: 20, source: "no figure for visit create in BENCHMARKS.md: 20/s"},
		"interventions-docs":  {rate: 5, source: "5 uploads a second (documents are few: no bench figure)"}}
	if r := bench.sustained[opBatch]; r > 0 {
		rate := max(0.5, r*1000/ivBatchSize/2)
		out["interventions-batch"] = offer{rate: rate, sustained: r * 1000 / ivBatchSize,
			source: fmt.Sprintf("half of %.0f visits/s (BENCHMARKS.md visits batch, %.1f batches of 1,000 a second), in batches of %d", r*1000, r, ivBatchSize)}
	}
	if r := bench.sustained[opVisit]; r > 0 {
		out["interventions-visit"] = offer{rate: r / 2, sustained: r, source: fmt.Sprintf("half of %.0f/s (BENCHMARKS.md visit create)", r)}
	}
	return out
}
