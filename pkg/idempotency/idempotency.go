// Package idempotency makes POSTs safe to retry (DESIGN.md "Writes from outside"): with an
// Idempotency-Key header, the key, the caller and a hash of the request are stored in
// PostgreSQL with the answer; a replay gets the first answer, the same key with another body is
// refused with 422, and a replay while the first request is still running gets 409 with
// Retry-After.
//
// Exactly once. The middleware opens a transaction on the service's pool and inserts the key's
// row in it before the handler runs; the transaction travels in the request's context
// (pgdb.Ambient), so that the service's store (pgdb.Base) runs every query of the request in it
// and its InTx in a savepoint of it. The handler's answer is held back; its status, headers and
// body are written into the key's row in the same transaction, and only once that commits is
// the answer sent. The change and the stored answer therefore commit together or not at all: a
// process killed anywhere before the commit leaves neither, and the retry runs the request
// as if for the first time; killed after it, the retry gets the stored answer. A 5xx answer is
// rolled back with its change (the retry runs again); a failed commit answers 503 and nothing
// is sent as a success.
//
// In progress. The uncommitted row is the lock: a retry's insert of the same key waits on the
// first request's transaction, for at most LockWait, and is answered 409 with Retry-After when
// the first still runs, however long it runs. When the first request's process dies, PostgreSQL
// ends its transaction (the connection is gone) and the waiting or next retry's insert
// succeeds: it runs the request. No time-based takeover. While the first request runs its row
// is not visible, so a retry with another body is told 409 then, and 422 once the first is done.
//
// What a handler owes: its writes in the store's InTx (a statement failing outside a savepoint
// aborts the whole transaction: nothing of the request stays, and its answer, a client error, is
// sent but not stored, a success is turned into 503); work
// that must follow the commit (dropping a cached copy) through pgdb.AfterCommit; a goroutine
// that outlives the request given pgdb.WithoutTx of its context; no queries of one request from
// several goroutines at once (a transaction is one connection).
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the idempotency_keys table.
var Migrations = pgdb.Embedded("idempotency", migrationFiles, "migrations")

// replayHeaders are the response headers stored with the answer and replayed with it.
var replayHeaders = []string{"Content-Type", "Location", "ETag", "Cache-Control"}

// Header is the request header carrying the key.
const Header = "Idempotency-Key"

// Store keeps keys and answers.
type Store struct {
	Pool *pgxpool.Pool
	Log  *slog.Logger
	// LockWait is how long a retry waits for a first request still running before it is told
	// to come back later (409).
	LockWait time.Duration
	// Abandon applies only to the committed in-progress rows (status 0) that the versions
	// before the one-transaction design left: one older than this is taken over by a retry.
	// The rows of this version are never committed in progress.
	Abandon time.Duration
	// MaxBody is the largest request body accepted.
	MaxBody int64

	// slots bounds the requests holding a transaction at once (nil: unbounded), below the pool's
	// size: a request holds its connection until it ends and may wait on work that needs
	// another (the audit log's commits), which must always find one.
	slots chan struct{}
	// beforeCommit, when set (tests), runs after the answer is written and before the commit;
	// afterChange after the handler returned, before the answer is written.
	beforeCommit, afterChange func(context.Context, pgx.Tx)
}

// New returns a store on pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Store {
	s := &Store{Pool: pool, Log: log, LockWait: 100 * time.Millisecond, Abandon: time.Minute, MaxBody: httpapi.MaxBodyBytes}
	if pool != nil {
		n := int(pool.Config().MaxConns)
		n -= max(2, n/4)
		s.slots = make(chan struct{}, max(1, n))
	}
	return s
}

func validKey(k string) bool {
	if len(k) < 1 || len(k) > 255 {
		return false
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return false
		}
	}
	return true
}

// errBusy answers a retry while the first request runs.
var errBusy = &errs.Error{Kind: errs.Conflict, Message: "a request with this Idempotency-Key is still in progress", RetryAfter: time.Second}

