package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// The operations of the load.
const (
	opCreate       = "citizen create"
	opRead         = "citizen read"
	opToken        = "token (client credentials)"
	opAccessCreate = "access create"
	opAccessRead   = "access read"
)

// mix is the load's cycle of operations: 4 creates, 4 reads, 2 token requests in 10.
var mix = []string{opCreate, opRead, opToken, opCreate, opRead, opCreate, opRead, opToken, opCreate, opRead}

// intakeMix is the cycle of the load on intake (scenario f): 6 access creates, each naming a
// registry citizen, and 4 access reads, which never call the registry.
var intakeMix = []string{opAccessCreate, opAccessRead, opAccessCreate, opAccessCreate, opAccessRead, opAccessCreate,
	opAccessRead, opAccessCreate, opAccessCreate, opAccessRead}

// result is one request of the load.
type result struct {
	op         string
	at         time.Time // sent
	dur        time.Duration
	status     int    // 0: no answer (transport error, timeout)
	err        string // the transport error
	retryAfter string // the Retry-After header of the answer
	marker     string // creates: the e-mail that marks the citizen, the desk that marks the access
	id         string // creates answered 2xx: the citizen's or access's id
	replayed   bool   // the answer carried Idempotent-Replayed: true
	// access creates: the request, so that a create answered otherwise can be retried with its key
	body []byte
	key  string
}

func (r result) ok() bool { return r.status >= 200 && r.status < 300 }

// target is what the load talks to.
type target struct {
	registry  string // the proxy in front of the registry instances
	intake    string // intake (which calls the registry's first instance for every access create)
	identity  string
	clientID  string
	secret    string
	http      *http.Client
	runID     string
	istat     string // the comune of the load's operator, where its citizens live
	userToken atomic.Pointer[string]

	seq      atomic.Int64
	mu       sync.Mutex
	stored   []string // ids of citizens created 2xx, read by the load
	accesses []string // ids of accesses created 2xx, read by the load
}

func newTarget(registry, intake, identity, clientID, secret, runID, istat string) *target {
	return &target{registry: registry, intake: intake, identity: identity, clientID: clientID, secret: secret, runID: runID, istat: istat,
		http: &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{MaxIdleConnsPerHost: 256}}}
}

// signIn gets a token of the demo social worker (who may create and read citizens).
func (t *target) signIn(ctx context.Context, email, password string) error {
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {password}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, t.identity+"/v1/oauth/token", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := t.http.Do(req)
	if err != nil {
		return fmt.Errorf("sign in as %s: %w", email, err)
	}
	defer resp.Body.Close()
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.AccessToken == "" {
		return fmt.Errorf("sign in as %s: status %d (%v)", email, resp.StatusCode, err)
	}
	t.userToken.Store(&tok.AccessToken)
	return nil
}

// newCreate returns the body, the marker and the idempotency key of the next citizen create.
// The citizen has no codice fiscale, so that nothing but the idempotency key keeps a retry from
// storing it twice; its e-mail is its marker.
func (t *target) newCreate() (body []byte, marker, key string) {
	n := t.seq.Add(1)
	marker = fmt.Sprintf("chaos-%s-%d@chaos.example", t.runID, n)
	key = fmt.Sprintf("chaos-%s-%d", t.runID, n)
	families := []string{"Rossi", "Bianchi", "Colombo", "Ferrari", "Esposito", "Ricci", "Marino", "Greco", "Bruno", "Gallo"}
	givens := []string{"Giulia", "Marco", "Sofia", "Luca", "Chiara", "Matteo", "Anna", "Davide", "Elena", "Paolo"}
	sex := []string{"F", "M"}
	b, _ := json.Marshal(map[string]any{
		"no_fiscal_code_reason": "other",
		"family_name":           families[rand.IntN(len(families))] + " " + letters(n),
		"given_name":            givens[n%10],
		"sex":                   sex[n%10%2],
		"birth_date":            time.Date(1940, 1, 1, 0, 0, 0, 0, time.UTC).AddDate(0, 0, rand.IntN(30000)).Format(time.DateOnly),
		"email":                 marker,
		"residence":             map[string]any{"istat_code": t.istat, "address": fmt.Sprintf("Via Roma %d", n%200+1)},
	})
	return b, marker, key
}

