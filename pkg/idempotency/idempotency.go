// Package idempotency makes POSTs safe to retry (DESIGN.md "Writes from outside"): with an
// Idempotency-Key header, the key, the caller and a hash of the request are stored in
// PostgreSQL with the answer; a replay gets the first answer, the same key with another body is
// refused with 422, and a replay while the first request is still running gets 409 with
// Retry-After.
package idempotency

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5"
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
	// Abandon is how long a first request may stay unfinished before a retry takes over (the
	// process serving it died).
	Abandon time.Duration
	// MaxBody is the largest request body accepted.
	MaxBody int64
}

// New returns a store on pool.
func New(pool *pgxpool.Pool, log *slog.Logger) *Store {
	return &Store{Pool: pool, Log: log, Abandon: time.Minute, MaxBody: httpapi.MaxBodyBytes}
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

		// A client that gives up (its timeout) must not leave a reserved key behind, nor cut a
		// write short after it is done: from the reservation on, the request runs to its end
		// and its answer is stored for the retry, which would otherwise run it a second time.
		detached := context.WithoutCancel(ctx)
		rctx, cancel := context.WithTimeout(detached, 5*time.Second)
		owned, err := s.reserve(rctx, caller, key, hash)
		cancel()
		if err != nil {
			fail(err)
			return
		}
		if !owned {
			s.replay(w, r, caller, key, hash)
			return
		}
		rec := &recorder{ResponseWriter: w}
		r = r.WithContext(detached)
		r.Body = io.NopCloser(bytes.NewReader(body))
		completed := false
		defer func() {
			if !completed {
				// A panic or a failure to store: free the key so the client can retry.
				s.release(context.WithoutCancel(ctx), caller, key)
			}
		}()
		next.ServeHTTP(rec, r)
		if rec.status == 0 {
			// The handler returned without writing: net/http answers 200 with no body, and
			// whatever the handler did is done, so the answer is stored like any other.
			rec.status = http.StatusOK
		}
		if rec.status >= 500 {
			return // not stored: a retry runs again
		}
		if err := s.complete(context.WithoutCancel(ctx), caller, key, rec); err != nil {
			if s.Log != nil {
				s.Log.ErrorContext(ctx, "idempotency: storing the answer failed", "err", err)
			}
			return
		}
		completed = true
	})
}

// reserve inserts the key as in progress; it reports false when the key exists already. An
// in-progress key older than Abandon is taken over.
func (s *Store) reserve(ctx context.Context, caller, key string, hash []byte) (bool, error) {
	tag, err := s.Pool.Exec(ctx, `INSERT INTO idempotency_keys (caller, key, request_hash) VALUES ($1, $2, $3)
		ON CONFLICT (caller, key) DO UPDATE SET created_at = now()
		WHERE idempotency_keys.status = 0 AND idempotency_keys.request_hash = $3
		  AND idempotency_keys.created_at < now() - make_interval(secs => $4)`,
		caller, key, hash, s.Abandon.Seconds())
	if err != nil {
		return false, pgdb.Translate(err)
	}
	return tag.RowsAffected() == 1, nil
}

func (s *Store) replay(w http.ResponseWriter, r *http.Request, caller, key string, hash []byte) {
	ctx := r.Context()
	var stored []byte
	var status int
	var headers map[string]string
	var body []byte
	err := s.Pool.QueryRow(ctx, `SELECT request_hash, status, headers, body
		FROM idempotency_keys WHERE caller = $1 AND key = $2`, caller, key).Scan(&stored, &status, &headers, &body)
	if errors.Is(err, pgx.ErrNoRows) {
		// Released between our insert attempt and this read: ask for a retry.
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
		httpapi.WriteProblem(ctx, s.Log, w, r, &errs.Error{Kind: errs.Conflict,
			Message: "a request with this Idempotency-Key is still in progress", RetryAfter: time.Second})
		return
	}
	for k, v := range headers {
		w.Header().Set(k, v)
	}
	w.Header().Set("Idempotent-Replayed", "true")
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func (s *Store) complete(ctx context.Context, caller, key string, rec *recorder) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	headers := map[string]string{}
	for _, k := range replayHeaders {
		if v := rec.Header().Get(k); v != "" {
			headers[k] = v
		}
	}
	_, err := s.Pool.Exec(ctx, `UPDATE idempotency_keys SET status = $3, headers = $4, body = $5,
		completed_at = now() WHERE caller = $1 AND key = $2`, caller, key, rec.status, headers, rec.body.Bytes())
	return pgdb.Translate(err)
}

func (s *Store) release(ctx context.Context, caller, key string) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if _, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE caller = $1 AND key = $2 AND status = 0`, caller, key); err != nil && s.Log != nil {
		s.Log.WarnContext(ctx, "idempotency: releasing a key failed", "err", err)
	}
}

// Purge deletes keys older than age; services call it periodically (keys are kept 24 hours).
func (s *Store) Purge(ctx context.Context, age time.Duration) (int64, error) {
	tag, err := s.Pool.Exec(ctx, `DELETE FROM idempotency_keys WHERE created_at < now() - make_interval(secs => $1)`, age.Seconds())
	if err != nil {
		return 0, pgdb.Translate(err)
	}
	return tag.RowsAffected(), nil
}

// recorder passes the answer through and keeps a copy.
type recorder struct {
	http.ResponseWriter
	status int
	body   bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}
