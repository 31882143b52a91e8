package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/ivload"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/suite"
)

// batchSize is the visits of one POST /v1/visits:batch (the contract's most).
const batchSize = 1000

// ivTokens are the interventions targets' tokens: the write cooperative's machine client's and
// the statement cooperative's coordinator's. The pointers are made once; refresh writes
// through them between ramps, while no request runs.
type ivTokens struct{ client, coord *string }

func (t ivTokens) refresh(ctx context.Context, s *suite.Suite, st ivload.Setup) error {
	c := idclient.New(s.URL("identity"), nil)
	tok, err := c.ClientCredentials(ctx, st.ClientID, st.Secret)
	if err != nil {
		return fmt.Errorf("token of the bench cooperative's client: %w", err)
	}
	*t.client = tok.AccessToken
	if tok, err = c.SignIn(ctx, st.CoordEmail, st.CoordPass, ""); err != nil {
		return fmt.Errorf("sign in as %s: %w", st.CoordEmail, err)
	}
	*t.coord = tok.AccessToken
	return nil
}

// batchResult is what the bench reads of a batch's answer.
type batchResult struct {
	Stored  int `json:"stored"`
	Failed  int `json:"failed"`
	Results []struct {
		Index   int             `json:"index"`
		Status  int             `json:"status"`
		Problem json.RawMessage `json:"problem"`
	} `json:"results"`
}

// postBatch sends the batch-th batch of visits (ivload.BatchSlot) to url and checks that every
// one was stored: an item refused is the bench's own doing (a 422 that voids the ramp).
func postBatch(ctx context.Context, hc *http.Client, url string, token *string, ops int, body func(op int, n int64) (map[string]any, error),
	batch int64, want int) (int, error) {
	items := make([]map[string]any, 0, batchSize)
	for j := range batchSize {
		v, err := body(ivload.BatchSlot(batch, j, batchSize, ops))
		if err != nil {
			return 0, err
		}
		items = append(items, v)
	}
	req, err := jsonRequest(ctx, http.MethodPost, url, map[string]any{"visits": items})
	if err != nil {
		return 0, err
	}
	if token != nil {
		req.Header.Set("Authorization", "Bearer "+*token)
	}
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("read body: %w", err)
	}
	if resp.StatusCode != want {
		return resp.StatusCode, fmt.Errorf("status %d: %.300s", resp.StatusCode, b)
	}
	var r batchResult
	if err := json.Unmarshal(b, &r); err != nil {
		return resp.StatusCode, fmt.Errorf("the batch's answer: %w", err)
	}
	if r.Stored != batchSize || r.Failed != 0 {
		msg := ""
		for _, it := range r.Results {
			if it.Status >= 300 {
				msg = fmt.Sprintf("item %d: %d %.300s", it.Index, it.Status, it.Problem)
				break
			}
		}
		return http.StatusUnprocessableEntity, fmt.Errorf("the batch stored %d of %d visits: %s", r.Stored, batchSize, msg)
	}
	return resp.StatusCode, nil
}

// The interventions ramps' shapes: the batch ramp counts batches of 1,000 visits (50/s is the
// target's 50,000 visits/s), its bound is p99 <= 2 s (a batch is one request of 1,000 rows: 25 ms
// cannot hold, the figure is visits stored per second); the statement read's bound is its
// target, p99 <= 100 ms.
const (
	batchStart, batchMax = 1, 100
	batchP99             = 2 * time.Second
	singleStart          = 50
	singleMax            = 3000
	stmtP99              = 100 * time.Millisecond
)

// ivRamps are the ramps of the write targets, to size their calendars before they run.
func ivCalendars(step time.Duration) ([]ivload.Calendar, error) {
	b := benchRamp(batchStart, batchMax, step, load.Bound{}).MaxRequests() * batchSize
	s := benchRamp(singleStart, singleMax, step, load.Bound{}).MaxRequests()
	return ivload.Calendars(b, b, s, s)
}