// letters spells n in letters ("Bcd"), so that the names of the load's citizens differ.
func letters(n int64) string {
	const abc = "bcdfghlmnprstvz"
	var b []byte
	for ; n > 0; n /= int64(len(abc)) {
		b = append(b, abc[n%int64(len(abc))])
	}
	if len(b) == 0 {
		b = []byte{'a'}
	}
	b[0] -= 'a' - 'A'
	return string(b)
}

// create sends one citizen create with its key and a client timeout.
func (t *target) create(ctx context.Context, body []byte, marker, key string, timeout time.Duration) result {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.registry+"/v1/citizens", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	r := t.do(req, opCreate, timeout)
	r.marker = marker
	return r
}

// newAccess returns the body, the marker and the idempotency key of the next access create: a
// resident of the operator's comune (one of the citizens the load created) asking for home
// care at a desk named by the marker.
func (t *target) newAccess() (body []byte, marker, key string) {
	n := t.seq.Add(1)
	marker = fmt.Sprintf("chaos-%s-%d", t.runID, n)
	key = "access-" + marker
	t.mu.Lock()
	citizen := ""
	if len(t.stored) > 0 {
		citizen = t.stored[rand.IntN(len(t.stored))]
	}
	t.mu.Unlock()
	b, _ := json.Marshal(map[string]any{
		"istat_code": t.istat, "desk": marker, "channel": "in_person", "referrer": map[string]any{"kind": "self"},
		"citizen_id": citizen, "request_type": "service_request", "requested_area": "ANZ", "needs": []string{"ANZ.01"},
		"household": map[string]any{"type": "lives_alone", "size": 1}, "outcome": map[string]any{"kind": "information"},
	})
	return b, marker, key
}

// createAccess sends one access create with its key.
func (t *target) createAccess(ctx context.Context, body []byte, marker, key string) result {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.intake+"/v1/accesses", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", key)
	r := t.do(req, opAccessCreate, 0)
	r.marker, r.body, r.key = marker, body, key
	return r
}

// readAccess reads an access the load created.
func (t *target) readAccess(ctx context.Context) result {
	t.mu.Lock()
	id := ""
	if len(t.accesses) > 0 {
		id = t.accesses[rand.IntN(len(t.accesses))]
	}
	t.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.intake+"/v1/accesses/"+id, nil)
	return t.do(req, opAccessRead, 0)
}

// read reads a citizen the load created.
func (t *target) read(ctx context.Context) result {
	t.mu.Lock()
	id := ""
	if len(t.stored) > 0 {
		id = t.stored[rand.IntN(len(t.stored))]
	}
	t.mu.Unlock()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, t.registry+"/v1/citizens/"+id+"?purpose=reliability+check", nil)
	return t.do(req, opRead, 0)
}

// token asks identity for a token with the demo machine client's credentials.
func (t *target) token(ctx context.Context) result {
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, t.identity+"/v1/oauth/token", strings.NewReader("grant_type=client_credentials"))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.SetBasicAuth(t.clientID, t.secret)
	return t.do(req, opToken, 0)
}

