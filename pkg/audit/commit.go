package audit

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

const hashSize = sha256.Size

// row is a validated record as stored: the fields that are hashed, in their stored form, plus its
// place in the chain once chained.
type row struct {
	id           uuid.UUID
	occurredAt   time.Time // UTC, microseconds
	requestID    string
	actorID      string
	actorOrg     string
	actorRole    string
	ambitoID     string
	action       string
	resourceType string
	resourceID   string
	citizenID    string
	purpose      string
	outcome      string
	details      string // JSON text, empty for none

	seq      int64
	prevHash []byte
	hash     []byte
}

// textFields is the number of text fields of a record.
const textFields = 12

// texts returns the text fields in the order of the hash encoding and of the insert's columns.
func (r *row) texts() [textFields]string {
	return [textFields]string{r.requestID, r.actorID, r.actorOrg, r.actorRole, r.ambitoID, r.action,
		r.resourceType, r.resourceID, r.citizenID, r.purpose, r.outcome, r.details}
}

// hashPrefix tags the encoding and its version.
var hashPrefix = []byte("csiaudit\x01")

// computeHash returns SHA-256(prev || encoding of r at (chainID, seq)); see the package
// documentation for the encoding.
func computeHash(prev []byte, chainID uuid.UUID, seq int64, r *row) []byte {
	h := sha256.New()
	h.Write(prev)
	h.Write(hashPrefix)
	h.Write(chainID[:])
	var n [8]byte
	binary.BigEndian.PutUint64(n[:], uint64(seq))
	h.Write(n[:])
	h.Write(r.id[:])
	binary.BigEndian.PutUint64(n[:], uint64(r.occurredAt.UnixMicro()))
	h.Write(n[:])
	for _, s := range r.texts() {
		var l [4]byte
		binary.BigEndian.PutUint32(l[:], uint32(len(s)))
		h.Write(l[:])
		h.Write([]byte(s))
	}
	return h.Sum(nil)
}

// chain gives rows their places after from and returns the head they lead to.
func chain(chainID uuid.UUID, from head, rows []row) head {
	prev := from
	for i := range rows {
		r := &rows[i]
		r.seq = prev.seq + 1
		r.prevHash = prev.hash
		r.hash = computeHash(r.prevHash, chainID, r.seq, r)
		prev = head{seq: r.seq, hash: r.hash}
	}
	return prev
}

// commit writes one batch, retrying transient failures, and advances the in-memory head.
func (l *Log) commit(ctx context.Context, batch []*request, n int) error {
	start := time.Now()
	rows := make([]row, 0, n)
	for _, r := range batch {
		rows = append(rows, r.rows...)
	}

	var err error
	var sent *head // the head the last attempt would have led to, if it was sent
	for attempt := 1; ; attempt++ {
		if l.headStale {
			h, lerr := l.loadHead(ctx)
			if lerr != nil {
				err = lerr
			} else {
				l.head, l.headStale = h, false
				if sent != nil && h.seq == sent.seq && bytes.Equal(h.hash, sent.hash) {
					// The previous attempt was committed; only its acknowledgement was lost.
					err = nil
					break
				}
			}
		}
		if !l.headStale {
			to := chain(l.chainID, l.head, rows)
			sent = &to
			err = l.send(ctx, rows, to)
			if err == nil {
				l.head = to
				break
			}
			l.headStale = true
		}
		if attempt == maxAttempts || ctx.Err() != nil || !retryable(err) {
			break
		}
		l.log.Warn("audit batch failed, retrying", "records", n, "attempt", attempt, "err", err)
		select {
		case <-time.After(time.Duration(attempt*attempt) * 100 * time.Millisecond):
		case <-ctx.Done():
		}
	}

	l.m.seconds.Observe(time.Since(start).Seconds())
	if err != nil {
		l.m.errors.Inc()
		l.log.Error("audit batch not committed", "records", n, "err", err)
		return fmt.Errorf("audit write: %w", err)
	}
	l.m.batchSize.Observe(float64(n))
	if l.cp != nil {
		l.cp.moved(l.head)
	}
	return nil
}

