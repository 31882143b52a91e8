package main

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/suite"
)

// env is what the scenarios work with.
type env struct {
	s        *suite.Suite
	t        *target
	px       *proxy
	rate     float64
	dur      time.Duration
	log      io.Writer
	email    string // the demo social worker, whose token the load uses
	password string
	iv       *ivChaos  // interventions' load, prepared by the first scenario that needs it
	s3       *s3Switch // between interventions and S3 (nil: no S3 server given)
}

// outcome is one scenario's figures and verdict.
type outcome struct {
	key, title string
	rate       float64 // requests sent per second
	offered    offer   // the arrival rate asked for, and where it came from
	results    []result
	retries    []result // the further attempts of retried creates (scenarios d, f, g)
	// The fault: from its first blow to the moment everything it took away was back (zero
	// end: a scenario whose fault lasts the whole load).
	faultStart, faultEnd time.Time
	before               time.Duration // the load's p99 over the quarter before the fault (0: unknown)
	w                    writes
	recovery             string
	notes                []string
	problems             []string // why the scenario failed its check; none when it passed
}

func (o *outcome) notef(format string, args ...any) {
	o.notes = append(o.notes, fmt.Sprintf(format, args...))
}
func (o *outcome) failf(format string, args ...any) {
	o.problems = append(o.problems, fmt.Sprintf(format, args...))
}

// failures counts the results that were not 2xx, by status ("no answer" for none).
func failures(results []result) map[string]int {
	out := map[string]int{}
	for _, r := range results {
		switch {
		case r.ok():
		case r.status == 0:
			out["no answer"]++
		default:
			out[strconv.Itoa(r.status)]++
		}
	}
	return out
}

func (e *env) logf(format string, args ...any) {
	fmt.Fprintf(e.log, "\033[1m==>\033[0m "+format+"\n", args...)
}

// scenario is one fault under load; mix is the load it runs under ("registry" or "intake").
type scenario struct {
	key, title string
	mix        string
	run        func(ctx context.Context, e *env) outcome
}

var scenarios = []scenario{
	{"a", "Redis killed (SIGKILL) and restarted", "registry", redisKilled},
	{"b", "PostgreSQL restarted", "registry", postgresRestarted},
	{"c", "SIGTERM to a registry instance under load", "registry", sigterm},
	{"d", "client times out and retries a create with the same Idempotency-Key", "registry", retryingClient},
	{"e", "identity (the JWKS endpoint) unreachable", "registry", jwksUnreachable},
	{"f", "registry down during access creation (intake)", "intake", registryDown},
	{"g", "registry instances killed (SIGKILL) 3 times under retried idempotent creates", "registry", registryKilled},
	{"h", "interventions killed (SIGKILL) 3 times mid-batch under retried idempotent visits:batch", "interventions-batch", interventionsKilled},
	{"i", "identity down while visits are recorded (interventions)", "interventions-visit", identityDownVisits},
	{"j", "S3 unreachable during document uploads (interventions)", "interventions-docs", s3Down},
}

// mixes are the loads' cycles by name.
var mixes = map[string][]string{"registry": mix, "intake": intakeMix}

// under runs the load for e.dur with fault running beside it, then reads the writes back.
// Token requests are sent while tokens is true.
func (e *env) under(ctx context.Context, o *outcome, tokens *atomic.Bool, fault func(ctx context.Context)) {
	e.underWith(ctx, o, loadOptions{tokens: tokens.Load}, fault)
}

// underWith is under with the load's options.
func (e *env) underWith(ctx context.Context, o *outcome, lo loadOptions, fault func(ctx context.Context)) {
	if err := e.t.signIn(ctx, e.email, e.password); err != nil {
		o.failf("%v", err)
		return
	}
	began := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() { fault(ctx) })
	results, retries := e.t.load(ctx, e.rate, e.dur, mix, lo)
	wg.Wait()
	o.results = results
	o.retries = append(o.retries, retries...)
	o.rate = float64(len(o.results)) / min(time.Since(began), e.dur).Seconds() // arrivals over the schedule (retries may outlast it)
	e.waitReady(ctx)
	w, err := checkWrites(ctx, e.s.DatabaseURL("registry"), e.t, append(slices.Clone(o.results), o.retries...))
	o.judge(w, err, "writes", "2xx", "")
}

