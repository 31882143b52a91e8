// Package audit writes and reads the audit trail of a service: every read or change of a
// citizen's personal data, and every administrative change in the identity service, leaves a
// Record (who, in which organization and role, in which ambito, what, on which resource and
// citizen, when, with which request id and outcome). The trail lives in the service's own
// PostgreSQL database (apply Migrations), is append-only, hash-chained so that tampering is
// evident, and is read by the privacy officer through List; Verify checks it.
//
// # Group commit
//
// Auditing every read must not cap a service at the database's single-insert commit rate. A Log
// owns one committer goroutine, started by New and stopped by Close. Write enqueues its records
// and waits; the committer takes everything queued (up to the maximum batch size, 256 by default)
// and writes it in one implicit transaction, sent as a single pipelined round trip: one
// multi-row INSERT (unnest of arrays) plus the update of the chain head. When the commit is
// acknowledged every writer of the batch is released with nil; when it fails the writers get the
// error (see below for retries). There is no artificial delay: while one batch commits, the next one accumulates, so
// batches grow with the load and a lone request waits for one commit only. A Write's records
// always go in the same batch, so they commit or fail together.
//
// Write returns nil only once its records are committed. When its context ends first it returns
// the context's error, but the records may still be committed afterwards: an access that happened
// is audited even if its requester went away. A service that must not serve personal data without
// a trace calls Write before answering and fails the request when Write fails.
//
// # One chain per Log
//
// A single chain would serialize every replica of a service on its head. Instead each Log owns a
// chain of its own, identified by a UUIDv7 generated in New; the chain row (audit_chains) is
// created with the Log's first batch, so a Log that never writes leaves nothing behind. Replicas,
// and successive runs of the same replica, therefore never contend for a head, and only the
// committer goroutine of one Log ever appends to a given chain, chaining hashes from the head it
// holds in memory. Verify walks every chain.
//
// When a batch fails the in-memory head is not advanced and is reloaded from the database before
// the next attempt: a commit whose acknowledgement was lost may have landed, and the reloaded head
// tells (if it equals the batch's last record, the batch is reported committed; otherwise it is
// re-chained from the committed head and sent again). So every failure but a refusal by the
// database (connection lost, database restarting, timeouts) is retried, three attempts in all,
// and a restarted database is simply reached again through the pool. When the database refuses a
// batch (a constraint), each Write of the batch is tried alone, so that only the writer at fault
// gets the error; Write validates records beforehand so that this stays exceptional. The primary
// key (chain_id, seq) makes a fork of a chain impossible even if this reasoning went wrong.
//
// # Hash
//
// Each record's hash is SHA-256(prev_hash || encoding), where prev_hash is the previous record's
// hash in the chain (32 zero bytes for seq 1) and encoding is, in this order:
//
//	the 8 bytes "csiaudit" and the version byte 1
//	chain_id (16 bytes), seq (8 bytes, big endian), id (16 bytes)
//	occurred_at as microseconds since the Unix epoch, UTC (8 bytes, big endian, two's complement)
//	then each text field as a 4-byte big-endian length followed by its UTF-8 bytes:
//	request_id, actor_id, actor_org, actor_role, ambito_id, action, resource_type, resource_id,
//	citizen_id, purpose, outcome, details
//
// citizen_id and purpose are NULL in the table when empty and encoded as empty; details is the
// exact JSON text stored (empty when the record has none). Times are truncated to microseconds,
// as PostgreSQL stores them, so the verifier recomputes the same bytes from the stored row. The
// details column is json rather than jsonb because json keeps the text verbatim, while jsonb
// reorders keys and rewrites numbers and would break the hash.
//
// # Append-only
//
// Triggers refuse UPDATE, DELETE and TRUNCATE of audit_records, and let a chain head only move
// forward. The table owner can disable triggers, so in production the service should run as a role
// that does not own the tables and holds only INSERT and SELECT on audit_records and INSERT,
// SELECT, UPDATE on audit_chains; the hash chain makes whatever slips through evident to Verify.
// The hash is not keyed: someone able to rewrite a chain's records and its head consistently, or
// to delete a chain's newest records together with its head, is caught only by comparing the
// chains with a copy of their heads kept elsewhere. That is what checkpoints are for.
//
// # Checkpoints
//
// With WithCheckpoints, a Log writes its chain's head {chain_id, seq, hash, time}, signed with an
// Ed25519 key, to a store outside the database (pkg/docstore: a directory or an S3 bucket), every
// few seconds when the head moved and once more on Close. Verify with AgainstCheckpoints then
// reports a chain that ends before its checkpoint's seq or is gone (ProblemTruncatedTail), a
// record at the checkpoint's seq with another hash (ProblemCheckpointMismatch), and a checkpoint
// whose signature does not verify (ProblemBadCheckpoint). The stored form is one JSON object per
// chain, "<prefix><chain_id>.json":
//
//	{"chain_id": "…", "seq": 42, "hash": "<64 hex>", "time": "RFC 3339", "key_id": "<16 hex>",
//	 "signature": "<base64 Ed25519 signature>"}
//
// The signature covers the 20 bytes "csiaudit-checkpoint" plus version byte 1, then chain_id (16
// bytes), seq (8 bytes big endian), hash (32 bytes) and time as microseconds since the Unix epoch
// (8 bytes big endian); key_id is the first 8 bytes of the SHA-256 of the public key, in hex. An
// auditor holding the public key alone can check every checkpoint. What a checkpoint cannot
// protect: records written after the last checkpoint (the interval, and a process killed before
// Close), and a store whose objects an attacker can replace with older signed checkpoints of the
// same chain (use a bucket with versioning or object lock).
//
// Verifier runs Verify on demand (GET /v1/audit:verify for the privacy officer, wired by pkg/app)
// and periodically, exporting the result as metrics.
//
// Authorization (only the privacy officer reads the trail, always within an ambito) is the
// service's job: List enforces the tenant scope only.
package audit

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the audit tables; apply it with pgdb.Migrate next to the service's own set.
var Migrations = pgdb.Embedded("audit", migrationFiles, "migrations")

