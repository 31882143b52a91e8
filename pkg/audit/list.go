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
	action, resource_type, resource_id, COALESCE(citizen_id, ''), COALESCE(purpose, ''), outcome, details::text
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
		out  []Record
		last cursor
	)
	for rows.Next() {
		if len(out) == limit {
			// The extra row only tells that there is a next page.
			return out, last.encode(cursors), nil
		}
		var (
			r       Record
			details *string
		)
		if err := rows.Scan(&last.chainID, &last.seq, &r.ID, &r.Time, &r.RequestID, &r.ActorID, &r.ActorOrg,
			&r.ActorRole, &r.AmbitoID, &r.Action, &r.ResourceType, &r.ResourceID, &r.CitizenID, &r.Purpose,
			&r.Outcome, &details); err != nil {
			return nil, "", fmt.Errorf("list audit records: %w", pgdb.Translate(err))
		}
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
	if err := rows.Err(); err != nil {
		return nil, "", fmt.Errorf("list audit records: %w", pgdb.Translate(err))
	}
	return out, "", nil
}