// noFailures fails o when a request of the load did not answer 2xx.
func noFailures(o *outcome) {
	if f := failures(o.results); len(f) > 0 {
		o.failf("requests failed: %s", formatCounts(f))
		for _, r := range o.results {
			if !r.ok() {
				o.notef("first failure: %s at +%s: status %d %s", r.op, r.at.Format("15:04:05.000"), r.status, r.err)
				break
			}
		}
	}
}

// waitReady waits (up to a minute) until every instance answers /readyz 200.
func (e *env) waitReady(ctx context.Context) time.Duration {
	began := time.Now()
	for time.Since(began) < time.Minute && ctx.Err() == nil {
		if e.allReady(ctx) {
			break
		}
		sleep(ctx, 50*time.Millisecond)
	}
	return time.Since(began)
}

func (e *env) allReady(ctx context.Context) bool {
	for _, name := range e.s.Services() {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, e.s.URL(name)+"/readyz", nil)
		resp, err := e.t.http.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			return false
		}
	}
	return true
}

func sleep(ctx context.Context, d time.Duration) {
	select {
	case <-ctx.Done():
	case <-time.After(d):
	}
}

func on() *atomic.Bool {
	b := &atomic.Bool{}
	b.Store(true)
	return b
}

// at is the moment of a scenario's fault: a quarter into the load.
func (e *env) at() time.Duration { return e.dur / 4 }

// a. Redis is killed and comes back; the cache is only a cache, no request may fail.
func redisKilled(ctx context.Context, e *env) outcome {
	o := outcome{}
	e.under(ctx, &o, on(), func(ctx context.Context) {
		sleep(ctx, e.at())
		pidFile := filepath.Join(e.s.RunDir(), "redis", "redis.pid")
		b, err := os.ReadFile(pidFile)
		pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
		if err != nil || pid <= 0 {
			o.failf("no Redis pid in %s: %v", pidFile, err)
			return
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			o.failf("kill Redis: %v", err)
			return
		}
		e.logf("Redis killed (pid %d)", pid)
		down := time.Now()
		o.faultStart = down
		sleep(ctx, e.dur/4)
		if _, err := e.s.Script(ctx, "redis.sh", "start"); err != nil {
			o.failf("restart Redis: %v", err)
			return
		}
		o.faultEnd = time.Now()
		e.logf("Redis restarted")
		o.notef("Redis was down %.1f s (SIGKILL, then scripts/redis.sh start)", time.Since(down).Seconds())
	})
	o.recovery = "none needed"
	noFailures(&o)
	return o
}

// b. PostgreSQL stops and starts again: while it is down the services answer 503 with
// Retry-After at once; they are ready again soon after it is back, without a restart.
func postgresRestarted(ctx context.Context, e *env) outcome {
	o := outcome{}
	var downAt, upAt time.Time
	var ready time.Duration
	e.under(ctx, &o, on(), func(ctx context.Context) {
		sleep(ctx, e.at())
		downAt = time.Now()
		if _, err := e.s.Script(ctx, "postgres.sh", "stop"); err != nil {
			o.failf("stop PostgreSQL: %v", err)
			return
		}
		e.logf("PostgreSQL stopped (%.1f s)", time.Since(downAt).Seconds())
		sleep(ctx, e.dur/4)
		if _, err := e.s.Script(ctx, "postgres.sh", "start"); err != nil {
			o.failf("start PostgreSQL: %v", err)
			return
		}
		upAt = time.Now()
		o.faultStart, o.faultEnd = downAt, upAt
		ready = e.waitReady(ctx)
		e.logf("PostgreSQL back; every service ready %.2f s later", ready.Seconds())
	})
	if upAt.IsZero() {
		return o
	}
	firstWrite := time.Duration(-1)
	var slowest time.Duration
	for _, r := range o.results {
		if r.op == opCreate && r.ok() && r.at.After(upAt) && (firstWrite < 0 || r.at.Sub(upAt) < firstWrite) {
			firstWrite = r.at.Sub(upAt)
		}
		if r.ok() {
			continue
		}
		if r.dur > slowest {
			slowest = r.dur
		}
		switch {
		case r.status != http.StatusServiceUnavailable || r.retryAfter == "":
			o.failf("a failure other than 503 with Retry-After: %s status %d Retry-After %q %s", r.op, r.status, r.retryAfter, r.err)
		case r.at.Before(downAt.Add(-time.Second)) || r.at.After(upAt.Add(ready+time.Second)):
			o.failf("a 503 outside the outage: %s at %s", r.op, r.at.Format("15:04:05.000"))
		}
	}
	o.recovery = fmt.Sprintf("%.2f s", ready.Seconds())
	o.notef("PostgreSQL down %.1f s (scripts/postgres.sh stop, then start)", upAt.Sub(downAt).Seconds())
	o.notef("every service ready again %.2f s after PostgreSQL was back, without a restart; first write answered 2xx %.2f s after", ready.Seconds(), firstWrite.Seconds())
	o.notef("slowest failed request: %d ms (fail fast)", slowest.Milliseconds())
	if slowest > 2*time.Second {
		o.failf("a failed request took %s: not failing fast", slowest)
	}
	if ready > 10*time.Second {
		o.failf("ready again only %s after PostgreSQL was back", ready)
	}
	if len(o.problems) > 5 {
		o.problems = append(o.problems[:5], fmt.Sprintf("... and %d more", len(o.problems)-5))
	}
	return o
}

