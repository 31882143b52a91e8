package peers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/go-kit/kit/endpoint"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
)

// Feed reads a peer's event feed, GET /v1/events?after=&limit= (pkg/events): the events.Source of
// an events.Consumer. The service's machine client needs the scope events:read (events.ScopeRead)
// and, bound to an ambito, reads only that ambito's events.
type Feed struct {
	c    *Client
	page endpoint.Endpoint
}

var _ events.Source = (*Feed)(nil)

// Feed returns the event feed of the peer.
func (c *Client) Feed() *Feed {
	f := &Feed{c: c}
	f.page = c.Endpoint(encodeFeed, f.decode)
	return f
}

type feedRequest struct {
	after string
	limit int
}

// Page implements events.Source. Its errors are those of Endpoint: errs.Unavailable when the
// peer is down.
func (f *Feed) Page(ctx context.Context, after string, limit int) (events.Page, error) {
	v, err := f.page(ctx, feedRequest{after: after, limit: limit})
	if err != nil {
		return events.Page{}, err
	}
	return v.(events.Page), nil
}

func encodeFeed(ctx context.Context, base *url.URL, request any) (*http.Request, error) {
	r := request.(feedRequest)
	u := base.JoinPath("v1", "events")
	q := url.Values{"limit": {strconv.Itoa(r.limit)}}
	if r.after != "" {
		q.Set("after", r.after)
	}
	u.RawQuery = q.Encode()
	return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
}

func (f *Feed) decode(_ context.Context, resp *http.Response) (any, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, errs.Wrap(errs.Internal, fmt.Errorf("status %d", resp.StatusCode),
			"the %s service answered GET %s with an undocumented status", f.c.cfg.Name, resp.Request.URL.Path)
	}
	var p events.Page
	if err := f.c.DecodeJSON(resp, &p); err != nil {
		return nil, err
	}
	return p, nil
}
