package idempotency_test

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

var ordersSet = pgdb.MigrationSet{Name: "orders", FS: fstest.MapFS{
	"00001_orders.sql": {Data: []byte("-- +goose Up\nCREATE TABLE orders (id serial PRIMARY KEY, ref text NOT NULL);\n-- +goose Down\nDROP TABLE orders;\n")},
}}

// callerHeader names the test caller; the claims middleware below turns it into auth claims.
const callerHeader = "X-Test-Caller"

// orders is a POST handler that inserts a row and answers 201, as a service's create does: on a
// service's store (pgdb.Base), whose queries run in the request's transaction.
type orders struct {
	db   pgdb.Base
	runs atomic.Int64
	// entered, when set, receives when the handler's first run starts; that run then waits
	// for release to be closed. Later runs do not wait.
	entered chan struct{}
	release chan struct{}
	// late moves that wait after the insert: the first run holds its change, uncommitted.
	late bool
	// answer overrides the answer (status, no insert) when non-zero.
	answer int
	panics bool
	silent bool // return without writing anything
	// broken runs a failing statement outside InTx first (aborting the request's transaction),
	// then answers brokenAnswer.
	broken       bool
	brokenAnswer int
}

func (o *orders) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	first := o.runs.Add(1) == 1 && o.entered != nil
	if first && !o.late {
		o.entered <- struct{}{}
		<-o.release
	}
	if o.panics {
		panic("handler exploded")
	}
	var in struct {
		Ref string `json:"ref"`
	}
	if err := httpapi.DecodeJSON(r, &in); err != nil {
		httpapi.WriteProblem(r.Context(), nil, w, r, err)
		return
	}
	if o.answer != 0 {
		http.Error(w, "answer "+fmt.Sprint(o.answer), o.answer)
		return
	}
	if o.broken {
		_, _ = o.db.DB.Exec(r.Context(), "INSERT INTO orders (ref) VALUES ($1)", in.Ref)
		if _, err := o.db.DB.Exec(r.Context(), "SELECT 1/0"); err == nil {
			panic("1/0 did not fail")
		}
		w.WriteHeader(o.brokenAnswer)
		return
	}
	if o.silent {
		_, _ = o.db.DB.Exec(r.Context(), "INSERT INTO orders (ref) VALUES ($1)", in.Ref)
		return
	}
	var id int
	err := o.db.InTx(r.Context(), func(tx pgdb.Base) error {
		return tx.DB.QueryRow(r.Context(), "INSERT INTO orders (ref) VALUES ($1) RETURNING id", in.Ref).Scan(&id)
	})
	if err != nil {
		httpapi.WriteProblem(r.Context(), nil, w, r, pgdb.Translate(err))
		return
	}
	if first && o.late {
		o.entered <- struct{}{}
		<-o.release
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Location", fmt.Sprintf("/v1/orders/%d", id))
	w.Header().Set("ETag", `"1"`)
	w.Header().Set("X-Not-Stored", "1")
	w.WriteHeader(http.StatusCreated)
	_ = json.NewEncoder(w).Encode(map[string]any{"id": id, "ref": in.Ref})
}

type env struct {
	suffix  string // appended to every caller, so that cases sharing a database do not meet
	pool    *pgxpool.Pool
	store   *idempotency.Store
	handler *orders
	h       http.Handler
}

func newEnv(t *testing.T) *env {
	t.Helper()
	return newEnvOn(pgtest.New(t, idempotency.Migrations, ordersSet))
}

// newEnvOn builds a store and handler on an existing database; cases sharing it use their own
// callers so that their keys do not meet.
func newEnvOn(pool *pgxpool.Pool) *env {
	e := &env{pool: pool, store: idempotency.New(pool, slog.New(slog.DiscardHandler)), handler: &orders{db: pgdb.NewBase(pool)}}
	claims := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if c := r.Header.Get(callerHeader); c != "" {
				r = r.WithContext(auth.WithClaims(r.Context(), auth.Claims{Subject: c, Kind: auth.KindClient,
					OrgID: "org-1", Role: auth.RoleClient}))
			}
			next.ServeHTTP(w, r)
		})
	}
	e.h = httpapi.Chain(e.handler, httpapi.RequestIDs(), httpapi.Recover(slog.New(slog.DiscardHandler)), claims, e.store.Middleware)
	return e
}

