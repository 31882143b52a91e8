package events

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/auth"
)

// ScopeRead is the scope a machine client needs to read a service's event feed.
const ScopeRead = "events:read"

// FeedRequest is the decoded GET /v1/events request.
type FeedRequest struct {
	After Cursor
	Limit int
}

// DecodeFeedRequest is the go-kit decoder of GET /v1/events.
func DecodeFeedRequest(_ context.Context, r *http.Request) (any, error) {
	c, limit, err := ParseQuery(r)
	if err != nil {
		return nil, err
	}
	return FeedRequest{After: c, Limit: limit}, nil
}

// FeedEndpoint serves the feed to machine clients with the events:read scope. A client bound to
// an ambito reads only that ambito's events; a suite-wide client (no ambito) reads all.
func FeedEndpoint(pool *pgxpool.Pool) endpoint.Endpoint {
	e := func(ctx context.Context, request any) (any, error) {
		req := request.(FeedRequest)
		c, _ := auth.FromContext(ctx)
		items, next, err := Read(ctx, pool, req.After, req.Limit, c.AmbitoID)
		if err != nil {
			return nil, err
		}
		return Page{Items: items, NextCursor: next.String()}, nil
	}
	return auth.Require(auth.Scope(ScopeRead))(e)
}