// Middleware wraps a POST handler. Requests without the header pass through unchanged.
func (s *Store) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get(Header)
		if key == "" {
			next.ServeHTTP(w, r)
			return
		}
		ctx := r.Context()
		fail := func(err error) { httpapi.WriteProblem(ctx, s.Log, w, r, err) }
		if !validKey(key) {
			fail(errs.InvalidField(Header, "must be 1 to 255 printable ASCII characters"))
			return
		}
		c, err := auth.Caller(ctx)
		if err != nil {
			fail(err)
			return
		}
		body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.MaxBody))
		if err != nil {
			fail(errs.InvalidField("body", "is larger than %d bytes", s.MaxBody))
			return
		}
		h := sha256.New()
		io.WriteString(h, r.Method+" "+r.URL.RequestURI()+"\n")
		h.Write(body)
		hash := h.Sum(nil)
		caller := c.Kind + ":" + c.Subject + "@" + c.OrgID

		if s.slots != nil {
			wait, cancel := context.WithTimeout(ctx, 10*time.Second)
			select {
			case s.slots <- struct{}{}:
				cancel()
				defer func() { <-s.slots }()
			case <-wait.Done():
				cancel()
				fail(&errs.Error{Kind: errs.Unavailable, Message: "too many requests in progress", RetryAfter: time.Second})
				return
			}
		}
		// A client that gives up (its timeout) must not cut a write short: from the claim on, the
		// request runs to its end and its answer is stored for the retry.
		detached := context.WithoutCancel(ctx)
		amb, owned, err := s.claim(detached, caller, key, hash)
		if err != nil {
			fail(err)
			return
		}
		if !owned {
			s.replay(w, r, caller, key, hash, amb)
			return
		}
		ended := false
		defer func() {
			if !ended {
				// A panic: nothing of the request stays, and the key is free again.
				s.rollback(detached, amb)
			}
		}()
		buf := &buffer{header: w.Header().Clone()}
		r = r.WithContext(amb.Context(detached))
		r.Body = io.NopCloser(bytes.NewReader(body))
		next.ServeHTTP(buf, r)
		if buf.status == 0 {
			// The handler returned without writing: net/http answers 200 with no body, and
			// whatever the handler did is done, so the answer is stored like any other.
			buf.status = http.StatusOK
		}
		if buf.status >= 500 {
			ended = true
			s.rollback(detached, amb) // not stored, nor is the change: a retry runs again
			buf.send(w)
			return
		}
		err = s.complete(detached, amb, caller, key, buf)
		ended = true
		if err != nil {
			s.rollback(detached, amb)
			if buf.status >= 400 && aborted(err) {
				// A statement of the handler failed outside a savepoint, and its error is the
				// answer: nothing of the request stays, so the answer is sent but not stored,
				// as a 5xx is.
				buf.send(w)
				return
			}
			if s.Log != nil {
				s.Log.ErrorContext(ctx, "idempotency: the change and its answer could not be committed", "err", err)
			}
			fail(&errs.Error{Kind: errs.Unavailable, Message: "the request could not be completed; retry it with the same Idempotency-Key",
				RetryAfter: time.Second, Err: err})
			return
		}
		buf.send(w)
	})
}

// claim opens the request's transaction and inserts the key's row in it. It reports whether the
// request owns the key; when it does not, the transaction is still open for replay to read the
// committed row and end it.
func (s *Store) claim(ctx context.Context, caller, key string, hash []byte) (*pgdb.Ambient, bool, error) {
	cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	amb, err := pgdb.Begin(cctx, s.Pool)
	if err != nil {
		return nil, false, err
	}
	// The insert waits on the uncommitted row of a request still running with the key, for
	// LockWait at most; lock_timeout is back to its default for the request's own statements.
	b := &pgx.Batch{}
	b.Queue(`SELECT set_config('lock_timeout', $1, true)`, lockTimeout(s.LockWait))
	b.Queue(`INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT (caller, key) DO NOTHING`, caller, key, hash)
	b.Queue(`SET LOCAL lock_timeout TO DEFAULT`)
	br := amb.Tx().SendBatch(cctx, b)
	_, err = br.Exec()
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		s.rollback(ctx, amb)
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "55P03" { // lock_not_available: the first still runs
			return nil, false, errBusy
		}
		return nil, false, pgdb.Translate(err)
	}
	if tag.RowsAffected() == 1 {
		return amb, true, nil
	}
	// A row left in progress, committed, by a version before this design: taken over once old.
	tag, err = amb.Tx().Exec(cctx, `UPDATE idempotency_keys SET created_at = now()
		WHERE caller = $1 AND key = $2 AND status = 0 AND request_hash = $3
		  AND created_at < now() - make_interval(secs => $4)`, caller, key, hash, s.Abandon.Seconds())
	if err != nil {
		s.rollback(ctx, amb)
		return nil, false, pgdb.Translate(err)
	}
	return amb, tag.RowsAffected() == 1, nil
}