// c. SIGTERM to one of two registry instances behind the readiness-aware proxy: it leaves
// readiness first, then finishes what is in flight; no request fails. It is started again.
func sigterm(ctx context.Context, e *env) outcome {
	o := outcome{}
	const inst = "registry-2"
	e.under(ctx, &o, on(), func(ctx context.Context) {
		sleep(ctx, e.at())
		sent := time.Now()
		o.faultStart = sent
		if err := e.s.Signal(inst, syscall.SIGTERM); err != nil {
			o.failf("%v", err)
			return
		}
		e.logf("SIGTERM to %s", inst)
		if err := e.s.Wait(inst); err != nil {
			o.failf("%s exited with %v", inst, err)
		}
		exited := time.Since(sent)
		unready := time.Duration(-1)
		for _, c := range e.px.Changes(sent) {
			if c.backend == inst && !c.ready {
				unready = c.at.Sub(sent)
				break
			}
		}
		o.notef("%s: out of readiness (seen by the proxy) %d ms after SIGTERM, exited after %d ms (CSI_DRAIN_DELAY=%s)",
			inst, unready.Milliseconds(), exited.Milliseconds(), drainDelay)
		if unready < 0 || unready > exited {
			o.failf("%s did not leave readiness before it stopped", inst)
		}
		sleep(ctx, e.dur/8)
		began := time.Now()
		if err := e.s.Restart(ctx, inst); err != nil {
			o.failf("restart %s: %v", inst, err)
			return
		}
		o.recovery = fmt.Sprintf("%.2f s (restart to ready)", time.Since(began).Seconds())
		o.faultEnd = time.Now()
		e.logf("%s ready again", inst)
	})
	noFailures(&o)
	return o
}

// d. Besides the load, a client sends creates with a client timeout short enough to give up
// while the service works, then retries with the same Idempotency-Key until it gets an
// answer: each create must be stored exactly once.
func retryingClient(ctx context.Context, e *env) outcome {
	o := outcome{}
	var logical, timedOut, replayed, unfinished int
	e.under(ctx, &o, on(), func(ctx context.Context) {
		o.faultStart = time.Now()
		end := time.Now().Add(e.dur)
		for time.Now().Before(end) && ctx.Err() == nil {
			body, marker, key := e.t.newCreate()
			logical++
			timeout := time.Duration(1+rand.IntN(25)) * time.Millisecond
			done := false
			for attempt := 0; attempt < 20 && ctx.Err() == nil; attempt++ {
				r := e.t.create(ctx, body, marker, key, timeout)
				o.retries = append(o.retries, r)
				if attempt == 0 && r.status == 0 {
					timedOut++
				}
				if r.ok() {
					if r.replayed {
						replayed++
					}
					done = true
					break
				}
				timeout = 10 * time.Second
				wait := 100 * time.Millisecond
				if s, err := strconv.Atoi(r.retryAfter); err == nil && s > 0 {
					wait = time.Duration(s) * time.Second
				}
				sleep(ctx, wait)
			}
			if !done {
				unfinished++
			}
			sleep(ctx, 100*time.Millisecond)
		}
	})
	o.notef("retrying client: %d creates, %d attempts; %d first attempts timed out on the client, %d answers were replays (Idempotent-Replayed)",
		logical, len(o.retries), timedOut, replayed)
	o.notef("retrying client: answers by status over all attempts: %s", formatCounts(statusCounts(o.retries)))
	if unfinished > 0 {
		o.failf("%d of the retrying client's creates never got a 2xx", unfinished)
	}
	if timedOut == 0 {
		o.failf("no first attempt timed out: the scenario tested nothing")
	}
	o.recovery = "-"
	noFailures(&o)
	return o
}