type answer struct {
	Status int
	Body   string
	Header http.Header
}

func (e *env) post(path, key, caller, body string) answer {
	r := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	if key != "" {
		r.Header.Set(idempotency.Header, key)
	}
	if caller != "" {
		r.Header.Set(callerHeader, caller+e.suffix)
	}
	rec := httptest.NewRecorder()
	e.h.ServeHTTP(rec, r)
	return answer{Status: rec.Code, Body: rec.Body.String(), Header: rec.Header()}
}

func (e *env) rows(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func problemFields(t *testing.T, a answer) []string {
	t.Helper()
	var p struct {
		Errors []struct{ Field string } `json:"errors"`
	}
	if err := json.Unmarshal([]byte(a.Body), &p); err != nil {
		t.Fatalf("problem %q: %v", a.Body, err)
	}
	var out []string
	for _, f := range p.Errors {
		out = append(out, f.Field)
	}
	return out
}

func TestReplay(t *testing.T) {
	e := newEnv(t)
	first := e.post("/v1/orders", "key-1", "coop", `{"ref":"A"}`)
	if first.Status != 201 {
		t.Fatalf("first answer = %d %s", first.Status, first.Body)
	}
	if got := first.Header.Get("Idempotent-Replayed"); got != "" {
		t.Errorf("first answer Idempotent-Replayed = %q, want none", got)
	}
	for i := range 3 {
		again := e.post("/v1/orders", "key-1", "coop", `{"ref":"A"}`)
		got := []string{fmt.Sprint(again.Status), again.Body, again.Header.Get("Location"), again.Header.Get("ETag"),
			again.Header.Get("Content-Type"), again.Header.Get("Idempotent-Replayed"), again.Header.Get("X-Not-Stored")}
		want := []string{"201", first.Body, first.Header.Get("Location"), `"1"`, "application/json", "true", ""}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("replay %d [status body location etag content-type replayed unstored] (-want +got):\n%s", i, diff)
		}
	}
	if got := e.handler.runs.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
	if got := e.rows(t); got != 1 {
		t.Errorf("%d rows inserted, want 1", got)
	}
}

func TestKeyMisuse(t *testing.T) {
	tests := []struct {
		name       string
		path       string
		key        string
		caller     string
		body       string
		wantStatus int
		wantFields []string
		wantRuns   int64 // after the first request, which always runs
	}{
		{name: "same key, another body", path: "/v1/orders", key: "k", caller: "coop", body: `{"ref":"B"}`,
			wantStatus: 422, wantFields: []string{"Idempotency-Key"}, wantRuns: 1},
		{name: "same key and body, another path", path: "/v1/orders?dry_run=1", key: "k", caller: "coop", body: `{"ref":"A"}`,
			wantStatus: 422, wantFields: []string{"Idempotency-Key"}, wantRuns: 1},
		{name: "same key, another caller", path: "/v1/orders", key: "k", caller: "other-coop", body: `{"ref":"A"}`,
			wantStatus: 201, wantRuns: 2},
		{name: "another key", path: "/v1/orders", key: "k2", caller: "coop", body: `{"ref":"A"}`,
			wantStatus: 201, wantRuns: 2},
		{name: "key with a space", path: "/v1/orders", key: "my key", caller: "coop", body: `{"ref":"A"}`,
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}, wantRuns: 1},
		{name: "key of 300 characters", path: "/v1/orders", key: strings.Repeat("k", 300), caller: "coop", body: `{"ref":"A"}`,
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}, wantRuns: 1},
		{name: "non-ASCII key", path: "/v1/orders", key: "chiavè", caller: "coop", body: `{"ref":"A"}`,
			wantStatus: 400, wantFields: []string{"Idempotency-Key"}, wantRuns: 1},
		{name: "key of 255 characters", path: "/v1/orders", key: strings.Repeat("k", 255), caller: "coop", body: `{"ref":"A"}`,
			wantStatus: 201, wantRuns: 2},
		{name: "no caller", path: "/v1/orders", key: "k3", body: `{"ref":"A"}`, wantStatus: 401, wantRuns: 1},
	}
	pool := pgtest.New(t, idempotency.Migrations, ordersSet)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOn(pool)
			e.suffix = fmt.Sprintf("-%d", i)
			if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != 201 {
				t.Fatalf("first answer = %d %s", a.Status, a.Body)
			}
			got := e.post(tc.path, tc.key, tc.caller, tc.body)
			if got.Status != tc.wantStatus {
				t.Errorf("status = %d %s, want %d", got.Status, got.Body, tc.wantStatus)
			}
			if tc.wantFields != nil {
				if ct := got.Header.Get("Content-Type"); ct != httpapi.ProblemContentType {
					t.Errorf("Content-Type = %q, want a problem", ct)
				}
				if diff := cmp.Diff(tc.wantFields, problemFields(t, got)); diff != "" {
					t.Errorf("problem fields (-want +got):\n%s", diff)
				}
			}
			if got := e.handler.runs.Load(); got != tc.wantRuns {
				t.Errorf("handler ran %d times, want %d", got, tc.wantRuns)
			}
		})
	}
}

