package events_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// The feed only serves transactions older than the oldest one running in its database (or of
// unknown database), so a transaction ending between the snapshot and the proof can hold rows
// back for a moment: reads that expect new rows poll until a deadline.
const settle = 30 * time.Second

func appendCommitted(t *testing.T, pool *pgxpool.Pool, evs ...events.Event) {
	t.Helper()
	if err := pgdb.InTx(context.Background(), pool, func(tx pgx.Tx) error {
		return events.Append(context.Background(), tx, evs...)
	}); err != nil {
		t.Fatalf("Append() = %v", err)
	}
}

func ev(t *testing.T, ambito, aggregateID string) events.Event {
	t.Helper()
	e, err := events.New(ambito, "thing.created", "thing", aggregateID, map[string]string{"id": aggregateID})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

// readAll reads the whole feed from after in pages of limit, polling until it holds at least
// want events.
func readAll(t *testing.T, pool *pgxpool.Pool, after events.Cursor, limit int, ambito string, want int) ([]events.Event, events.Cursor) {
	t.Helper()
	deadline := time.Now().Add(settle)
	for {
		var all []events.Event
		c := after
		for {
			page, next, err := events.Read(context.Background(), pool, c, limit, ambito)
			if err != nil {
				t.Fatalf("Read() = %v", err)
			}
			if len(page) > limit {
				t.Fatalf("Read(limit %d) returned %d events", limit, len(page))
			}
			if len(page) == 0 {
				if next != c {
					t.Fatalf("empty page moved the cursor from %v to %v", c, next)
				}
				break
			}
			all = append(all, page...)
			c = next
		}
		if len(all) >= want || time.Now().After(deadline) {
			return all, c
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func aggregateIDs(evs []events.Event) []string {
	out := []string{}
	for _, e := range evs {
		out = append(out, e.AggregateID)
	}
	return out
}

func TestAppendRead(t *testing.T) {
	pool := pgtest.New(t, events.Migrations)
	ctx := context.Background()

	first := ev(t, "a1", "t1")
	first.Payload = json.RawMessage(`{"name": "Anna", "n": 1}`)
	appendCommitted(t, pool, first)
	appendCommitted(t, pool, ev(t, "a1", "t2"), ev(t, "a2", "t3"), ev(t, "a1", "t4")) // one transaction
	appendCommitted(t, pool, ev(t, "a2", "t5"))
	// Defaults filled by Append.
	appendCommitted(t, pool, events.Event{AmbitoID: "a1", Type: "thing.deleted", AggregateType: "thing", AggregateID: "t6"})

	got, end := readAll(t, pool, events.Cursor{}, 1000, "", 6)
	if diff := cmp.Diff([]string{"t1", "t2", "t3", "t4", "t5", "t6"}, aggregateIDs(got)); diff != "" {
		t.Fatalf("feed order (-want +got):\n%s", diff)
	}
	// The stored event comes back as written.
	g := got[0]
	if g.ID != first.ID || g.AmbitoID != "a1" || g.Type != "thing.created" || g.AggregateType != "thing" ||
		!g.OccurredAt.Equal(first.OccurredAt.Truncate(time.Microsecond)) || g.OccurredAt.Location() != time.UTC {
		t.Errorf("read %+v, want %+v", g, first)
	}
	var payload map[string]any
	if err := json.Unmarshal(g.Payload, &payload); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(map[string]any{"name": "Anna", "n": 1.0}, payload); diff != "" {
		t.Errorf("payload (-want +got):\n%s", diff)
	}
	last := got[5]
	if last.ID == uuid.Nil || last.OccurredAt.IsZero() || string(last.Payload) != "{}" {
		t.Errorf("defaults not filled: id %v, occurred_at %v, payload %s", last.ID, last.OccurredAt, last.Payload)
	}
	for i := 1; i < len(got); i++ {
		if got[i].Seq <= got[i-1].Seq && got[i].ID == got[i-1].ID {
			t.Errorf("event %d repeated", i)
		}
	}

	// Pages of every size see the same feed, each event once.
	for _, limit := range []int{1, 2, 4, 5} {
		paged, c := readAll(t, pool, events.Cursor{}, limit, "", 6)
		if diff := cmp.Diff(aggregateIDs(got), aggregateIDs(paged)); diff != "" {
			t.Errorf("feed in pages of %d (-want +got):\n%s", limit, diff)
		}
		if c != end {
			t.Errorf("final cursor in pages of %d = %v, want %v", limit, c, end)
		}
	}
	// The cursor survives its text form, as a client keeps it.
	c, err := events.ParseCursor(end.String())
	if err != nil || c != end {
		t.Errorf("ParseCursor(%q) = %v, %v; want %v", end.String(), c, err, end)
	}
	// Nothing new after the end; the cursor stays.
	page, next, err := events.Read(ctx, pool, end, 10, "")
	if err != nil || len(page) != 0 || next != end {
		t.Errorf("Read(end) = %d events, %v, %v; want none, the same cursor", len(page), next, err)
	}
	// New events continue from the cursor.
	appendCommitted(t, pool, ev(t, "a1", "t7"))
	more, _ := readAll(t, pool, end, 10, "", 1)
	if diff := cmp.Diff([]string{"t7"}, aggregateIDs(more)); diff != "" {
		t.Errorf("after the cursor (-want +got):\n%s", diff)
	}

	// The tenant filter.
	a2, _ := readAll(t, pool, events.Cursor{}, 1, "a2", 2)
	if diff := cmp.Diff([]string{"t3", "t5"}, aggregateIDs(a2)); diff != "" {
		t.Errorf("feed of a2 (-want +got):\n%s", diff)
	}
	none, _ := readAll(t, pool, events.Cursor{}, 10, "a9", 0)
	if len(none) != 0 {
		t.Errorf("feed of an ambito with no events = %v", aggregateIDs(none))
	}

	// A limit below 1 is refused, not sent to the database (or used as a slice capacity).
	for _, limit := range []int{0, -1} {
		page, c, err := events.Read(ctx, pool, end, limit, "")
		if errs.KindOf(err) != errs.Invalid || page != nil || c != end {
			t.Errorf("Read(limit %d) = %v, %v, %v; want nil, the same cursor, invalid", limit, page, c, err)
		}
	}
}

func TestAppendRolledBack(t *testing.T) {
	pool := pgtest.New(t, events.Migrations)
	ctx := context.Background()
	errRule := errors.New("rule broken")
	err := pgdb.InTx(ctx, pool, func(tx pgx.Tx) error {
		if err := events.Append(ctx, tx, ev(t, "a1", "ghost")); err != nil {
			return err
		}
		return errRule
	})
	if err != errRule {
		t.Fatalf("InTx() = %v, want the rule error", err)
	}
	appendCommitted(t, pool, ev(t, "a1", "marker"))
	got, _ := readAll(t, pool, events.Cursor{}, 10, "", 1)
	if diff := cmp.Diff([]string{"marker"}, aggregateIDs(got)); diff != "" {
		t.Errorf("feed (-want +got):\n%s", diff)
	}
}

func TestAppendDuplicateID(t *testing.T) {
	pool := pgtest.New(t, events.Migrations)
	e := ev(t, "a1", "t1")
	appendCommitted(t, pool, e)
	err := pgdb.InTx(context.Background(), pool, func(tx pgx.Tx) error { return events.Append(context.Background(), tx, e) })
	if got := errs.KindOf(err); got != errs.Conflict {
		t.Errorf("Append(same id twice) kind = %v (%v), want conflict", got, err)
	}
}

// TestReadNeverSkips is the reason the feed orders by transaction: a transaction that commits
// after a later one must still be served to a reader that already read past the later one.
func TestReadNeverSkips(t *testing.T) {
	tests := []struct {
		name        string
		firstWriter string // "A" or "B": which transaction appends (takes its xid) first
		want        []string
	}{
		{name: "first writer commits last", firstWriter: "A", want: []string{"A", "B"}},
		{name: "second writer commits last", firstWriter: "B", want: []string{"B", "A"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			pool := pgtest.New(t, events.Migrations)
			ctx := context.Background()
			appendCommitted(t, pool, ev(t, "a1", "before"))
			seen, cursor := readAll(t, pool, events.Cursor{}, 10, "", 1)
			if diff := cmp.Diff([]string{"before"}, aggregateIDs(seen)); diff != "" {
				t.Fatalf("feed (-want +got):\n%s", diff)
			}

			txA, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer txA.Rollback(ctx) //nolint:errcheck
			txB, err := pool.Begin(ctx)
			if err != nil {
				t.Fatal(err)
			}
			defer txB.Rollback(ctx) //nolint:errcheck
			txs := map[string]pgx.Tx{"A": txA, "B": txB}
			second := "B"
			if tc.firstWriter == "B" {
				second = "A"
			}
			for _, name := range []string{tc.firstWriter, second} {
				if err := events.Append(ctx, txs[name], ev(t, "a1", name)); err != nil {
					t.Fatalf("Append(%s) = %v", name, err)
				}
			}
			// B commits while A is still running.
			if err := txB.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			page, next, err := events.Read(ctx, pool, cursor, 10, "")
			if err != nil {
				t.Fatal(err)
			}
			if tc.firstWriter == "A" {
				// B's transaction is younger than the running A: it must wait, or a reader
				// would move past A's position.
				if len(page) != 0 || next != cursor {
					t.Fatalf("Read() with A running = %v (cursor %v); want nothing yet and cursor %v", aggregateIDs(page), next, cursor)
				}
			} else {
				// B is older than every running transaction: it may be served now, and A,
				// younger, must still come after it.
				if len(page) > 1 || (len(page) == 1 && page[0].AggregateID != "B") {
					t.Fatalf("Read() with A running = %v; want at most B", aggregateIDs(page))
				}
			}
			if err := txA.Commit(ctx); err != nil {
				t.Fatal(err)
			}
			got, _ := readAll(t, pool, cursor, 10, "", 2)
			if diff := cmp.Diff(tc.want, aggregateIDs(got)); diff != "" {
				t.Errorf("feed after both commits (-want +got):\n%s", diff)
			}
			// Resuming from the cursor of the partial read skips nothing either.
			rest, _ := readAll(t, pool, next, 10, "", len(tc.want)-len(page))
			if diff := cmp.Diff(tc.want[len(page):], aggregateIDs(rest)); diff != "" {
				t.Errorf("feed resumed from the partial read (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseCursor(t *testing.T) {
	tests := []struct {
		in   string
		want events.Cursor
		ok   bool
	}{
		{in: "", want: events.Cursor{}, ok: true},
		{in: "0", want: events.Cursor{}, ok: true},
		{in: "0-0", want: events.Cursor{}, ok: true},
		{in: "745-12", want: events.Cursor{XID: 745, Seq: 12}, ok: true},
		{in: "18446744073709551615-9223372036854775807", want: events.Cursor{XID: 18446744073709551615, Seq: 9223372036854775807}, ok: true},
		{in: "abc"},
		{in: "12"},
		{in: "12-"},
		{in: "-12"},
		{in: "12-x"},
		{in: "12--3"},
		{in: "1-2-3"},
		{in: " 1-2"},
		{in: "18446744073709551616-1"},
		{in: "1-9223372036854775808"},
		{in: "0x10-1"},
		{in: "1.5-2"},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			got, err := events.ParseCursor(tc.in)
			if !tc.ok {
				if err == nil {
					t.Fatalf("ParseCursor(%q) = %v, nil; want an error", tc.in, got)
				}
				if _, fields := kindFields(err); !cmp.Equal(fields, []string{"after"}) {
					t.Errorf("ParseCursor(%q) error fields %v, want [after]", tc.in, fields)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseCursor(%q) = %v", tc.in, err)
			}
			if got != tc.want {
				t.Errorf("ParseCursor(%q) = %v, want %v", tc.in, got, tc.want)
			}
			if back, _ := events.ParseCursor(got.String()); back != got {
				t.Errorf("ParseCursor(%q.String()) = %v, want %v", got, back, got)
			}
		})
	}
}

func TestParseQuery(t *testing.T) {
	tests := []struct {
		name       string
		query      string
		wantCursor events.Cursor
		wantLimit  int
		wantFields []string
	}{
		{name: "defaults", query: "", wantLimit: 100},
		{name: "both", query: "?after=5-6&limit=1000", wantCursor: events.Cursor{XID: 5, Seq: 6}, wantLimit: 1000},
		{name: "limit zero", query: "?limit=0", wantFields: []string{"limit"}},
		{name: "limit too large", query: "?limit=1001", wantFields: []string{"limit"}},
		{name: "limit not a number", query: "?limit=ten", wantFields: []string{"limit"}},
		{name: "bad cursor", query: "?after=yesterday", wantFields: []string{"after"}},
		{name: "both bad", query: "?after=x&limit=-1", wantFields: []string{"after", "limit"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, limit, err := events.ParseQuery(httptest.NewRequest(http.MethodGet, "/v1/events"+tc.query, nil))
			if tc.wantFields != nil {
				kind, fields := kindFields(err)
				if kind != errs.Invalid {
					t.Errorf("kind = %v (%v), want invalid", kind, err)
				}
				if diff := cmp.Diff(tc.wantFields, fields); diff != "" {
					t.Errorf("fields (-want +got):\n%s", diff)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseQuery() = %v", err)
			}
			if c != tc.wantCursor || limit != tc.wantLimit {
				t.Errorf("ParseQuery() = %v, %d; want %v, %d", c, limit, tc.wantCursor, tc.wantLimit)
			}
		})
	}
}

func kindFields(err error) (errs.Kind, []string) {
	var e *errs.Error
	if !errors.As(err, &e) {
		return errs.Internal, nil
	}
	var names []string
	for _, f := range e.Fields {
		names = append(names, f.Field)
	}
	return e.Kind, names
}

// TestOf: Of builds the event of a service's own payload, and panics on one that cannot be
// marshalled (a programming error).
func TestOf(t *testing.T) {
	ambito, agg := uuid.Must(uuid.NewV7()), uuid.Must(uuid.NewV7())
	e := events.Of(ambito, "thing.created", "thing", agg, map[string]any{"n": 1})
	if e.AmbitoID != ambito.String() || e.AggregateID != agg.String() || string(e.Payload) != `{"n":1}` || e.ID == uuid.Nil {
		t.Errorf("Of = %+v", e)
	}
	defer func() {
		if recover() == nil {
			t.Error("Of with a channel payload did not panic")
		}
	}()
	events.Of(ambito, "thing.created", "thing", agg, make(chan int))
}

// TestAppendMany: events appended together (one statement) are read back in their order,
// with their ids, payloads and times.
func TestAppendMany(t *testing.T) {
	pool := pgtest.New(t, events.Migrations)
	var evs []events.Event
	for i := range 5 {
		evs = append(evs, ev(t, "a1", fmt.Sprintf("agg-%d", i)))
	}
	evs[2].Payload = nil // an event without payload gets {}
	appendCommitted(t, pool, evs...)
	got, _ := readAll(t, pool, events.Cursor{}, 10, "a1", 5)
	if want := []string{"agg-0", "agg-1", "agg-2", "agg-3", "agg-4"}; !slices.Equal(aggregateIDs(got), want) {
		t.Fatalf("read %v, want %v", aggregateIDs(got), want)
	}
	for i, e := range got {
		if e.ID != evs[i].ID || !e.OccurredAt.Equal(evs[i].OccurredAt.Truncate(time.Microsecond)) {
			t.Errorf("event %d: %+v, want %+v", i, e, evs[i])
		}
	}
	if string(got[2].Payload) != "{}" || !strings.Contains(string(got[1].Payload), "agg-1") {
		t.Errorf("payloads %s, %s", got[2].Payload, got[1].Payload)
	}
}
