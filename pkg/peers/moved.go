package peers

import (
	"context"
	"net/http"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Moved is a peer's 308 Permanent Redirect naming where a record went: registry's Moved problem
// (a merged citizen: id, merged_into). Redirects are never followed by the client itself.
type Moved struct {
	ID         uuid.UUID `json:"id"`
	MergedInto uuid.UUID `json:"merged_into"`
}

// DecodeMoved reads the body of a 308 answer; one without merged_into breaks the contract.
func (c *Client) DecodeMoved(resp *http.Response) (Moved, error) {
	var m Moved
	if err := c.DecodeJSON(resp, &m); err != nil {
		return Moved{}, err
	}
	if m.MergedInto == uuid.Nil {
		return Moved{}, errs.E(errs.Internal, "the %s service answered 308 without merged_into", c.cfg.Name)
	}
	return m, nil
}

// FollowMoved calls ep with a record's id and, while the answer is a Moved (the decoder of ep
// returns it for a 308), again with the id it moved to, up to maxMoves moves (A merged into B,
// B later into C), all within the client's timeout. It returns the final answer and the id it
// was read at (the survivor's, when the record was merged). A 404 is errs.NotFound naming the
// id asked for.
func (c *Client) FollowMoved(ctx context.Context, ep endpoint.Endpoint, id uuid.UUID, maxMoves int) (any, uuid.UUID, error) {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	at := id
	for range maxMoves + 1 {
		v, err := ep(ctx, at)
		if errs.Is(err, errs.NotFound) {
			return nil, uuid.Nil, errs.Wrap(errs.NotFound, err, "no record %s in the %s service", id, c.cfg.Name)
		}
		if err != nil {
			return nil, uuid.Nil, err
		}
		m, ok := v.(Moved)
		if !ok {
			return v, at, nil
		}
		at = m.MergedInto
	}
	return nil, uuid.Nil, errs.E(errs.Internal, "record %s of the %s service was merged more than %d times", id, c.cfg.Name, maxMoves)
}