func TestNoKeyRunsEveryTime(t *testing.T) {
	e := newEnv(t)
	for range 3 {
		if a := e.post("/v1/orders", "", "coop", `{"ref":"A"}`); a.Status != 201 || a.Header.Get("Idempotent-Replayed") != "" {
			t.Fatalf("answer = %d %v", a.Status, a.Header)
		}
	}
	if got := e.rows(t); got != 3 {
		t.Errorf("%d rows, want 3", got)
	}
	// Without a key the middleware does not even need a caller.
	if a := e.post("/v1/orders", "", "", `{"ref":"A"}`); a.Status != 201 {
		t.Errorf("answer without key and caller = %d", a.Status)
	}
}

func TestAnswersNotStored(t *testing.T) {
	tests := []struct {
		name      string
		breakWith func(*orders)
		status    int
	}{
		{name: "500", breakWith: func(o *orders) { o.answer = 500 }, status: 500},
		{name: "503", breakWith: func(o *orders) { o.answer = 503 }, status: 503},
		{name: "panic", breakWith: func(o *orders) { o.panics = true }, status: 500},
	}
	pool := pgtest.New(t, idempotency.Migrations, ordersSet)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOn(pool)
			e.suffix = fmt.Sprintf("-%d", i)
			tc.breakWith(e.handler)
			if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != tc.status {
				t.Fatalf("failing answer = %d %s, want %d", a.Status, a.Body, tc.status)
			}
			// The retry runs again, and this time succeeds and is stored.
			e.handler.answer, e.handler.panics = 0, false
			if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != 201 || a.Header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("retry = %d %s (replayed %q), want 201 from the handler", a.Status, a.Body, a.Header.Get("Idempotent-Replayed"))
			}
			if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != 201 || a.Header.Get("Idempotent-Replayed") != "true" {
				t.Fatalf("third = %d (replayed %q), want the stored 201", a.Status, a.Header.Get("Idempotent-Replayed"))
			}
			if got := e.handler.runs.Load(); got != 2 {
				t.Errorf("handler ran %d times, want 2", got)
			}
		})
	}
}

// A statement failing outside InTx aborts the request's transaction: nothing of the request
// stays; a client error is answered but not stored (the retry runs again), a success cannot be
// told and is answered 503.
func TestAbortedTransaction(t *testing.T) {
	tests := []struct {
		name       string
		answer     int
		wantStatus int
	}{
		{name: "client error", answer: 409, wantStatus: 409},
		{name: "success", answer: 201, wantStatus: 503},
	}
	pool := pgtest.New(t, idempotency.Migrations, ordersSet)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOn(pool)
			e.suffix = fmt.Sprintf("-%d", i)
			e.handler.broken, e.handler.brokenAnswer = true, tc.answer
			for try := range 2 {
				if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != tc.wantStatus || a.Header.Get("Idempotent-Replayed") != "" {
					t.Errorf("try %d = %d (replayed %q), want %d from the handler", try, a.Status, a.Header.Get("Idempotent-Replayed"), tc.wantStatus)
				}
			}
			if got, rows, keys := e.handler.runs.Load(), e.rows(t), e.keys(t); got != 2 || rows != 0 || keys != 0 {
				t.Errorf("runs %d, orders %d, keys %d; want 2, 0, 0", got, rows, keys)
			}
		})
	}
}

