// Package events is the transactional outbox of every service: domain events are written in the
// same transaction as the change they describe, and served to other services at
// GET /v1/events?after=<cursor>&limit=, so that nothing is lost when a reader is down.
//
// Order. A bigserial alone is not a safe cursor: a transaction can take sequence number 10,
// commit after another took 11 and committed, and a reader that already moved past 11 would
// never see 10. The feed therefore orders by (transaction id, seq), the transaction id being the
// writer's top-level xid (pg_current_xact_id, the same in a savepoint), and serves only rows below
// a bound such that every row that can still appear sorts after every row served. The cursor
// encodes that position.
//
// The bound. A statement reading the feed sees the outbox as of its snapshot M, and
// pg_current_snapshot() in it is M itself. Every xid below M's xmax and not in M's in-progress
// list (xip) had ended when M was taken, so M shows exactly its committed rows; every xid at or
// above xmax, and every xid assigned later, is above the bound, which never exceeds xmax. What
// remains are the xids in xip: a transaction in progress may still commit rows, so the bound is
// the smallest of them (the oldest writer still running) — unless it is proven to belong to
// another database, where it can never write this outbox. xids are cluster-wide, so without that
// proof one long transaction anywhere on the server (another service's import chunk) would hold
// back every service's feed, as the snapshot's xmin did before.
//
// The proof (outbox_bound, migrations/00002) reads, in this order, after M: the process list
// (pg_stat_activity's pg_stat_get_activity, a fresh copy: pg_stat_clear_snapshot drops one cached earlier in the
// transaction), keeping the processes connected to another database; then the lock table
// (pg_locks), keeping the xids whose own lock (ExclusiveLock on the transactionid, taken by the
// backend running the transaction when the xid is assigned and held until it ends) is granted
// to one of those processes. Such an xid x was in progress at M and still held its lock when the
// lock table was read, so the backend running x was alive from before M until after the process
// list was read: the process the list showed with that pid was that backend (a pid names one
// live process at a time), and a backend's database never changes. A transaction that ends
// between M and either read, a prepared transaction (its lock has no process) or a process
// whose database the list does not show are not proven and stay bounds: they only delay the
// feed until the next read. Nothing is skipped; the reads need no privilege (pid and database
// of pg_stat_activity and pg_locks are visible to every role).
//
// What still holds the feed back is a transaction of this same database that holds an xid for
// long (it may still append events, which must sort after everything served), and a prepared
// transaction anywhere. A reader that wrote in its own transaction is bounded by its own xid.
package events

import (
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations creates the outbox table.
var Migrations = pgdb.Embedded("events", migrationFiles, "migrations")

// Event is one domain event.
type Event struct {
	Seq           int64           `json:"seq"`
	ID            uuid.UUID       `json:"id"`
	AmbitoID      string          `json:"ambito_id"`
	Type          string          `json:"type"` // "operator.created"
	AggregateType string          `json:"aggregate_type"`
	AggregateID   string          `json:"aggregate_id"`
	OccurredAt    time.Time       `json:"occurred_at"`
	Payload       json.RawMessage `json:"payload"`
}

// Append writes events in the caller's transaction.
func Append(ctx context.Context, tx pgdb.DB, evs ...Event) error {
	if len(evs) > 1 {
		return appendMany(ctx, tx, evs)
	}
	for _, ev := range evs {
		if ev.ID == uuid.Nil {
			ev.ID = uuid.Must(uuid.NewV7())
		}
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = time.Now().UTC()
		}
		if ev.Payload == nil {
			ev.Payload = json.RawMessage("{}")
		}
		_, err := tx.Exec(ctx, `INSERT INTO outbox (id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`,
			ev.ID, ev.AmbitoID, ev.Type, ev.AggregateType, ev.AggregateID, ev.OccurredAt, ev.Payload)
		if err != nil {
			return pgdb.Translate(err)
		}
	}
	return nil
}

// appendMany writes events in one statement (one round trip, however many): their seq follow
// their order.
func appendMany(ctx context.Context, tx pgdb.DB, evs []Event) error {
	n := len(evs)
	ids := make([]string, n)
	ambitos, types, aggTypes, aggIDs, payloads := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	at := make([]time.Time, n)
	now := time.Now().UTC()
	for i, ev := range evs {
		if ev.ID == uuid.Nil {
			ev.ID = uuid.Must(uuid.NewV7())
		}
		if ev.OccurredAt.IsZero() {
			ev.OccurredAt = now
		}
		if ev.Payload == nil {
			ev.Payload = json.RawMessage("{}")
		}
		ids[i], ambitos[i], types[i], aggTypes[i], aggIDs[i], at[i], payloads[i] = ev.ID.String(), ev.AmbitoID, ev.Type, ev.AggregateType,
			ev.AggregateID, ev.OccurredAt, string(ev.Payload)
	}
	_, err := tx.Exec(ctx, `INSERT INTO outbox (id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload)
		SELECT u.id::uuid, u.ambito, u.type, u.agg_type, u.agg_id, u.at, u.payload::jsonb
		FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::timestamptz[], $7::text[]) WITH ORDINALITY
		     AS u(id, ambito, type, agg_type, agg_id, at, payload, n)
		ORDER BY u.n`, ids, ambitos, types, aggTypes, aggIDs, at, payloads)
	return pgdb.Translate(err)
}