// interventionsTargets are interventions' operations: visits through visits:batch and one at
// a time, each beside its floor, and a month's statement over the filled table.
func interventionsTargets(hc *http.Client, ivURL, floorURL string, st ivload.Setup, cals []ivload.Calendar, tok ivTokens, fill int64) []target {
	batch := func(url string, token *string, cal ivload.Calendar, body func(ivload.Calendar, int, int64) (map[string]any, error), want int) load.Op {
		return load.Op{Do: func(ctx context.Context, i int64) (int, error) {
			return postBatch(ctx, hc, url, token, len(st.Operators), func(op int, n int64) (map[string]any, error) { return body(cal, op, n) }, i, want)
		}}
	}
	single := func(url string, token *string, cal ivload.Calendar, body func(ivload.Calendar, int64) (map[string]any, error)) load.Op {
		return load.Op{Do: load.HTTP(hc, func(ctx context.Context, i int64) (*http.Request, error) {
			v, err := body(cal, i)
			if err != nil {
				return nil, err
			}
			req, err := jsonRequest(ctx, http.MethodPost, url, v)
			if err != nil {
				return nil, err
			}
			if token != nil {
				req.Header.Set("Authorization", "Bearer "+*token)
			}
			req.Header.Set("Idempotency-Key", uuid.NewString())
			return req, nil
		}, http.StatusCreated)}
	}
	bb := load.Bound{P99: batchP99, ErrorRate: 0.01}
	perDay := itoa(len(st.Operators) * ivload.SlotsPerDay)
	stmtURL := ivURL + "/v1/statements/" + st.StmtCoop.String() + "/" + stmtMonth
	return []target{
		{group: "interventions: visits through visits:batch", name: "floor: visits batch", start: batchStart, max: batchMax, bound: bb, perRequest: batchSize,
			note: "csifloor: the store's batch transaction for 1,000 visits (the same statements), no auth/validation/audit/identity/cache; req/s are batches/s",
			op:   batch(floorURL+"/visits:batch", nil, cals[1], st.FloorOf, http.StatusOK)},
		{group: "interventions: visits through visits:batch", name: "visits batch", floor: "floor: visits batch", start: batchStart, max: batchMax, bound: bb,
			perRequest: batchSize, minRate: 50, tokens: true, service: "interventions",
			note: "POST /v1/visits:batch of 1,000 new visits (Idempotency-Key), by the bench cooperative's machine client (visits:write): " +
				itoa(len(st.Operators)) + " operators × " + perDay + " quarter-hour slots a day over " + itoa(len(st.WriteAuths)) +
				" active authorizations, so that no visit overlaps another; consecutive batches take turns on " + itoa(ivload.BatchGroups) +
				" groups of operators and authorizations (a batch locks its authorizations until it commits: as the systems of different cooperatives would); every item must be stored (an item refused voids the ramp); req/s are batches/s",
			op: batch(ivURL+"/v1/visits:batch", tok.client, cals[0], st.VisitOf, http.StatusOK)},
		{group: "interventions: single visits", name: "floor: visit create", start: singleStart, max: singleMax,
			note: "csifloor: the store's transaction for one visit (the same statements), no auth/validation/audit/identity/cache",
			op:   single(floorURL+"/visits", nil, cals[3], st.FloorVisit)},
		{group: "interventions: single visits", name: "visit create", floor: "floor: visit create", start: singleStart, max: singleMax, tokens: true,
			service: "interventions",
			note: "POST /v1/visits of a new visit (Idempotency-Key) by the bench cooperative's machine client: the operator checked against identity (cached), " +
				"the authorization's period and status, overlap, the month's lock, excess hours, outbox, audit",
			op: single(ivURL+"/v1/visits", tok.client, cals[2], st.VisitInput)},
		{group: "interventions: statements", name: "statement read", start: 5, max: 500, bound: load.Bound{P99: stmtP99, ErrorRate: 0.01}, tokens: true,
			service: "interventions", stmt: true,
			note: "GET /v1/statements/{cooperative}/" + stmtMonth + " by the cooperative's coordinator: " + itoa(len(st.StmtAuths)) +
				" active authorizations, the month's visits among the " + strconv.FormatInt(fill, 10) + " of the table (the fill: 20 cooperatives × 300 authorizations, 380 operators, 8 visits a day each)",
			op: load.Op{Do: load.HTTP(hc, func(ctx context.Context, i int64) (*http.Request, error) {
				req, err := http.NewRequestWithContext(ctx, http.MethodGet, stmtURL, nil)
				if err != nil {
					return nil, err
				}
				req.Header.Set("Authorization", "Bearer "+*tok.coord)
				return req, nil
			})}},
	}
}