// Outcomes most records carry; Outcome is free text, but services should stick to these.
const (
	OutcomeSuccess = "success" // the action was carried out
	OutcomeDenied  = "denied"  // the action was refused (authorization, consent, purpose)
	OutcomeFailure = "failure" // the action was attempted and failed
)

// Record is one audited action. ID and Time are filled by the Log when zero; Time is kept in UTC
// to the microsecond. CitizenID is empty when the action concerns no citizen (an administrative
// change); Purpose is the declared reason of an access, when there is one.
type Record struct {
	ID           uuid.UUID      `json:"id"`
	Time         time.Time      `json:"occurred_at"`
	RequestID    string         `json:"request_id"`
	ActorID      string         `json:"actor_id"`
	ActorOrg     string         `json:"actor_org"`
	ActorRole    string         `json:"actor_role"`
	AmbitoID     string         `json:"ambito_id"`
	Action       string         `json:"action"`
	ResourceType string         `json:"resource_type"`
	ResourceID   string         `json:"resource_id"`
	CitizenID    string         `json:"citizen_id,omitempty"`
	Purpose      string         `json:"purpose,omitempty"`
	Outcome      string         `json:"outcome"`
	Details      map[string]any `json:"details,omitempty"`

	// Set by List, ignored by Write: IntegrityOK, or IntegrityBroken with the problem, from the
	// record's hash recomputed from its stored fields and chained to its predecessor's.
	Integrity        string `json:"integrity,omitempty"`
	IntegrityProblem string `json:"integrity_problem,omitempty"`
}

// Values of Record.Integrity.
const (
	IntegrityOK     = "ok"
	IntegrityBroken = "broken"
)