// New builds an event with a JSON payload.
func New(ambitoID, typ, aggregateType, aggregateID string, payload any) (Event, error) {
	b, err := json.Marshal(payload)
	if err != nil {
		return Event{}, fmt.Errorf("marshal event payload: %w", err)
	}
	return Event{ID: uuid.Must(uuid.NewV7()), AmbitoID: ambitoID, Type: typ, AggregateType: aggregateType,
		AggregateID: aggregateID, OccurredAt: time.Now().UTC(), Payload: b}, nil
}

// Of is the event typ of the aggregate aggType aggID of an ambito, with payload, for a service's
// own payloads (its structs and maps): one that cannot be marshalled is a programming error, and
// Of panics.
func Of(ambitoID uuid.UUID, typ, aggType string, aggID uuid.UUID, payload any) Event {
	ev, err := New(ambitoID.String(), typ, aggType, aggID.String(), payload)
	if err != nil {
		panic(err)
	}
	return ev
}

// Cursor is a position in the feed: after the event of transaction XID with sequence Seq.
type Cursor struct {
	XID uint64
	Seq int64
}

// String encodes the cursor as "<xid>-<seq>".
func (c Cursor) String() string {
	return strconv.FormatUint(c.XID, 10) + "-" + strconv.FormatInt(c.Seq, 10)
}

// ParseCursor decodes a cursor; "" or "0" is the start of the feed.
func ParseCursor(s string) (Cursor, error) {
	if s == "" || s == "0" {
		return Cursor{}, nil
	}
	a, b, ok := strings.Cut(s, "-")
	x, err1 := strconv.ParseUint(a, 10, 64)
	q, err2 := strconv.ParseInt(b, 10, 64)
	if !ok || err1 != nil || err2 != nil || q < 0 {
		return Cursor{}, errs.InvalidField("after", "is not a cursor returned by this feed")
	}
	return Cursor{XID: x, Seq: q}, nil
}

// Read returns up to limit events after the cursor, and the cursor to continue from (the same
// cursor when there is nothing new). ambitoID "" reads every tenant (suite-wide service clients).
func Read(ctx context.Context, db pgdb.DB, after Cursor, limit int, ambitoID string) ([]Event, Cursor, error) {
	if limit < 1 {
		return nil, after, errs.InvalidField("limit", "must be at least 1")
	}
	rows, err := db.Query(ctx, `
		SELECT seq, xid::text::numeric::bigint, id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload
		FROM outbox
		WHERE (xid, seq) > ($1::text::xid8, $2)
		  AND xid < (SELECT outbox_bound(pg_current_snapshot()))
		  AND ($4 = '' OR ambito_id = $4)
		ORDER BY xid, seq
		LIMIT $3`, strconv.FormatUint(after.XID, 10), after.Seq, limit, ambitoID)
	if err != nil {
		return nil, after, pgdb.Translate(err)
	}
	defer rows.Close()
	out := make([]Event, 0, limit)
	next := after
	for rows.Next() {
		var ev Event
		var xid int64
		if err := rows.Scan(&ev.Seq, &xid, &ev.ID, &ev.AmbitoID, &ev.Type, &ev.AggregateType, &ev.AggregateID, &ev.OccurredAt, &ev.Payload); err != nil {
			return nil, after, pgdb.Translate(err)
		}
		ev.OccurredAt = ev.OccurredAt.UTC()
		out = append(out, ev)
		next = Cursor{XID: uint64(xid), Seq: ev.Seq}
	}
	if err := rows.Err(); err != nil {
		return nil, after, pgdb.Translate(err)
	}
	return out, next, nil
}

// Page is the feed's answer.
type Page struct {
	Items      []Event `json:"items"`
	NextCursor string  `json:"next_cursor"`
}

// ParseQuery reads after and limit (default 100, at most 1000) from a feed request.
func ParseQuery(r *http.Request) (Cursor, int, error) {
	q := r.URL.Query()
	var f errs.Fields
	c, err := ParseCursor(q.Get("after"))
	if err != nil {
		f.Add("after", "is not a cursor returned by this feed")
	}
	limit := 100
	if s := q.Get("limit"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 || n > 1000 {
			f.Add("limit", "must be an integer from 1 to 1000")
		} else {
			limit = n
		}
	}
	return c, limit, f.Err()
}