func TestClientErrorsStored(t *testing.T) {
	e := newEnv(t)
	bad := e.post("/v1/orders", "k", "coop", `{"ref":1}`)
	if bad.Status != 400 {
		t.Fatalf("first answer = %d %s", bad.Status, bad.Body)
	}
	again := e.post("/v1/orders", "k", "coop", `{"ref":1}`)
	got := []string{fmt.Sprint(again.Status), again.Body, again.Header.Get("Content-Type"), again.Header.Get("Idempotent-Replayed")}
	want := []string{"400", bad.Body, httpapi.ProblemContentType, "true"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("replayed 400 [status body content-type replayed] (-want +got):\n%s", diff)
	}
	if got := e.handler.runs.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
}

func TestSilentHandlerStored(t *testing.T) {
	e := newEnv(t)
	e.handler.silent = true
	for i := range 2 {
		if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != 200 {
			t.Fatalf("answer %d = %d", i, a.Status)
		}
	}
	if got := e.rows(t); got != 1 {
		t.Errorf("%d rows, want 1: a handler that answered 200 without a body must not run twice", got)
	}
}

func TestInProgress(t *testing.T) {
	e := newEnv(t)
	e.handler.entered = make(chan struct{}, 1)
	e.handler.release = make(chan struct{})
	firstDone := make(chan answer, 1)
	go func() { firstDone <- e.post("/v1/orders", "k", "coop", `{"ref":"A"}`) }()
	select {
	case <-e.handler.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the handler")
	}
	// While the first runs, retries are told to come back later.
	for i := range 3 {
		a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
		if a.Status != 409 || a.Header.Get("Retry-After") == "" {
			t.Errorf("retry %d while in progress = %d (Retry-After %q) %s, want 409 with Retry-After", i, a.Status, a.Header.Get("Retry-After"), a.Body)
		}
	}
	// Another body cannot be told from the same one while the first runs (its row is not
	// committed): it waits too, and is refused as misuse once the first is done (below).
	if a := e.post("/v1/orders", "k", "coop", `{"ref":"B"}`); a.Status != 409 {
		t.Errorf("another body while in progress = %d, want 409", a.Status)
	}
	close(e.handler.release)
	first := <-firstDone
	if first.Status != 201 {
		t.Fatalf("first = %d %s", first.Status, first.Body)
	}
	if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Status != 201 || a.Body != first.Body {
		t.Errorf("retry after completion = %d %s, want the first answer", a.Status, a.Body)
	}
	if a := e.post("/v1/orders", "k", "coop", `{"ref":"B"}`); a.Status != 422 {
		t.Errorf("another body after completion = %d, want 422", a.Status)
	}
	if got := e.handler.runs.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
}

// A client that times out while its request runs: the request still completes once, and the
// retry with the same key gets its answer instead of running it again (make chaos, scenario d).
func TestClientGoneMidRequest(t *testing.T) {
	e := newEnv(t)
	e.handler.entered = make(chan struct{}, 1)
	e.handler.release = make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	firstDone := make(chan answer, 1)
	go func() {
		r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/v1/orders", strings.NewReader(`{"ref":"A"}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set(idempotency.Header, "k")
		r.Header.Set(callerHeader, "coop")
		rec := httptest.NewRecorder()
		e.h.ServeHTTP(rec, r)
		firstDone <- answer{Status: rec.Code, Body: rec.Body.String()}
	}()
	select {
	case <-e.handler.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the handler")
	}
	cancel() // the client gives up
	close(e.handler.release)
	if first := <-firstDone; first.Status != 201 {
		t.Fatalf("first request after its client left = %d %s, want 201 (run to its end)", first.Status, first.Body)
	}
	a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
	if a.Status != 201 || a.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry = %d (replayed %q) %s, want the first answer replayed", a.Status, a.Header.Get("Idempotent-Replayed"), a.Body)
	}
	if got := e.handler.runs.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
	if got := e.rows(t); got != 1 {
		t.Errorf("%d rows inserted, want 1", got)
	}
}

