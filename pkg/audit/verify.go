package audit

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"

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
)

// MaxProblems caps the problems a Report lists; Truncated says when more were found.
const MaxProblems = 1000

// Problem is one inconsistency Verify found.
type Problem struct {
	ChainID uuid.UUID `json:"chain_id"`
	Seq     int64     `json:"seq"`              // where in the chain
	What    string    `json:"what"`             // one of the Problem... constants
	Detail  string    `json:"detail,omitempty"` // for a human
}

// Report is the result of Verify: how much was checked and what is wrong.
type Report struct {
	Chains    int       `json:"chains"`    // chains walked
	Records   int64     `json:"records"`   // records checked
	Problems  []Problem `json:"problems"`  // at most MaxProblems
	Truncated bool      `json:"truncated"` // more problems were found than listed
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

// Verify checks every chain: sequence numbers contiguous from 1, every hash recomputed from the
// stored fields and chained to the previous record, and the chain head matching the last record.
// It reads the records in pages, so memory does not grow with the size of the trail. Records
// committed after Verify read a chain's head are left out, so it can run while services write;
// run it in a REPEATABLE READ transaction for one consistent snapshot. The error reports a failure
// to read, not a problem found.
func Verify(ctx context.Context, db pgdb.DB) (Report, error) {
	var rep Report
	heads, err := loadHeads(ctx, db)
	if err != nil {
		return rep, err
	}
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
	head *knownHead // nil: the chain has no head row
	next int64      // the seq expected next
	prev []byte     // the hash the next record must chain to
	last head       // the last record checked
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
		rep.add(Problem{ChainID: c.id, Seq: r.seq, What: ProblemHashMismatch,
			Detail: "stored hash does not match the record's fields and chain"})
	}
	// Chain on the stored hash, so that an altered record is reported alone.
	c.prev = r.hash
	c.next = r.seq + 1
	c.last = head{seq: r.seq, hash: r.hash}
}

func (c *chainCheck) finish(rep *Report) {
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