func (t *target) do(req *http.Request, op string, timeout time.Duration) result {
	if op != opToken {
		req.Header.Set("Authorization", "Bearer "+*t.userToken.Load())
	}
	if timeout > 0 {
		ctx, cancel := context.WithTimeout(req.Context(), timeout)
		defer cancel()
		req = req.WithContext(ctx)
	}
	r := result{op: op, at: time.Now()}
	resp, err := t.http.Do(req)
	if err != nil {
		r.dur, r.err = time.Since(r.at), err.Error()
		return r
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	r.dur, r.status, r.retryAfter = time.Since(r.at), resp.StatusCode, resp.Header.Get("Retry-After")
	r.replayed = resp.Header.Get("Idempotent-Replayed") == "true"
	if (op == opCreate || op == opAccessCreate) && r.ok() {
		var c struct {
			ID string `json:"id"`
		}
		if json.Unmarshal(b, &c) == nil && c.ID != "" {
			r.id = c.ID
			t.mu.Lock()
			if op == opCreate {
				t.stored = append(t.stored, c.ID)
			} else {
				t.accesses = append(t.accesses, c.ID)
			}
			t.mu.Unlock()
		}
	}
	return r
}

// loadOptions shape a load.
type loadOptions struct {
	tokens       func() bool // token requests are sent while it says true (a scenario that takes identity away turns them off)
	retryCreates bool        // citizen creates are retried with their key until 2xx (scenario g)
}

// The retrying creates of scenario g: each attempt's client timeout, and how long a create is
// retried at most (longer than an abandoned key's takeover, idempotency.Store.Abandon).
const (
	attemptTimeout = 5 * time.Second
	retryBudget    = 2 * time.Minute
)

// retryable says whether a client retries a create that got r with the same key: no answer,
// a 5xx, a 409 (the key's first request still running) or a 429.
func retryable(r result) bool {
	return r.status == 0 || r.status >= 500 || r.status == http.StatusConflict || r.status == http.StatusTooManyRequests
}

// createUntilDone sends a create and, while the answer is retryable, sends it again with the
// same key (after Retry-After, or 100 ms), for retryBudget at most. first is the first
// attempt, again the others.
func (t *target) createUntilDone(ctx context.Context) (first result, again []result) {
	body, marker, key := t.newCreate()
	first = t.create(ctx, body, marker, key, attemptTimeout)
	r := first
	deadline := time.Now().Add(retryBudget)
	for !r.ok() && retryable(r) && time.Now().Before(deadline) && ctx.Err() == nil {
		wait := 100 * time.Millisecond
		if s, err := strconv.Atoi(r.retryAfter); err == nil && s > 0 {
			wait = time.Duration(min(s, 5)) * time.Second
		}
		sleep(ctx, wait)
		r = t.create(ctx, body, marker, key, attemptTimeout)
		again = append(again, r)
	}
	return first, again
}

// load drives the target at a fixed arrival rate (open loop: a slow answer does not delay the
// next request) for d, cycling through mix. results are the load's requests (a retried
// create's first attempt), retries the further attempts of retried creates.
func (t *target) load(ctx context.Context, rate float64, d time.Duration, mix []string, o loadOptions) (results, retries []result) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	if o.tokens == nil {
		o.tokens = func() bool { return true }
	}
	tick := time.NewTicker(time.Duration(float64(time.Second) / rate))
	defer tick.Stop()
	end := time.After(d)
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			wg.Wait()
			return results, retries
		case <-end:
			wg.Wait()
			return results, retries
		case <-tick.C:
		}
		op := mix[i%len(mix)]
		if op == opToken && !o.tokens() {
			op = opRead
		}
		wg.Go(func() {
			var r result
			var again []result
			switch op {
			case opCreate:
				if o.retryCreates {
					r, again = t.createUntilDone(ctx)
					break
				}
				body, marker, key := t.newCreate()
				r = t.create(ctx, body, marker, key, 0)
			case opRead:
				r = t.read(ctx)
			case opToken:
				r = t.token(ctx)
			case opAccessCreate:
				body, marker, key := t.newAccess()
				r = t.createAccess(ctx, body, marker, key)
			case opAccessRead:
				r = t.readAccess(ctx)
			}
			mu.Lock()
			results = append(results, r)
			retries = append(retries, again...)
			mu.Unlock()
		})
	}
}