func TestConcurrentSameKey(t *testing.T) {
	e := newEnv(t)
	var wg sync.WaitGroup
	start := make(chan struct{})
	answers := make(chan answer, 10)
	for range 10 {
		wg.Go(func() {
			<-start
			answers <- e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
		})
	}
	close(start)
	wg.Wait()
	close(answers)
	var created, replayed, busy int
	var body string
	for a := range answers {
		switch {
		case a.Status == 201 && a.Header.Get("Idempotent-Replayed") == "":
			created++
			body = a.Body
		case a.Status == 201:
			replayed++
		case a.Status == 409 && a.Header.Get("Retry-After") != "":
			busy++
		default:
			t.Errorf("answer %d %v %s, want 201, a replay, or 409 with Retry-After", a.Status, a.Header, a.Body)
		}
	}
	if created != 1 || created+replayed+busy != 10 {
		t.Errorf("created %d, replayed %d, busy %d; want exactly one created", created, replayed, busy)
	}
	if got := e.handler.runs.Load(); got != 1 {
		t.Errorf("handler ran %d times, want 1", got)
	}
	if got := e.rows(t); got != 1 {
		t.Errorf("%d rows, want 1", got)
	}
	if a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`); a.Body != body {
		t.Errorf("replay body %s, want %s", a.Body, body)
	}
}

// The versions before the one-transaction design committed a key's row in progress (status 0)
// before running the request; a retry takes such a row over only once it is older than
// Abandon.
func TestLegacyReservation(t *testing.T) {
	tests := []struct {
		name       string
		body       string
		age        time.Duration
		wantStatus int
		wantRuns   int64
	}{
		{name: "abandoned: a retry takes over", body: `{"ref":"A"}`, age: 2 * time.Minute, wantStatus: 201, wantRuns: 1},
		{name: "still fresh: wait", body: `{"ref":"A"}`, age: 10 * time.Second, wantStatus: 409, wantRuns: 0},
		{name: "abandoned but another body", body: `{"ref":"B"}`, age: 2 * time.Minute, wantStatus: 422, wantRuns: 0},
	}
	pool := pgtest.New(t, idempotency.Migrations, ordersSet)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOn(pool)
			e.suffix = fmt.Sprintf("-%d", i)
			if _, err := e.pool.Exec(context.Background(), `INSERT INTO idempotency_keys (caller, key, request_hash, created_at)
				VALUES ($1, 'k', $2, now() - make_interval(secs => $3))`,
				"client:coop"+e.suffix+"@org-1", requestHash("/v1/orders", `{"ref":"A"}`), tc.age.Seconds()); err != nil {
				t.Fatal(err)
			}
			a := e.post("/v1/orders", "k", "coop", tc.body)
			if a.Status != tc.wantStatus {
				t.Errorf("retry = %d %s, want %d", a.Status, a.Body, tc.wantStatus)
			}
			if got := e.handler.runs.Load(); got != tc.wantRuns {
				t.Errorf("handler ran %d times for the retry, want %d", got, tc.wantRuns)
			}
		})
	}
}

func requestHash(path, body string) []byte {
	h := sha256.Sum256([]byte(http.MethodPost + " " + path + "\n" + body))
	return h[:]
}

// terminate kills the backend serving tx, as a crash of the process (or of its connection) does:
// PostgreSQL rolls its transaction back.
func terminate(t *testing.T, pool *pgxpool.Pool, tx pgx.Tx) {
	t.Helper()
	var ok bool
	if err := pool.QueryRow(context.Background(), `SELECT pg_terminate_backend($1, 5000)`, tx.Conn().PgConn().PID()).Scan(&ok); err != nil || !ok {
		t.Errorf("pg_terminate_backend = %v, %v", ok, err)
	}
}

func (e *env) keys(t *testing.T) int {
	t.Helper()
	var n int
	if err := e.pool.QueryRow(context.Background(), "SELECT count(*) FROM idempotency_keys WHERE caller LIKE $1", "%"+e.suffix+"@%").Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// The change and the answer commit together: the transaction killed between the handler's
// change and the answer, or between the answer and the commit, leaves neither, and the retry
// runs the change once.
func TestKilledBeforeCommit(t *testing.T) {
	tests := []struct {
		name string
		set  func(s *idempotency.Store, kill func(context.Context, pgx.Tx))
	}{
		{name: "after the change, before the answer", set: func(s *idempotency.Store, kill func(context.Context, pgx.Tx)) {
			idempotency.SetHooks(s, kill, nil)
		}},
		{name: "after the answer, before the commit", set: func(s *idempotency.Store, kill func(context.Context, pgx.Tx)) {
			idempotency.SetHooks(s, nil, kill)
		}},
	}
	pool := pgtest.New(t, idempotency.Migrations, ordersSet)
	for i, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnvOn(pool)
			e.suffix = fmt.Sprintf("-%d", i)
			if _, err := pool.Exec(context.Background(), "TRUNCATE orders"); err != nil {
				t.Fatal(err)
			}
			tc.set(e.store, func(_ context.Context, tx pgx.Tx) {
				// The change is there, in the request's transaction, and nowhere else yet.
				var mine, theirs int
				if err := tx.QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&mine); err != nil {
					t.Error(err)
				}
				if err := pool.QueryRow(context.Background(), "SELECT count(*) FROM orders").Scan(&theirs); err != nil {
					t.Error(err)
				}
				if mine != 1 || theirs != 0 {
					t.Errorf("before the kill: %d rows in the transaction, %d outside; want 1 and 0", mine, theirs)
				}
				terminate(t, pool, tx)
			})
			first := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
			if first.Status != 503 || first.Header.Get("Retry-After") == "" || first.Header.Get("Location") != "" {
				t.Errorf("killed request = %d (Retry-After %q, Location %q) %s, want 503 with Retry-After and nothing of the answer",
					first.Status, first.Header.Get("Retry-After"), first.Header.Get("Location"), first.Body)
			}
			if got, keys := e.rows(t), e.keys(t); got != 0 || keys != 0 {
				t.Fatalf("after the kill: %d orders, %d keys; want neither the change nor the answer", got, keys)
			}
			idempotency.SetHooks(e.store, nil, nil)
			retry := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
			if retry.Status != 201 || retry.Header.Get("Idempotent-Replayed") != "" {
				t.Fatalf("retry = %d (replayed %q) %s, want 201 from the handler", retry.Status, retry.Header.Get("Idempotent-Replayed"), retry.Body)
			}
			again := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
			if again.Status != 201 || again.Body != retry.Body || again.Header.Get("Idempotent-Replayed") != "true" {
				t.Errorf("third = %d %s, want the retry's answer replayed", again.Status, again.Body)
			}
			if got := e.rows(t); got != 1 {
				t.Errorf("%d orders, want exactly 1", got)
			}
			if got := e.handler.runs.Load(); got != 2 {
				t.Errorf("handler ran %d times, want 2 (the killed run and the retry)", got)
			}
		})
	}
}

// A first request slower than Abandon (which now applies to old versions' rows only) is never
// taken over: every retry while it runs is told 409, then gets its answer.
func TestSlowFirstNotTakenOver(t *testing.T) {
	e := newEnv(t)
	e.store.Abandon = 50 * time.Millisecond
	e.store.LockWait = 20 * time.Millisecond
	e.handler.entered = make(chan struct{}, 1)
	e.handler.release = make(chan struct{})
	e.handler.late = true // the first holds its change, uncommitted, while retries come
	firstDone := make(chan answer, 1)
	go func() { firstDone <- e.post("/v1/orders", "k", "coop", `{"ref":"A"}`) }()
	select {
	case <-e.handler.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the handler")
	}
	deadline := time.Now().Add(10 * e.store.Abandon)
	for i := 0; time.Now().Before(deadline); i++ {
		start := time.Now()
		a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
		if a.Status != 409 || a.Header.Get("Retry-After") == "" || !strings.Contains(a.Body, "still in progress") {
			t.Fatalf("retry %d after %v = %d (Retry-After %q) %s, want 409 with Retry-After", i, time.Since(deadline.Add(-10*e.store.Abandon)),
				a.Status, a.Header.Get("Retry-After"), a.Body)
		}
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("retry %d answered in %v: it must not wait for the first request", i, d)
		}
		time.Sleep(e.store.Abandon / 2)
	}
	close(e.handler.release)
	first := <-firstDone
	if first.Status != 201 {
		t.Fatalf("first = %d %s", first.Status, first.Body)
	}
	a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
	if a.Status != 201 || a.Body != first.Body || a.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("retry after completion = %d %s, want the first answer replayed", a.Status, a.Body)
	}
	if got, rows := e.handler.runs.Load(), e.rows(t); got != 1 || rows != 1 {
		t.Errorf("handler ran %d times with %d orders, want 1 and 1", got, rows)
	}
}

// A first request whose connection dies while it runs (its process crashed) leaves nothing, and
// the retry runs the request at once.
func TestCrashedFirst(t *testing.T) {
	e := newEnv(t)
	e.handler.entered = make(chan struct{}, 1)
	e.handler.release = make(chan struct{})
	e.handler.late = true
	firstDone := make(chan answer, 1)
	go func() { firstDone <- e.post("/v1/orders", "k", "coop", `{"ref":"A"}`) }()
	select {
	case <-e.handler.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the first request never reached the handler")
	}
	// The first's backend: the one in this database idle in a transaction that wrote.
	var pid int
	if err := e.pool.QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
		WHERE datname = current_database() AND state = 'idle in transaction' AND backend_xid IS NOT NULL`).Scan(&pid); err != nil {
		t.Fatalf("the first request's backend: %v", err)
	}
	if _, err := e.pool.Exec(context.Background(), `SELECT pg_terminate_backend($1, 5000)`, pid); err != nil {
		t.Fatal(err)
	}
	retry := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
	if retry.Status != 201 || retry.Header.Get("Idempotent-Replayed") != "" {
		t.Fatalf("retry after the crash = %d (replayed %q) %s, want 201 from the handler", retry.Status, retry.Header.Get("Idempotent-Replayed"), retry.Body)
	}
	close(e.handler.release)
	if first := <-firstDone; first.Status != 503 {
		t.Errorf("crashed first = %d %s, want 503 (its transaction is gone)", first.Status, first.Body)
	}
	a := e.post("/v1/orders", "k", "coop", `{"ref":"A"}`)
	if a.Status != 201 || a.Body != retry.Body || a.Header.Get("Idempotent-Replayed") != "true" {
		t.Errorf("third = %d %s, want the retry's answer replayed", a.Status, a.Body)
	}
	if got := e.rows(t); got != 1 {
		t.Errorf("%d orders, want exactly 1", got)
	}
}