// e. identity is stopped: tokens issued before keep working on the registry, whose key set
// (JWKS) is cached. Token requests pause while identity is away; it is started again.
func jwksUnreachable(ctx context.Context, e *env) outcome {
	o := outcome{}
	tokens := on()
	e.under(ctx, &o, tokens, func(ctx context.Context) {
		sleep(ctx, e.at())
		tokens.Store(false)
		sleep(ctx, 200*time.Millisecond) // token requests in flight end
		if err := e.s.Signal("identity", syscall.SIGTERM); err != nil {
			o.failf("%v", err)
			return
		}
		_ = e.s.Wait("identity")
		e.logf("identity stopped")
		down := time.Now()
		o.faultStart = down
		sleep(ctx, e.dur/2)
		began := time.Now()
		if err := e.s.Restart(ctx, "identity"); err != nil {
			o.failf("restart identity: %v", err)
			return
		}
		tokens.Store(true)
		o.faultEnd = time.Now()
		o.recovery = fmt.Sprintf("%.2f s (identity restart to ready)", time.Since(began).Seconds())
		o.notef("identity was down %.1f s; the registry verified tokens from its cached key set", time.Since(down).Seconds())
		e.logf("identity ready again")
	})
	noFailures(&o)
	return o
}

// registryInstances are the registry's processes, which scenario f stops.
var registryInstances = []string{"registry", "registry-2"}

// f. While intake records accesses (each naming a registry citizen, with an Idempotency-Key),
// every registry instance is killed (SIGKILL: calls in flight die with their connection) and
// started again a while later. During the outage intake answers every access create 503 with
// Retry-After and stores nothing; its reads of its own accesses go on. Afterwards every create
// refused is sent again with its key, and must now be stored: every access answered 2xx is
// readable through the API and stored exactly once.
func registryDown(ctx context.Context, e *env) outcome {
	o := outcome{}
	if err := e.t.signIn(ctx, e.email, e.password); err != nil {
		o.failf("%v", err)
		return o
	}
	// Accesses to read from the first request on.
	for range 5 {
		body, marker, key := e.t.newAccess()
		if r := e.t.createAccess(ctx, body, marker, key); !r.ok() {
			o.failf("warm-up access create: status %d %s", r.status, r.err)
			return o
		}
	}
	var downAt, restartAt, upAt time.Time
	began := time.Now()
	var wg sync.WaitGroup
	wg.Go(func() {
		sleep(ctx, e.at())
		downAt = time.Now()
		for _, inst := range registryInstances {
			if err := e.s.Signal(inst, syscall.SIGKILL); err != nil {
				o.failf("%v", err)
				return
			}
		}
		for _, inst := range registryInstances {
			_ = e.s.Wait(inst) // killed: an exit status by signal
		}
		e.logf("registry instances killed (SIGKILL)")
		sleep(ctx, e.dur/4)
		restartAt = time.Now()
		for _, inst := range registryInstances {
			if err := e.s.Restart(ctx, inst); err != nil {
				o.failf("restart %s: %v", inst, err)
				return
			}
		}
		upAt = time.Now()
		o.recovery = fmt.Sprintf("%.2f s (both registry instances restarted to ready)", upAt.Sub(restartAt).Seconds())
		e.logf("registry instances ready again")
	})
	o.results, _ = e.t.load(ctx, e.rate, e.dur, intakeMix, loadOptions{tokens: func() bool { return false }})
	wg.Wait()
	o.faultStart, o.faultEnd = downAt, upAt
	o.rate = float64(len(o.results)) / min(time.Since(began), e.dur).Seconds() // arrivals over the schedule (retries may outlast it)
	if downAt.IsZero() || upAt.IsZero() {
		return o
	}
	e.waitReady(ctx)

	// During the outage: 503 with Retry-After for every create, at once; reads unaffected.
	// Outside it (a second either side for the requests in flight at the kill and the restart):
	// every request 2xx.
	var refused []result
	var during, duringOK int
	var slowest time.Duration
	for _, r := range o.results {
		inOutage := !r.at.Before(downAt) && r.at.Before(upAt)
		near := r.at.After(downAt.Add(-time.Second)) && r.at.Before(upAt.Add(time.Second))
		if r.op == opAccessCreate && inOutage {
			during++
		}
		if r.ok() {
			if r.op == opAccessCreate && r.at.After(downAt.Add(time.Second)) && r.at.Before(restartAt) {
				duringOK++
			}
			continue
		}
		slowest = max(slowest, r.dur)
		switch {
		case r.op != opAccessCreate:
			o.failf("an %s failed: status %d %s (intake's reads never call the registry)", r.op, r.status, r.err)
		case r.status != http.StatusServiceUnavailable || r.retryAfter == "":
			o.failf("an access create answered status %d Retry-After %q %s: want 503 with Retry-After", r.status, r.retryAfter, r.err)
		case !near:
			o.failf("an access create answered 503 outside the outage, at %s", r.at.Format("15:04:05.000"))
		}
		if r.op == opAccessCreate {
			refused = append(refused, r)
		}
	}
	if duringOK > 0 {
		o.failf("%d access creates sent while the registry was down answered 2xx", duringOK)
	}
	if during == 0 {
		o.failf("no access create was sent while the registry was down: the scenario tested nothing")
	}

	// Nothing stored for a refused create.
	first, err := checkStored(ctx, e.s.DatabaseURL("intake"), e.t, o.results, accesses)
	if err != nil {
		o.failf("counting the accesses: %v", err)
		return o
	}
	if first.unacked > 0 {
		o.failf("%d access creates answered 503 were stored nonetheless", first.unacked)
	}

	// The refused creates again, with their keys, now that the registry is back.
	var replayed int
	for _, r := range refused {
		again := e.t.createAccess(ctx, r.body, r.marker, r.key)
		o.retries = append(o.retries, again)
		if again.replayed {
			replayed++
		}
		if !again.ok() {
			o.failf("an access create refused during the outage, sent again with its key: status %d %s", again.status, again.err)
		}
	}
	if replayed > 0 {
		o.failf("%d retries after the outage got a replayed answer: a 503 was kept under its Idempotency-Key", replayed)
	}
	w, err := checkStored(ctx, e.s.DatabaseURL("intake"), e.t, append(slices.Clone(o.results), o.retries...), accesses)
	w.unacked = first.unacked
	o.judge(w, err, "accesses", "2xx", "")
	o.notef("registry down %.1f s (both instances SIGKILL, then started again); intake itself was never restarted", upAt.Sub(downAt).Seconds())
	o.notef("access creates sent between the kill and the registry's readiness again: %d; answered 503 with Retry-After: %d, "+
		"at once (slowest failed request %d ms); the rest 201, sent while the restarted registry already answered",
		during, len(refused), slowest.Milliseconds())
	o.notef("before the retries, intake's database held %d accesses for %d creates answered 2xx, none of the %d refused",
		first.rows, first.acked, len(refused))
	o.notef("the %d refused creates sent again with their Idempotency-Keys after the outage: %s (replays of the 503: %d)",
		len(refused), formatCounts(statusCounts(o.retries)), replayed)
	if slowest > 3*time.Second {
		o.failf("a failed access create took %s: not failing fast", slowest)
	}
	if len(o.problems) > 6 {
		o.problems = append(o.problems[:6], fmt.Sprintf("... and %d more", len(o.problems)-6))
	}
	return o
}

