package client

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
)

// MaxBatch is the most visits one call of POST /v1/visits:batch carries; PostVisits splits
// larger batches.
const MaxBatch = 1000

// page is a page of a cursor list.
type page[T any] struct {
	Items      []T    `json:"items"`
	NextCursor string `json:"next_cursor"`
}

// list iterates over the pages of path with the query q, following next_cursor. An error ends
// the iteration (yielded once, with a zero item).
func list[T any](ctx context.Context, c *Client, path string, q url.Values) iter.Seq2[T, error] {
	return func(yield func(T, error) bool) {
		q := cloneValues(q)
		for {
			var p page[T]
			u := path
			if len(q) > 0 {
				u += "?" + q.Encode()
			}
			if _, err := c.do(ctx, http.MethodGet, u, nil, &p, callOptions{}); err != nil {
				var zero T
				yield(zero, err)
				return
			}
			for _, it := range p.Items {
				if !yield(it, nil) {
					return
				}
			}
			if p.NextCursor == "" {
				return
			}
			q.Set("cursor", p.NextCursor)
		}
	}
}

func cloneValues(q url.Values) url.Values {
	out := url.Values{}
	for k, v := range q {
		out[k] = append([]string(nil), v...)
	}
	return out
}

func setIf(q url.Values, key, value string) {
	if value != "" {
		q.Set(key, value)
	}
}

// ListAuthorizations iterates over the authorizations the client may see (a cooperative's:
// its own), newest first, as f narrows them, fetching pages as the loop goes on. An error ends
// the loop:
//
//	for a, err := range c.ListAuthorizations(ctx, client.AuthorizationFilter{Status: client.AuthorizationActive}) {
//		if err != nil {
//			return err
//		}
//		fmt.Println(a.ID, a.ServiceType, a.Period.From, a.Period.To)
//	}
//
// Needs the scope authorizations:read.
func (c *Client) ListAuthorizations(ctx context.Context, f AuthorizationFilter) iter.Seq2[Authorization, error] {
	q := url.Values{}
	setIf(q, "status", f.Status)
	setIf(q, "service_type", f.ServiceType)
	setIf(q, "citizen_id", f.CitizenID)
	setIf(q, "case_id", f.CaseID)
	if f.PageSize > 0 {
		q.Set("limit", strconv.Itoa(f.PageSize))
	}
	return list[Authorization](ctx, c, "/v1/authorizations", q)
}

// GetAuthorization returns an authorization. ErrNotFound for an unknown one, and for another
// cooperative's.
func (c *Client) GetAuthorization(ctx context.Context, id string) (Authorization, error) {
	var a Authorization
	_, err := c.do(ctx, http.MethodGet, "/v1/authorizations/"+url.PathEscape(id), nil, &a, callOptions{})
	return a, err
}

// PostVisit records one visit. A visit breaking a rule is refused with a *Problem naming the
// field and its Code. Retried with the same Idempotency-Key (a new one per call, or the one of
// IdempotencyKey). Needs the scope visits:write.
func (c *Client) PostVisit(ctx context.Context, in VisitInput, opts ...Option) (Visit, error) {
	o := optionsOf(opts)
	if o.key != "" {
		if err := validKey(o.key); err != nil {
			return Visit{}, err
		}
	}
	var v Visit
	_, err := c.do(ctx, http.MethodPost, "/v1/visits", in, &v, o)
	return v, err
}

// PostVisits records a batch of visits of any size, in calls of at most MaxBatch visits, one
// after the other. The valid visits are stored even when others are refused: the result has,
// for each visit in the order of visits, either the Visit stored or the Problem that refused it
// (Problem.Errors names the field as visits[i].field, i the visit's position in its call).
//
// Each call carries its own Idempotency-Key, made once and sent again on each retry: a lost
// answer is retried without storing anything twice. With IdempotencyKey(k), the n-th call
// (from 0) carries k/n (k itself when there is one call): sending the same batch again with the
// same k, after a crash, stores nothing twice and answers as the first time.
//
// A call that fails as a whole (after its retries) ends PostVisits: the result holds the
// items of the calls done before, and the error. Needs the scope visits:write.
func (c *Client) PostVisits(ctx context.Context, visits []VisitInput, opts ...Option) (BatchResult, error) {
	o := optionsOf(opts)
	base := o.key
	if base == "" {
		base = NewIdempotencyKey()
	} else if err := validKey(base); err != nil {
		return BatchResult{}, err
	}
	res := BatchResult{Results: make([]BatchItem, 0, len(visits))}
	if len(visits) == 0 {
		return res, nil
	}
	calls := (len(visits) + MaxBatch - 1) / MaxBatch
	for n := range calls {
		from, to := n*MaxBatch, min((n+1)*MaxBatch, len(visits))
		key := base
		if calls > 1 {
			key = base + "/" + strconv.Itoa(n)
		}
		var got BatchResult
		if _, err := c.do(ctx, http.MethodPost, "/v1/visits:batch", map[string]any{"visits": visits[from:to]}, &got,
			callOptions{key: key}); err != nil {
			if calls > 1 {
				err = fmt.Errorf("client: visits %d to %d of the batch: %w", from, to-1, err)
			}
			return res, err
		}
		if len(got.Results) != to-from {
			return res, fmt.Errorf("client: visits %d to %d of the batch: the service answered %d results for %d visits",
				from, to-1, len(got.Results), to-from)
		}
		for _, it := range got.Results {
			it.Index += from
			if it.OK() {
				res.Stored++
			} else {
				res.Failed++
			}
			res.Results = append(res.Results, it)
		}
	}
	return res, nil
}