func TestBodyTooLarge(t *testing.T) {
	e := newEnv(t)
	e.store.MaxBody = 16
	a := e.post("/v1/orders", "k", "coop", `{"ref":"`+strings.Repeat("x", 100)+`"}`)
	if a.Status != 400 {
		t.Errorf("status = %d, want 400", a.Status)
	}
	if diff := cmp.Diff([]string{"body"}, problemFields(t, a)); diff != "" {
		t.Errorf("fields (-want +got):\n%s", diff)
	}
	if got := e.handler.runs.Load(); got != 0 {
		t.Errorf("handler ran %d times", got)
	}
}

func TestPurge(t *testing.T) {
	e := newEnv(t)
	for _, k := range []string{"old-1", "old-2", "new"} {
		if a := e.post("/v1/orders", k, "coop", `{"ref":"`+k+`"}`); a.Status != 201 {
			t.Fatalf("post %s = %d", k, a.Status)
		}
	}
	ctx := context.Background()
	if _, err := e.pool.Exec(ctx, "UPDATE idempotency_keys SET created_at = now() - interval '25 hours' WHERE key LIKE 'old-%'"); err != nil {
		t.Fatal(err)
	}
	n, err := e.store.Purge(ctx, 24*time.Hour)
	if err != nil || n != 2 {
		t.Fatalf("Purge() = %d, %v; want 2, nil", n, err)
	}
	// A purged key runs again; a kept one replays.
	if a := e.post("/v1/orders", "old-1", "coop", `{"ref":"old-1"}`); a.Header.Get("Idempotent-Replayed") != "" {
		t.Error("purged key replayed")
	}
	if a := e.post("/v1/orders", "new", "coop", `{"ref":"new"}`); a.Header.Get("Idempotent-Replayed") != "true" {
		t.Error("kept key not replayed")
	}
	if got := e.handler.runs.Load(); got != 4 {
		t.Errorf("handler ran %d times, want 4", got)
	}
}