// aborted reports whether err says the transaction was aborted by an earlier failed statement.
func aborted(err error) bool {
	var pg *pgconn.PgError
	return errors.As(err, &pg) && pg.Code == "25P02" // in_failed_sql_transaction
}

func lockTimeout(d time.Duration) string {
	ms := d.Milliseconds()
	if ms < 1 {
		ms = 1
	}
	return strconv.FormatInt(ms, 10)
}

func (s *Store) rollback(ctx context.Context, amb *pgdb.Ambient) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if err := amb.Rollback(ctx); err != nil && s.Log != nil && !pgdb.IsConnError(err) {
		s.Log.WarnContext(ctx, "idempotency: rollback failed", "err", err)
	}
}

// replay answers a request whose key is taken, reading the row in the claim's transaction and
// ending it.
func (s *Store) replay(w http.ResponseWriter, r *http.Request, caller, key string, hash []byte, amb *pgdb.Ambient) {
	ctx := r.Context()
	var stored []byte
	var status int
	var headers map[string]string
	var body []byte
	qctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	err := amb.Tx().QueryRow(qctx, `SELECT request_hash, status, headers, body
		FROM idempotency_keys WHERE caller = $1 AND key = $2`, caller, key).Scan(&stored, &status, &headers, &body)
	cancel()
	s.rollback(ctx, amb)
	if errors.Is(err, pgx.ErrNoRows) {
		// Purged between our insert attempt and this read: ask for a retry.
		httpapi.WriteProblem(ctx, s.Log, w, r, &errs.Error{Kind: errs.Conflict, Message: "retry the request", RetryAfter: time.Second})
		return
	}
	if err != nil {
		httpapi.WriteProblem(ctx, s.Log, w, r, pgdb.Translate(err))
		return
	}
	if !bytes.Equal(stored, hash) {
		httpapi.WriteProblem(ctx, s.Log, w, r, &errs.Error{Kind: errs.Unprocessable,
			Message: "this Idempotency-Key was used with another request",
			Fields:  []errs.FieldError{{Field: Header, Message: "already used with another request"}}})
		return
	}
	if status == 0 {
		httpapi.WriteProblem(ctx, s.Log, w, r, errBusy)
		return
	}
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// complete writes the answer into the key's row and commits the request's transaction.
func (s *Store) complete(ctx context.Context, amb *pgdb.Ambient, caller, key string, buf *buffer) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if s.afterChange != nil {
		s.afterChange(ctx, amb.Tx())
	}
	headers := map[string]string{}
	for _, k := range replayHeaders {
		if v := buf.header.Get(k); v != "" {
			headers[k] = v
		}
	}
	if _, err := amb.Tx().Exec(ctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5,
		completed_at = now() WHERE caller = $1 AND key = $2`, caller, key, buf.status, headers, buf.body.Bytes()); err != nil {
		return pgdb.Translate(err)
	}
	if s.beforeCommit != nil {
		s.beforeCommit(ctx, amb.Tx())
	}
	return amb.Commit(ctx)
}

// Purge deletes keys older than age; services call it periodically (keys are kept 24 hours).
func (s *Store) Purge(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`, age.Seconds())
	if err != nil {
		return 0, pgdb.Translate(err)
	}
	return tag.RowsAffected(), nil
}

// buffer holds the handler's answer until the request's transaction has committed.
type buffer struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func (b *buffer) Header() http.Header { return b.header }

func (b *buffer) WriteHeader(code int) {
	if b.status == 0 {
		b.status = code
	}
}

func (b *buffer) Write(p []byte) (int, error) {
	if b.status == 0 {
		b.status = http.StatusOK
	}
	return b.body.Write(p)
}

// send writes the held answer to w.
func (b *buffer) send(w http.ResponseWriter) {
	maps.Copy(w.Header(), b.header)
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