// send inserts the chained rows and moves the chain head to `to`, atomically and in one round
// trip: the multi-row insert (insertRecords: unnest of one array per column) and the head's upsert,
// two statements on statements the connection keeps prepared, sent by pgx as one pipeline ending in
// a single Sync, which PostgreSQL runs as one implicit transaction, committed before it answers the
// Sync. BenchmarkSend and BenchmarkAppend compare it with one statement doing both (a CTE) and with
// COPY: neither paid. COPY needs an explicit transaction (BEGIN, COPY with its own exchange, the
// head, COMMIT), four round trips instead of one; the CTE was a little slower. A batch's time goes
// to the commit's WAL flush and to inserting each row into the table and its four indexes, which
// are the same every way.
func (l *Log) send(ctx context.Context, rows []row, to head) error {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	if l.sender != nil {
		return pgdb.Translate(l.sender(l, ctx, rows, to))
	}
	b := &pgx.Batch{}
	b.Queue(insertRecords, l.columns(rows)...)
	b.Queue(upsertHead, l.chainID, l.started, to.seq, to.hash)
	br := l.pool.SendBatch(ctx, b)
	tag, err := br.Exec()
	if err == nil && tag.RowsAffected() != int64(len(rows)) {
		err = fmt.Errorf("inserted %d audit records instead of %d", tag.RowsAffected(), len(rows))
	}
	if err == nil {
		_, err = br.Exec()
	}
	// Close reads up to the answer to the Sync, that is, past the commit.
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return pgdb.Translate(err)
}

const insertRecords = `
INSERT INTO audit_records (chain_id, seq, id, occurred_at, request_id, actor_id, actor_org, actor_role,
	ambito_id, action, resource_type, resource_id, citizen_id, purpose, outcome, details, prev_hash, hash)
SELECT $1, u.seq, u.id, u.occurred_at, u.request_id, u.actor_id, u.actor_org, u.actor_role,
	u.ambito_id, u.action, u.resource_type, u.resource_id, NULLIF(u.citizen_id, ''), NULLIF(u.purpose, ''),
	u.outcome, NULLIF(u.details, '')::json, u.prev_hash, u.hash
FROM unnest($2::bigint[], $3::uuid[], $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
	$9::text[], $10::text[], $11::text[], $12::text[], $13::text[], $14::text[], $15::text[], $16::text[],
	$17::bytea[], $18::bytea[])
	AS u(seq, id, occurred_at, request_id, actor_id, actor_org, actor_role, ambito_id, action,
	resource_type, resource_id, citizen_id, purpose, outcome, details, prev_hash, hash)`

const upsertHead = `
INSERT INTO audit_chains (chain_id, started_at, head_seq, head_hash) VALUES ($1, $2, $3, $4)
ON CONFLICT (chain_id) DO UPDATE SET head_seq = EXCLUDED.head_seq, head_hash = EXCLUDED.head_hash`

// columns returns the chain id and the rows as one array per column: the arguments $1 to $18
// of insertRecords (and of appendBatch, in send_test.go).
func (l *Log) columns(rows []row) []any {
	n := len(rows)
	seqs, ids, times := make([]int64, n), make([]uuid.UUID, n), make([]time.Time, n)
	var texts [textFields][]string
	for j := range texts {
		texts[j] = make([]string, n)
	}
	prevs, hashes := make([][]byte, n), make([][]byte, n)
	for i := range rows {
		r := &rows[i]
		seqs[i], ids[i], times[i], prevs[i], hashes[i] = r.seq, r.id, r.occurredAt, r.prevHash, r.hash
		for j, t := range r.texts() {
			texts[j][i] = t
		}
	}
	args := make([]any, 0, 21)
	args = append(args, l.chainID, seqs, ids, times)
	for _, t := range texts {
		args = append(args, t)
	}
	return append(args, prevs, hashes)
}

// loadHead reads the committed head of this Log's chain; a chain not yet created is at seq 0.
func (l *Log) loadHead(ctx context.Context) (head, error) {
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	h := head{hash: make([]byte, hashSize)}
	err := l.pool.QueryRow(ctx, `SELECT head_seq, head_hash FROM audit_chains WHERE chain_id = $1`, l.chainID).
		Scan(&h.seq, &h.hash)
	if errors.Is(err, pgx.ErrNoRows) {
		return head{hash: make([]byte, hashSize)}, nil
	}
	if err != nil {
		return head{}, fmt.Errorf("load audit chain head: %w", pgdb.Translate(err))
	}
	return h, nil
}

// retryable reports whether a failed attempt is worth another: anything but a definite refusal by
// the server (a data or schema error would fail again). Retrying is safe even when the failed
// attempt may have committed, because the head is reloaded first.
func retryable(err error) bool {
	var pg *pgconn.PgError
	return errs.Is(err, errs.Unavailable) || !errors.As(err, &pg)
}
