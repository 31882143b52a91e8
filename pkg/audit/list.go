package audit

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	pkgcursor "github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

// Page sizes of List.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Filter selects records for List. AmbitoID is required: the trail is read one tenant at a time.
// CitizenID and ActorID narrow it when set; From (inclusive) and To (exclusive) bound the time
// when not zero. Limit is the page size (DefaultLimit when zero, at most MaxLimit); Cursor is the
// next cursor returned by the previous page.
type Filter struct {
	AmbitoID  string
	CitizenID string
	ActorID   string
	From, To  time.Time
	Limit     int
	Cursor    string
}

// cursor is the position after which the next page starts, in the order of List.
type cursor struct {
	at      time.Time
	chainID uuid.UUID
	seq     int64
}

// cursors binds the cursors of List to the filter: a cursor of another list, or of the trail
// with other filters, is refused (pkg/cursor).
func (f Filter) cursors() pkgcursor.List {
	at := func(t time.Time) string {
		if t.IsZero() {
			return ""
		}
		return strconv.FormatInt(t.UnixMicro(), 10)
	}
	return pkgcursor.For("audit", f.AmbitoID, f.CitizenID, f.ActorID, at(f.From), at(f.To))
}

func (c cursor) encode(l pkgcursor.List) string {
	var b [32]byte
	binary.BigEndian.PutUint64(b[0:8], uint64(c.at.UnixMicro()))
	copy(b[8:24], c.chainID[:])
	binary.BigEndian.PutUint64(b[24:32], uint64(c.seq))
	return l.Encode(string(b[:]))
}

func decodeCursor(l pkgcursor.List, s string) (cursor, bool) {
	pos, err := l.Decode(s)
	b := []byte(pos)
	if err != nil || len(b) != 32 {
		return cursor{}, false
	}
	var c cursor
	c.at = time.UnixMicro(int64(binary.BigEndian.Uint64(b[0:8]))).UTC()
	copy(c.chainID[:], b[8:24])
	c.seq = int64(binary.BigEndian.Uint64(b[24:32]))
	return c, true
}

// List returns the records of f.AmbitoID matching f, newest first, and the cursor of the next
// page ("" on the last page). Records written at the same microsecond come in a stable order.
// Each record's Integrity tells whether its stored hash is the hash of its fields chained to its
// predecessor's stored hash (one more indexed query per page); a whole-trail check is Verify's.
func (l *Log) List(ctx context.Context, f Filter) ([]Record, string, error) {
	return List(ctx, l.pool, f)
}

// List is Log.List on any database handle (a pool or a transaction).
func List(ctx context.Context, db pgdb.DB, f Filter) ([]Record, string, error) {
	var fe errs.Fields
	fe.Check(f.AmbitoID != "", "ambito_id", "is required")
	fe.Check(f.Limit >= 0 && f.Limit <= MaxLimit, "limit", "must be between 1 and %d", MaxLimit)
	fe.Check(f.From.IsZero() || f.To.IsZero() || f.From.Before(f.To), "from", "must be before to")
	var cur cursor
	hasCursor := f.Cursor != ""
	cursors := f.cursors()
	if hasCursor {
		var ok bool
		cur, ok = decodeCursor(cursors, f.Cursor)
		fe.Check(ok, "cursor", "is not a cursor returned by this list with these filters")
	}
	if err := fe.Err(); err != nil {
		return nil, "", err
	}
	limit := f.Limit
	if limit == 0 {
		limit = DefaultLimit
	}

	var q strings.Builder
	args := []any{f.AmbitoID}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	q.WriteString(`SELECT chain_id, seq, id, occurred_at, request_id, actor_id, actor_org, actor_role, ambito_id,
	action, resource_type, resource_id, COALESCE(citizen_id, ''), COALESCE(purpose, ''), outcome, details::text,
	prev_hash, hash
FROM audit_records WHERE ambito_id = $1`)
	if f.CitizenID != "" {
		q.WriteString(" AND citizen_id = " + arg(f.CitizenID))
	}
	if f.ActorID != "" {
		q.WriteString(" AND actor_id = " + arg(f.ActorID))
	}
	if !f.From.IsZero() {
		q.WriteString(" AND occurred_at >= " + arg(f.From))
	}
	if !f.To.IsZero() {
		q.WriteString(" AND occurred_at < " + arg(f.To))
	}
	if hasCursor {
		q.WriteString(" AND (occurred_at, chain_id, seq) < (" + arg(cur.at) + ", " + arg(cur.chainID) + ", " + arg(cur.seq) + ")")
	}
	q.WriteString(" ORDER BY occurred_at DESC, chain_id DESC, seq DESC LIMIT " + arg(limit+1))

	rows, err := db.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", pgdb.Translate(err))
	}
	defer rows.Close()
	var (
		out    []Record
		stored []storedRow
		last   cursor
		next   string
	)
	for rows.Next() {
		if len(out) == limit {
			// The extra row only tells that there is a next page.
			next = last.encode(cursors)
			break
		}
		var (
			r       Record
			details *string
			sr      storedRow
		)
		if err := rows.Scan(&last.chainID, &last.seq, &r.ID, &r.Time, &r.RequestID, &r.ActorID, &r.ActorOrg,
			&r.ActorRole, &r.AmbitoID, &r.Action, &r.ResourceType, &r.ResourceID, &r.CitizenID, &r.Purpose,
			&r.Outcome, &details, &sr.prevHash, &sr.hash); err != nil {
			return nil, "", fmt.Errorf("list audit records: %w", pgdb.Translate(err))
		}
		sr.chainID, sr.seq = last.chainID, last.seq
		sr.row = row{id: r.ID, occurredAt: r.Time.UTC(), requestID: r.RequestID, actorID: r.ActorID, actorOrg: r.ActorOrg,
			actorRole: r.ActorRole, ambitoID: r.AmbitoID, action: r.Action, resourceType: r.ResourceType,
			resourceID: r.ResourceID, citizenID: r.CitizenID, purpose: r.Purpose, outcome: r.Outcome}
		if details != nil {
			sr.row.details = *details
		}
		stored = append(stored, sr)
		r.Time = r.Time.UTC()
		last.at = r.Time
		if details != nil {
			d := json.NewDecoder(bytes.NewReader([]byte(*details)))
			d.UseNumber()
			if err := d.Decode(&r.Details); err != nil {
				return nil, "", fmt.Errorf("list audit records: details of %s: %w", r.ID, err)
			}
		}
		out = append(out, r)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", pgdb.Translate(err))
	}
	if err := checkIntegrity(ctx, db, out, stored); err != nil {
		return nil, "", err
	}
	return out, next, nil
}

