package events_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func TestFeedEndpoint(t *testing.T) {
	pool := pgtest.New(t, events.Migrations)
	appendCommitted(t, pool, ev(t, "a1", "t1"), ev(t, "a2", "t2"))
	appendCommitted(t, pool, ev(t, "a1", "t3"))
	readAll(t, pool, events.Cursor{}, 10, "", 3) // wait until the feed shows all three

	tests := []struct {
		name       string
		claims     *auth.Claims
		wantStatus int // 0: served
		want       []string
	}{
		{name: "no claims", wantStatus: 401},
		{name: "operator, even an admin", claims: &auth.Claims{Subject: "op", Kind: auth.KindOperator, Role: auth.RoleAmbitoAdmin,
			AmbitoID: "a1", Scopes: []string{events.ScopeRead}}, wantStatus: 403},
		{name: "client without the scope", claims: &auth.Claims{Subject: "c", Kind: auth.KindClient, Role: auth.RoleClient,
			AmbitoID: "a1", Scopes: []string{"other:read"}}, wantStatus: 403},
		{name: "client of one ambito", claims: &auth.Claims{Subject: "c", Kind: auth.KindClient, Role: auth.RoleClient,
			AmbitoID: "a1", Scopes: []string{events.ScopeRead}}, want: []string{"t1", "t3"}},
		{name: "client of another ambito", claims: &auth.Claims{Subject: "c", Kind: auth.KindClient, Role: auth.RoleClient,
			AmbitoID: "a2", Scopes: []string{"x", events.ScopeRead}}, want: []string{"t2"}},
		{name: "suite-wide client", claims: &auth.Claims{Subject: "svc", Kind: auth.KindClient, Role: auth.RoleClient,
			Scopes: []string{events.ScopeRead}}, want: []string{"t1", "t2", "t3"}},
	}
	e := events.FeedEndpoint(pool)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			if tc.claims != nil {
				ctx = auth.WithClaims(ctx, *tc.claims)
			}
			resp, err := e(ctx, events.FeedRequest{Limit: 100})
			if tc.wantStatus != 0 {
				if got := httpapi.StatusOf(err); got != tc.wantStatus {
					t.Errorf("FeedEndpoint() = %v, %v; want status %d", resp, err, tc.wantStatus)
				}
				return
			}
			if err != nil {
				t.Fatalf("FeedEndpoint() = %v", err)
			}
			page := resp.(events.Page)
			if diff := cmp.Diff(tc.want, aggregateIDs(page.Items)); diff != "" {
				t.Errorf("items (-want +got):\n%s", diff)
			}
			// Continuing from next_cursor gives nothing more.
			c, err := events.ParseCursor(page.NextCursor)
			if err != nil {
				t.Fatalf("next_cursor %q: %v", page.NextCursor, err)
			}
			resp, err = e(ctx, events.FeedRequest{After: c, Limit: 100})
			if err != nil {
				t.Fatal(err)
			}
			if more := resp.(events.Page); len(more.Items) != 0 || more.NextCursor != page.NextCursor {
				t.Errorf("page after next_cursor = %v, %q; want empty, %q", aggregateIDs(more.Items), more.NextCursor, page.NextCursor)
			}
		})
	}
}

// TestFeedHTTP serves the feed through go-kit the way a service wires it.
func TestFeedHTTP(t *testing.T) {
	pool := pgtest.New(t, events.Migrations)
	appendCommitted(t, pool, ev(t, "a1", "t1"), ev(t, "a1", "t2"), ev(t, "a1", "t3"))
	readAll(t, pool, events.Cursor{}, 10, "", 3)

	client := auth.Claims{Subject: "c", Kind: auth.KindClient, Role: auth.RoleClient, Scopes: []string{events.ScopeRead}}
	withClaims := func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			next.ServeHTTP(w, r.WithContext(auth.WithClaims(r.Context(), client)))
		})
	}
	srv := httpapi.NewServer(slog.New(slog.DiscardHandler), events.FeedEndpoint(pool), events.DecodeFeedRequest)
	h := httpapi.Chain(srv, httpapi.RequestIDs(), withClaims)

	get := func(query string) (int, map[string]any) {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/v1/events"+query, nil))
		var body map[string]any
		if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
			t.Fatalf("GET %s: %q: %v", query, rec.Body.String(), err)
		}
		return rec.Code, body
	}
	var ids []string
	cursor := ""
	for range 10 {
		code, body := get("?limit=2&after=" + cursor)
		if code != 200 {
			t.Fatalf("GET = %d %v", code, body)
		}
		items := body["items"].([]any)
		if len(items) == 0 {
			if body["next_cursor"] != cursor && cursor != "" {
				t.Errorf("empty page next_cursor = %v, want %q", body["next_cursor"], cursor)
			}
			break
		}
		for _, it := range items {
			m := it.(map[string]any)
			ids = append(ids, m["aggregate_id"].(string))
			if _, err := time.Parse(time.RFC3339Nano, m["occurred_at"].(string)); err != nil {
				t.Errorf("occurred_at %v: %v", m["occurred_at"], err)
			}
		}
		cursor = body["next_cursor"].(string)
	}
	if diff := cmp.Diff([]string{"t1", "t2", "t3"}, ids); diff != "" {
		t.Errorf("feed over HTTP (-want +got):\n%s", diff)
	}
	code, body := get("?limit=5000&after=nope")
	if code != 400 {
		t.Errorf("GET with a bad query = %d, want 400", code)
	}
	if got := len(body["errors"].([]any)); got != 2 {
		t.Errorf("problem lists %d fields, want 2 (after, limit): %v", got, body)
	}
}