func statusCounts(results []result) map[string]int {
	out := map[string]int{}
	for _, r := range results {
		if r.status == 0 {
			out["no answer"]++
		} else {
			out[strconv.Itoa(r.status)]++
		}
	}
	return out
}

// formatCounts prints counts as "503×12, no answer×1", largest first.
func formatCounts(m map[string]int) string {
	if len(m) == 0 {
		return "0"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if m[a] != m[b] {
			return m[b] - m[a]
		}
		return strings.Compare(a, b)
	})
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = fmt.Sprintf("%s×%d", k, m[k])
	}
	return strings.Join(parts, ", ")
}

// killOrder is scenario g's kills: each instance, and the first one again.
var killOrder = []string{"registry-2", "registry", "registry-2"}

// g. Registry instances are killed with SIGKILL, one at a time, three times, while the load's
// creates are retried by their clients with the same Idempotency-Key until they get a 2xx (no
// answer, a 5xx, a 409 while the key's first request runs, a 429: retried). A kill cuts the
// requests in flight anywhere: before the change, between the change and its stored answer,
// after both. Every create answered 2xx, at once or after retries, must be stored exactly
// once (rows counted by the citizen's marker e-mail); every create must end with a 2xx. Reads
// and token requests are not retried: they may fail only around a kill.
func registryKilled(ctx context.Context, e *env) outcome {
	o := outcome{}
	type kill struct {
		inst          string
		at, readyAt   time.Time
		restartFailed bool
	}
	var kills []kill
	e.underWith(ctx, &o, loadOptions{tokens: func() bool { return true }, retryCreates: true}, func(ctx context.Context) {
		sleep(ctx, e.at())
		gap := e.dur / 8
		for i, inst := range killOrder {
			if i > 0 {
				sleep(ctx, gap)
			}
			if ctx.Err() != nil {
				return
			}
			k := kill{inst: inst, at: time.Now()}
			if i == 0 {
				o.faultStart = k.at
			}
			if err := e.s.Signal(inst, syscall.SIGKILL); err != nil {
				o.failf("kill %s: %v", inst, err)
				return
			}
			_ = e.s.Wait(inst) // killed: an exit status by signal
			e.logf("%s killed (SIGKILL, %d of %d)", inst, i+1, len(killOrder))
			sleep(ctx, time.Second) // down a moment, as a crashed pod is until its restart
			if err := e.s.Restart(ctx, inst); err != nil {
				o.failf("restart %s: %v", inst, err)
				k.restartFailed = true
				kills = append(kills, k)
				return
			}
			k.readyAt = time.Now()
			kills = append(kills, k)
			o.faultEnd = k.readyAt
			e.logf("%s ready again", inst)
		}
	})
	if len(kills) < len(killOrder) {
		o.failf("only %d of %d kills done", len(kills), len(killOrder))
	}

	// Creates: every one ends with a 2xx, after retries; the read-back (under) counted them.
	type attempts struct {
		n  int
		ok bool
	}
	byMarker := map[string]*attempts{}
	for _, r := range append(slices.Clone(o.results), o.retries...) {
		if r.op != opCreate {
			continue
		}
		a := byMarker[r.marker]
		if a == nil {
			a = &attempts{}
			byMarker[r.marker] = a
		}
		a.n++
		a.ok = a.ok || r.ok()
	}
	var retried, unfinished, replayed int
	for _, a := range byMarker {
		if a.n > 1 {
			retried++
		}
		if !a.ok {
			unfinished++
		}
	}
	for _, r := range o.retries {
		if r.replayed {
			replayed++
		}
	}
	if unfinished > 0 {
		o.failf("%d creates never got a 2xx in %s of retries with their key", unfinished, retryBudget)
	}
	if retried == 0 && len(kills) > 0 {
		o.notef("no create needed a retry: no request was in flight on a killed instance")
	}

	// Reads and tokens: failures only around a kill (the proxy sees an instance gone within its
	// readiness interval; the requests in flight on it die with it).
	var outside int
	for _, r := range o.results {
		if r.ok() || r.op == opCreate {
			continue
		}
		near := false
		for _, k := range kills {
			end := k.readyAt
			if end.IsZero() {
				end = k.at.Add(time.Minute)
			}
			if r.at.After(k.at.Add(-attemptTimeout)) && r.at.Before(end.Add(time.Second)) {
				near = true
			}
		}
		if !near {
			outside++
		}
	}
	if outside > 0 {
		o.failf("%d reads or token requests failed away from any kill", outside)
	}

	var downs []string
	for i, k := range kills {
		if k.readyAt.IsZero() {
			downs = append(downs, fmt.Sprintf("%d. %s: not restarted", i+1, k.inst))
			continue
		}
		downs = append(downs, fmt.Sprintf("%d. %s at +%.1f s, ready again %.2f s later", i+1, k.inst,
			k.at.Sub(o.faultStart).Seconds(), k.readyAt.Sub(k.at).Seconds()))
	}
	o.notef("kills (SIGKILL, then scripts' restart after 1 s): %s", strings.Join(downs, "; "))
	o.notef("retried creates: %d of %d needed more than one attempt; %d further attempts, by status: %s; %d of them answered as replays (Idempotent-Replayed)",
		retried, len(byMarker), len(o.retries), formatCounts(statusCounts(o.retries)), replayed)
	o.notef("first attempts of creates, by status: %s", formatCounts(statusCounts(filterOp(o.results, opCreate))))
	if len(kills) > 0 && !kills[len(kills)-1].readyAt.IsZero() {
		o.recovery = fmt.Sprintf("%.2f s (the last kill to ready)", kills[len(kills)-1].readyAt.Sub(kills[len(kills)-1].at).Seconds())
	}
	if len(o.problems) > 6 {
		o.problems = append(o.problems[:6], fmt.Sprintf("... and %d more", len(o.problems)-6))
	}
	return o
}

func filterOp(results []result, op string) []result {
	var out []result
	for _, r := range results {
		if r.op == op {
			out = append(out, r)
		}
	}
	return out
}