// storedRow is a listed record as stored, to recompute its hash.
type storedRow struct {
	chainID uuid.UUID
	seq     int64
	row
	prevHash, hash []byte
}

// checkIntegrity sets the Integrity of each listed record: its hash recomputed from its stored
// fields, and its prev_hash compared with its predecessor's stored hash (read by primary key,
// whatever the predecessor's ambito: only its hash is read).
func checkIntegrity(ctx context.Context, db pgdb.DB, out []Record, stored []storedRow) error {
	if len(out) == 0 {
		return nil
	}
	type pos struct {
		chain uuid.UUID
		seq   int64
	}
	var chains []uuid.UUID
	var seqs []int64
	for _, s := range stored {
		if s.seq > 1 {
			chains, seqs = append(chains, s.chainID), append(seqs, s.seq-1)
		}
	}
	prev := map[pos][]byte{}
	if len(chains) > 0 {
		rows, err := db.Query(ctx, `SELECT r.chain_id, r.seq, r.hash FROM audit_records r
	JOIN unnest($1::uuid[], $2::bigint[]) AS p(chain_id, seq) ON r.chain_id = p.chain_id AND r.seq = p.seq`, chains, seqs)
		if err != nil {
			return fmt.Errorf("list audit records: %w", pgdb.Translate(err))
		}
		for rows.Next() {
			var (
				p pos
				h []byte
			)
			if err := rows.Scan(&p.chain, &p.seq, &h); err != nil {
				rows.Close()
				return fmt.Errorf("list audit records: %w", pgdb.Translate(err))
			}
			prev[p] = h
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return fmt.Errorf("list audit records: %w", pgdb.Translate(err))
		}
	}
	zero := make([]byte, hashSize)
	for i := range stored {
		s := &stored[i]
		want, ok := zero, true
		if s.seq > 1 {
			want, ok = prev[pos{s.chainID, s.seq - 1}]
		}
		out[i].Integrity, out[i].IntegrityProblem = IntegrityOK, ""
		switch {
		case !bytes.Equal(computeHash(s.prevHash, s.chainID, s.seq, &s.row), s.hash):
			out[i].Integrity, out[i].IntegrityProblem = IntegrityBroken, "the record's fields do not match its hash: it was altered"
		case !ok:
			out[i].Integrity, out[i].IntegrityProblem = IntegrityBroken, fmt.Sprintf("the previous record of its chain (seq %d) is missing", s.seq-1)
		case !bytes.Equal(s.prevHash, want):
			out[i].Integrity, out[i].IntegrityProblem = IntegrityBroken, "the record does not chain to the previous record's hash"
		}
	}
	return nil
}
