package audit

import (
	"bytes"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// What a Problem reports.
const (
	// ProblemHashMismatch: the record's stored hash is not the hash of its fields chained to the
	// previous record's hash: the record (or its predecessor's hash) was altered.
	ProblemHashMismatch = "hash mismatch"
	// ProblemMissingRecord: sequence numbers jump; Seq is the first missing one (records deleted).
	ProblemMissingRecord = "missing record"
	// ProblemHeadMismatch: the chain head row does not match the chain's last record (records
	// deleted at the end of the chain, a chain without records, or records without a chain row).
	ProblemHeadMismatch = "head mismatch"
	// ProblemTruncatedTail: the chain ends before the seq of its signed checkpoint, or a
	// checkpointed chain is missing from the database: its newest records were deleted (with the
	// chain head rewound or deleted, which the database alone cannot tell). Seq is the first
	// record missing.
	ProblemTruncatedTail = "truncated tail"
	// ProblemCheckpointMismatch: the record at the seq of the chain's signed checkpoint has
	// another hash: the chain was rewritten from there on or before.
	ProblemCheckpointMismatch = "checkpoint mismatch"
	// ProblemBadCheckpoint: a stored checkpoint cannot be read or its signature does not verify
	// with the configured key (forged, altered, or signed with a key no longer configured).
	ProblemBadCheckpoint = "bad checkpoint"
)

// MaxProblems caps the problems a Report lists; Truncated says when more were found.
const MaxProblems = 1000

// Problem is one inconsistency Verify found. RecordID and AmbitoID are those of the record at
// fault, when the problem is in a record that is there (a hash or checkpoint mismatch); they are
// empty for what is missing (records, a tail, a head) or for a checkpoint.
type Problem struct {
	ChainID  uuid.UUID `json:"chain_id"`
	Seq      int64     `json:"seq"`                 // where in the chain
	RecordID string    `json:"record_id,omitempty"` // the record at fault
	AmbitoID string    `json:"-"`                   // the ambito of the record at fault
	What     string    `json:"what"`                // one of the Problem... constants
	Detail   string    `json:"detail,omitempty"`    // for a human; never a record's content
}

// Report is the result of Verify: how much was checked and what is wrong.
type Report struct {
	Chains      int       `json:"chains"`      // chains walked
	Records     int64     `json:"records"`     // records checked
	Checkpoints int       `json:"checkpoints"` // chains compared with a valid signed checkpoint
	Problems    []Problem `json:"problems"`    // at most MaxProblems, in chain order
	Truncated   bool      `json:"truncated"`   // more problems were found than listed
}

// OK reports whether Verify found no problem.
func (r Report) OK() bool { return len(r.Problems) == 0 }

func (r *Report) add(p Problem) {
	if len(r.Problems) == MaxProblems {
		r.Truncated = true
		return
	}
	r.Problems = append(r.Problems, p)
}

// verifyPage is how many records Verify reads per query.
const verifyPage = 1000

// VerifyOption configures Verify.
type VerifyOption func(*verifyConfig)

type verifyConfig struct {
	checkpoints *Checkpoints
}

// AgainstCheckpoints makes Verify compare every chain with its latest signed checkpoint in cp
// (nil: no comparison).
func AgainstCheckpoints(cp *Checkpoints) VerifyOption {
	return func(c *verifyConfig) { c.checkpoints = cp }
}

// Verify checks every chain: sequence numbers contiguous from 1, every hash recomputed from the
// stored fields and chained to the previous record, and the chain head matching the last record;
// with AgainstCheckpoints, also that every checkpointed chain reaches its checkpoint's seq with
// the checkpoint's hash there, and that every checkpoint's signature verifies.
// It reads the records in pages, so memory does not grow with the size of the trail. Records
// committed after Verify read a chain's head are left out, so it can run while services write;
// run it in a REPEATABLE READ transaction for one consistent snapshot. The error reports a failure
// to read, not a problem found.
func Verify(ctx context.Context, db pgdb.DB, opts ...VerifyOption) (Report, error) {
	var cfg verifyConfig
	for _, o := range opts {
		o(&cfg)
	}
	var rep Report
	// Checkpoints are read before the heads: a checkpoint is written after its records are
	// committed, so every checkpoint read is covered by the heads read afterwards.
	var cps map[uuid.UUID]Checkpoint
	if cfg.checkpoints != nil {
		var bad []Problem
		var err error
		if cps, bad, err = cfg.checkpoints.Latest(ctx); err != nil {
			return rep, err
		}
		for _, p := range bad {
			rep.add(p)
		}
		rep.Checkpoints = len(cps)
	}
	heads, err := loadHeads(ctx, db)
	if err != nil {
		return rep, err
	}
	seen := map[uuid.UUID]bool{}
	var (
		cur     *chainCheck
		afterID uuid.UUID
		after   int64
	)
	page := make([]verifyRow, 0, verifyPage)
	for {
		// The page is read in full before it is checked: checking may query the database, which a
		// transaction's single connection cannot do while rows are being read.
		page, err = readPage(ctx, db, page[:0], afterID, after)
		if err != nil {
			return rep, fmt.Errorf("verify audit chains: %w", pgdb.Translate(err))
		}
		for i := range page {
			r := &page[i]
			if cur == nil || cur.id != r.chainID {
				if cur != nil {
					cur.finish(&rep)
				}
				if cur, err = startChain(ctx, db, heads, r.chainID); err != nil {
					return rep, fmt.Errorf("verify audit chains: %w", pgdb.Translate(err))
				}
				if cp, ok := cps[r.chainID]; ok {
					cur.cp = &cp
				}
				seen[r.chainID] = true
				rep.Chains++
			}
			cur.check(&rep, &r.row)
		}
		if len(page) < verifyPage {
			break
		}
		last := page[len(page)-1]
		afterID, after = last.chainID, last.seq
	}
	if cur != nil {
		cur.finish(&rep)
	}
	// Heads whose chains have no record at all, in chain order.
	var empty []uuid.UUID
	for id, h := range heads {
		if !h.seen {
			empty = append(empty, id)
		}
	}
	slices.SortFunc(empty, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range empty {
		rep.Chains++
		rep.add(Problem{ChainID: id, Seq: heads[id].seq, What: ProblemHeadMismatch,
			Detail: fmt.Sprintf("head at seq %d but the chain has no records", heads[id].seq)})
	}
	// Checkpointed chains without any record left.
	var gone []uuid.UUID
	for id := range cps {
		if !seen[id] {
			gone = append(gone, id)
		}
	}
	slices.SortFunc(gone, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
	for _, id := range gone {
		cp := cps[id]
		rep.add(Problem{ChainID: id, Seq: 1, What: ProblemTruncatedTail,
			Detail: fmt.Sprintf("no records of the chain left; its checkpoint of %s has seq %d", cp.Time.Format(time.RFC3339), cp.Seq)})
	}
	return rep, nil
}

type verifyRow struct {
	chainID uuid.UUID
	row
}

// readPage appends to page the records after (afterID, after) in chain order, up to verifyPage.
func readPage(ctx context.Context, db pgdb.DB, page []verifyRow, afterID uuid.UUID, after int64) ([]verifyRow, error) {
	rows, err := db.Query(ctx, `SELECT chain_id, seq, id, occurred_at, request_id, actor_id, actor_org,
	actor_role, ambito_id, action, resource_type, resource_id, COALESCE(citizen_id, ''), COALESCE(purpose, ''),
	outcome, COALESCE(details::text, ''), prev_hash, hash
FROM audit_records WHERE (chain_id, seq) > ($1, $2) ORDER BY chain_id, seq LIMIT $3`, afterID, after, verifyPage)
	if err != nil {
		return page, err
	}
	defer rows.Close()
	for rows.Next() {
		var v verifyRow
		r := &v.row
		if err := rows.Scan(&v.chainID, &r.seq, &r.id, &r.occurredAt, &r.requestID, &r.actorID, &r.actorOrg,
			&r.actorRole, &r.ambitoID, &r.action, &r.resourceType, &r.resourceID, &r.citizenID, &r.purpose,
			&r.outcome, &r.details, &r.prevHash, &r.hash); err != nil {
			return page, err
		}
		page = append(page, v)
	}
	return page, rows.Err()
}

type knownHead struct {
	head
	seen bool
}

func loadHeads(ctx context.Context, db pgdb.DB) (map[uuid.UUID]*knownHead, error) {
	rows, err := db.Query(ctx, `SELECT chain_id, head_seq, head_hash FROM audit_chains`)
	if err != nil {
		return nil, fmt.Errorf("verify audit chains: %w", pgdb.Translate(err))
	}
	heads := map[uuid.UUID]*knownHead{}
	var (
		id uuid.UUID
		h  head
	)
	_, err = pgx.ForEachRow(rows, []any{&id, &h.seq, &h.hash}, func() error {
		heads[id] = &knownHead{head: head{seq: h.seq, hash: bytes.Clone(h.hash)}}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("verify audit chains: %w", pgdb.Translate(err))
	}
	return heads, nil
}

// chainCheck is the state of the walk through one chain.
type chainCheck struct {
	id   uuid.UUID
	head *knownHead  // nil: the chain has no head row
	next int64       // the seq expected next
	prev []byte      // the hash the next record must chain to
	last head        // the last record checked
	cp   *Checkpoint // the chain's signed checkpoint, if any
}

// startChain begins the walk of a chain. A chain missing from the heads read at the start may have
// been created since: its head is read again before it is declared missing.
func startChain(ctx context.Context, db pgdb.DB, heads map[uuid.UUID]*knownHead, id uuid.UUID) (*chainCheck, error) {
	c := &chainCheck{id: id, next: 1, prev: make([]byte, hashSize)}
	if h, ok := heads[id]; ok {
		h.seen = true
		c.head = h
		return c, nil
	}
	h := &knownHead{seen: true}
	err := db.QueryRow(ctx, `SELECT head_seq, head_hash FROM audit_chains WHERE chain_id = $1`, id).
		Scan(&h.seq, &h.hash)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return c, nil
	case err != nil:
		return nil, err
	}
	c.head = h
	return c, nil
}

func (c *chainCheck) check(rep *Report, r *row) {
	if c.head != nil && r.seq > c.head.seq {
		return // committed after the head was read
	}
	rep.Records++
	if r.seq != c.next {
		rep.add(Problem{ChainID: c.id, Seq: c.next, What: ProblemMissingRecord,
			Detail: fmt.Sprintf("seq %d to %d missing", c.next, r.seq-1)})
		// Resynchronize on the record found, so that a gap is reported once.
		c.prev = r.prevHash
	}
	want := computeHash(c.prev, c.id, r.seq, r)
	if !bytes.Equal(r.prevHash, c.prev) || !bytes.Equal(r.hash, want) {
		rep.add(Problem{ChainID: c.id, Seq: r.seq, RecordID: r.id.String(), AmbitoID: r.ambitoID, What: ProblemHashMismatch,
			Detail: "stored hash does not match the record's fields and chain"})
	}
	if c.cp != nil && r.seq == c.cp.Seq && hex.EncodeToString(r.hash) != c.cp.Hash {
		rep.add(Problem{ChainID: c.id, Seq: r.seq, RecordID: r.id.String(), AmbitoID: r.ambitoID, What: ProblemCheckpointMismatch,
			Detail: fmt.Sprintf("the record's hash differs from the checkpoint of %s", c.cp.Time.Format(time.RFC3339))})
	}
	// Chain on the stored hash, so that an altered record is reported alone.
	c.prev = r.hash
	c.next = r.seq + 1
	c.last = head{seq: r.seq, hash: r.hash}
}

func (c *chainCheck) finish(rep *Report) {
	if c.cp != nil && c.last.seq < c.cp.Seq {
		rep.add(Problem{ChainID: c.id, Seq: c.last.seq + 1, What: ProblemTruncatedTail,
			Detail: fmt.Sprintf("records end at seq %d; the checkpoint of %s has seq %d", c.last.seq, c.cp.Time.Format(time.RFC3339), c.cp.Seq)})
	}
	switch {
	case c.head == nil:
		rep.add(Problem{ChainID: c.id, Seq: c.last.seq, What: ProblemHeadMismatch,
			Detail: "records without a chain head"})
	case c.last.seq != c.head.seq:
		rep.add(Problem{ChainID: c.id, Seq: c.head.seq, What: ProblemHeadMismatch,
			Detail: fmt.Sprintf("head at seq %d, last record at seq %d", c.head.seq, c.last.seq)})
	case !bytes.Equal(c.last.hash, c.head.hash):
		rep.add(Problem{ChainID: c.id, Seq: c.head.seq, What: ProblemHeadMismatch,
			Detail: "head hash differs from the last record's hash"})
	}
}