// Limits on one record, so that one writer's record cannot sink a whole batch.
const (
	maxFieldBytes   = 1024
	maxDetailsBytes = 64 << 10
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errs.E(errs.Unavailable, "audit log is closed")

const (
	defaultMaxBatch = 256
	maxAttempts     = 3
	attemptTimeout  = 5 * time.Second
)

// Option configures a Log.
type Option func(*config)

type config struct {
	maxBatch    int
	log         *slog.Logger
	reg         prometheus.Registerer
	checkpoints *Checkpoints
	cpEvery     time.Duration
	sender      func(*Log, context.Context, []row, head) error // nil but in benchmarks
}

// WithMaxBatch caps the number of records committed in one transaction (default 256). A single
// Write with more records than that still commits them together, in a batch of its own.
func WithMaxBatch(n int) Option {
	return func(c *config) {
		if n > 0 {
			c.maxBatch = n
		}
	}
}

// WithLogger sets the logger for failed commits (default: slog.Default()).
func WithLogger(l *slog.Logger) Option {
	return func(c *config) {
		if l != nil {
			c.log = l
		}
	}
}

// WithRegisterer registers the Log's metrics on reg (default: none). Several Logs in one process
// share the metrics already registered.
func WithRegisterer(reg prometheus.Registerer) Option {
	return func(c *config) { c.reg = reg }
}

// WithCheckpoints makes the Log write its chain's head to cp every interval when the head moved
// (DefaultCheckpointInterval when interval is not positive), and once more on Close.
func WithCheckpoints(cp *Checkpoints, interval time.Duration) Option {
	return func(c *config) {
		c.checkpoints = cp
		c.cpEvery = interval
		if interval <= 0 {
			c.cpEvery = DefaultCheckpointInterval
		}
	}
}

// Log writes audit records to one chain of its own, in group commits. Create it with New and stop
// it with Close. Its methods are safe for concurrent use.
type Log struct {
	pool     *pgxpool.Pool
	chainID  uuid.UUID
	started  time.Time
	maxBatch int
	sender   func(*Log, context.Context, []row, head) error // another way to send batches (benchmarks); nil: send's
	log      *slog.Logger
	m        metrics

	mu     sync.RWMutex // guards closed against sends on reqs
	closed bool
	reqs   chan *request
	cancel context.CancelFunc // aborts the committer's database work
	done   chan struct{}      // closed when the committer has returned

	// Owned by the committer goroutine.
	head      head
	headStale bool // the head must be reloaded from the database before chaining

	cp *checkpointer // nil without checkpoints
}

type head struct {
	seq  int64
	hash []byte
}

type request struct {
	rows []row
	done chan error // buffered: the committer never blocks on it
}

// New returns a Log writing to the database behind pool, with a new chain, and starts its
// committer goroutine; Close stops it.
func New(pool *pgxpool.Pool, opts ...Option) *Log {
	cfg := config{maxBatch: defaultMaxBatch, log: slog.Default()}
	for _, o := range opts {
		o(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	l := &Log{
		pool:     pool,
		chainID:  uuid.Must(uuid.NewV7()),
		started:  time.Now().UTC().Truncate(time.Microsecond),
		maxBatch: cfg.maxBatch,
		sender:   cfg.sender,
		m:        newMetrics(cfg.reg, cfg.checkpoints != nil),
		reqs:     make(chan *request, 4*cfg.maxBatch),
		cancel:   cancel,
		done:     make(chan struct{}),
		head:     head{hash: make([]byte, hashSize)},
	}
	l.log = cfg.log.With("chain_id", l.chainID.String())
	if cfg.checkpoints != nil {
		l.cp = newCheckpointer(cfg.checkpoints, l.chainID, cfg.cpEvery, l.log, l.m)
	}
	go l.run(ctx)
	return l
}

// ChainID is the id of the chain this Log appends to.
func (l *Log) ChainID() uuid.UUID { return l.chainID }

// Write records recs and returns once they are committed, or with the error that prevented it.
// A record without a request id takes the one of ctx (pkg/httpapi).
// Records are validated first (an Invalid error names the field); ID and Time are filled when
// zero. If ctx ends while Write waits for the commit, Write returns ctx's error but the records
// may still be committed. After Close it returns ErrClosed.
func (l *Log) Write(ctx context.Context, recs ...Record) error {
	if len(recs) == 0 {
		return nil
	}
	if id := httpapi.RequestID(ctx); id != "" {
		for i := range recs {
			if recs[i].RequestID == "" {
				recs[i].RequestID = id
			}
		}
	}
	rows, err := prepare(recs)
	if err != nil {
		return err
	}
	req := &request{rows: rows, done: make(chan error, 1)}

	if err := ctx.Err(); err != nil {
		return fmt.Errorf("audit write: %w", err)
	}
	l.mu.RLock()
	if l.closed {
		l.mu.RUnlock()
		return ErrClosed
	}
	l.m.pending.Add(float64(len(rows)))
	select {
	case l.reqs <- req:
	case <-ctx.Done():
		l.mu.RUnlock()
		l.m.pending.Sub(float64(len(rows)))
		return fmt.Errorf("audit write: queue full: %w", ctx.Err())
	}
	l.mu.RUnlock()

	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit write: waiting for the commit: %w", ctx.Err())
	}
}

// Close stops accepting records, commits those already queued and stops the committer; with
// checkpoints it then writes the last head's checkpoint. If ctx ends first, the database work in
// progress is aborted, the writers still waiting get an error, and Close returns ctx's error once
// the committer has stopped. Close can be called more than once.
func (l *Log) Close(ctx context.Context) error {
	l.mu.Lock()
	if !l.closed {
		l.closed = true
		close(l.reqs)
	}
	l.mu.Unlock()
	defer l.cancel()
	var err error
	select {
	case <-l.done:
	case <-ctx.Done():
		select {
		case <-l.done: // finished just in time
		default:
			l.cancel()
			<-l.done
			err = fmt.Errorf("close audit log: %w", ctx.Err())
		}
	}
	if l.cp != nil {
		if cerr := l.cp.close(ctx); err == nil && cerr != nil {
			err = fmt.Errorf("close audit log: %w", cerr)
		}
	}
	return err
}

// run is the committer: it gathers queued requests into batches until reqs is closed and drained.
func (l *Log) run(ctx context.Context) {
	defer close(l.done)
	var next *request // a request that did not fit in the previous batch
	for {
		var batch []*request
		n := 0
		if next != nil {
			batch, n, next = append(batch, next), len(next.rows), nil
		} else {
			r, ok := <-l.reqs
			if !ok {
				return
			}
			batch, n = append(batch, r), len(r.rows)
		}
	fill:
		for n < l.maxBatch {
			select {
			case r, ok := <-l.reqs:
				if !ok {
					break fill
				}
				if n+len(r.rows) > l.maxBatch {
					next = r
					break fill
				}
				batch, n = append(batch, r), n+len(r.rows)
			default:
				break fill
			}
		}
		err := l.commit(ctx, batch, n)
		if err != nil && len(batch) > 1 && ctx.Err() == nil && !retryable(err) {
			// The database refused the batch, maybe for one writer's records: commit each
			// request alone, so that only the writers at fault get the error.
			for _, r := range batch {
				l.m.pending.Sub(float64(len(r.rows)))
				r.done <- l.commit(ctx, []*request{r}, len(r.rows))
			}
			continue
		}
		l.m.pending.Sub(float64(n))
		for _, r := range batch {
			r.done <- err
		}
	}
}

// prepare validates records and turns them into rows, filling ID and Time and encoding Details.
func prepare(recs []Record) ([]row, error) {
	rows := make([]row, len(recs))
	var all errs.Fields
	now := time.Now()
	for i, r := range recs {
		var f errs.Fields
		text := []struct {
			name     string
			value    string
			required bool
		}{
			{"request_id", r.RequestID, false},
			{"actor_id", r.ActorID, true},
			{"actor_org", r.ActorOrg, false},
			{"actor_role", r.ActorRole, false},
			{"ambito_id", r.AmbitoID, true},
			{"action", r.Action, true},
			{"resource_type", r.ResourceType, true},
			{"resource_id", r.ResourceID, false},
			{"citizen_id", r.CitizenID, false},
			{"purpose", r.Purpose, false},
			{"outcome", r.Outcome, true},
		}
		for _, t := range text {
			switch {
			case t.required && t.value == "":
				f.Add(t.name, "is required")
			case len(t.value) > maxFieldBytes:
				f.Add(t.name, "is longer than %d bytes", maxFieldBytes)
			case !validText(t.value):
				f.Add(t.name, "is not valid UTF-8 text")
			}
		}
		var details string
		if r.Details != nil {
			b, err := json.Marshal(r.Details)
			switch {
			case err != nil:
				f.Add("details", "cannot be encoded as JSON: %v", err)
			case len(b) > maxDetailsBytes:
				f.Add("details", "is longer than %d bytes as JSON", maxDetailsBytes)
			default:
				details = string(b)
			}
		}
		id := r.ID
		if id == uuid.Nil {
			var err error
			if id, err = uuid.NewV7(); err != nil {
				return nil, fmt.Errorf("audit record id: %w", err)
			}
		}
		t := r.Time
		if t.IsZero() {
			t = now
		}
		t = t.UTC().Truncate(time.Microsecond)
		if y := t.Year(); y < 1 || y > 9999 {
			f.Add("occurred_at", "is out of range")
		}
		if len(recs) > 1 {
			f = f.Prefix(fmt.Sprintf("records[%d].", i))
		}
		all = append(all, f...)
		rows[i] = row{
			id: id, occurredAt: t, requestID: r.RequestID, actorID: r.ActorID, actorOrg: r.ActorOrg,
			actorRole: r.ActorRole, ambitoID: r.AmbitoID, action: r.Action, resourceType: r.ResourceType,
			resourceID: r.ResourceID, citizenID: r.CitizenID, purpose: r.Purpose, outcome: r.Outcome,
			details: details,
		}
	}
	if err := all.Err(); err != nil {
		return nil, err
	}
	return rows, nil
}

// validText reports whether s can be stored in a PostgreSQL text column: valid UTF-8, no NUL.
func validText(s string) bool { return utf8.ValidString(s) && !strings.ContainsRune(s, 0) }