// GetVisit returns a visit.
func (c *Client) GetVisit(ctx context.Context, id string) (Visit, error) {
	var v Visit
	_, err := c.do(ctx, http.MethodGet, "/v1/visits/"+url.PathEscape(id), nil, &v, callOptions{})
	return v, err
}

// ListVisits iterates over the visits the client may see, as f narrows them (see
// ListAuthorizations). Needs the scope visits:read.
func (c *Client) ListVisits(ctx context.Context, f VisitFilter) iter.Seq2[Visit, error] {
	q := url.Values{}
	setIf(q, "authorization_id", f.AuthorizationID)
	setIf(q, "operator_id", f.OperatorID)
	setIf(q, "month", f.Month)
	setIf(q, "status", f.Status)
	if f.PageSize > 0 {
		q.Set("limit", strconv.Itoa(f.PageSize))
	}
	return list[Visit](ctx, c, "/v1/visits", q)
}

// VoidVisit voids a visit with a reason, and records replacement in its place when it is not
// nil. Both stay visible: nothing is deleted. Needs the scope visits:write.
func (c *Client) VoidVisit(ctx context.Context, id, reason string, replacement *VisitInput, opts ...Option) (VoidResult, error) {
	var r VoidResult
	_, err := c.do(ctx, http.MethodPost, "/v1/visits/"+url.PathEscape(id)+"/void",
		map[string]any{"reason": reason, "replacement": replacement}, &r, optionsOf(opts))
	return r, err
}

var monthRE = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

func statementPath(cooperativeID, month string) (string, error) {
	if !monthRE.MatchString(month) {
		return "", fmt.Errorf("client: month %q is not YYYY-MM", month)
	}
	if cooperativeID == "" {
		return "", errors.New("client: the cooperative id is required (Client.CooperativeID gives the client's own)")
	}
	return "/v1/statements/" + url.PathEscape(cooperativeID) + "/" + month, nil
}

// GetStatement returns the statement of a cooperative for a month (YYYY-MM), with its ETag.
// Needs the scope statements:read.
func (c *Client) GetStatement(ctx context.Context, cooperativeID, month string) (Statement, error) {
	path, err := statementPath(cooperativeID, month)
	if err != nil {
		return Statement{}, err
	}
	var s Statement
	h, err := c.do(ctx, http.MethodGet, path, nil, &s, callOptions{})
	if h != nil {
		s.ETag = h.Get("ETag")
	}
	return s, err
}

// SubmitStatement submits the cooperative's statement of a month to the comune, which approves
// it or sends it back with notes. With IfMatch(s.ETag) it fails with ErrPreconditionFailed if
// the statement changed since it was read. A statement submitted already is ErrConflict (code
// statement_status) — also what a retry gets when the answer of the first submit was lost:
// read the statement to see where it is. Needs the scope statements:write.
func (c *Client) SubmitStatement(ctx context.Context, cooperativeID, month string, opts ...Option) (Statement, error) {
	path, err := statementPath(cooperativeID, month)
	if err != nil {
		return Statement{}, err
	}
	var s Statement
	h, err := c.do(ctx, http.MethodPost, path+"/submit", nil, &s, optionsOf(opts))
	if h != nil {
		s.ETag = h.Get("ETag")
	}
	return s, err
}

// ExportStatement writes the export of a statement in the format (CSV, XLSX or PDF) to w and
// returns its size. A failure before the export starts is retried; one midway is not (w holds
// part of it: discard it and call again). Needs the scope statements:read.
func (c *Client) ExportStatement(ctx context.Context, cooperativeID, month string, format ExportFormat, w io.Writer) (int64, error) {
	path, err := statementPath(cooperativeID, month)
	if err != nil {
		return 0, err
	}
	accept := map[ExportFormat]string{ExportCSV: "text/csv",
		ExportXLSX: "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", ExportPDF: "application/pdf"}[format]
	if accept == "" {
		return 0, fmt.Errorf("client: unknown export format %q", format)
	}
	req := request{method: http.MethodGet, url: c.base + path + "/export." + string(format), accept: accept + ", application/problem+json"}
	var n int64
	err = c.sendWith(ctx, req, func(resp *http.Response) error {
		var err error
		if n, err = io.Copy(w, resp.Body); err != nil {
			return permanent{fmt.Errorf("the export broke off after %d bytes: %w", n, err)}
		}
		return nil
	})
	return n, err
}
