// Package regclient is the little of the registry's HTTP API the tools use: loading
// population-register extracts through POST /v1/imports and following the import to its end.
package regclient

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/synth"
)

// Import is the registry's import job, as far as the tools read it.
type Import struct {
	ID            string `json:"id"`
	Status        string `json:"status"` // processing, completed, failed
	RowsTotal     int64  `json:"rows_total"`
	RowsInvalid   int64  `json:"rows_invalid"`
	RowsProcessed int64  `json:"rows_processed"`
	Created       int64  `json:"created"`
	Updated       int64  `json:"updated"`
	Unchanged     int64  `json:"unchanged"`
	Failure       string `json:"failure"`
	Errors        []struct {
		Line    int64  `json:"line"`
		Field   string `json:"field"`
		Message string `json:"message"`
	} `json:"errors"`
}

// Client calls one registry with a bearer token.
type Client struct {
	BaseURL string
	HTTP    *http.Client
	// Token returns the bearer token of each request (tokens expire while a long load runs).
	Token func(ctx context.Context) (string, error)
	// Poll is the interval between two looks at a running import (250 ms when zero).
	Poll time.Duration
}

// ImportPeople sends people as the extract of the comune istat and waits until the registry
// has applied it, calling progress (when not nil) with the rows processed so far. An import
// that fails, or leaves invalid rows, is an error.
func (c *Client) ImportPeople(ctx context.Context, istat string, people []synth.Person, progress func(processed int64)) (Import, error) {
	var buf bytes.Buffer
	if err := synth.WriteCSV(&buf, people); err != nil {
		return Import{}, err
	}
	var im Import
	if err := c.do(ctx, http.MethodPost, "/v1/imports?istat_code="+url.QueryEscape(istat), &buf, http.StatusAccepted, &im); err != nil {
		return Import{}, fmt.Errorf("import the extract of %s: %w", istat, err)
	}
	poll := c.Poll
	if poll == 0 {
		poll = 250 * time.Millisecond
	}
	for im.Status == "processing" {
		if progress != nil {
			progress(im.RowsProcessed)
		}
		select {
		case <-ctx.Done():
			return im, ctx.Err()
		case <-time.After(poll):
		}
		if err := c.do(ctx, http.MethodGet, "/v1/imports/"+im.ID, nil, http.StatusOK, &im); err != nil {
			return im, fmt.Errorf("follow the import of %s: %w", istat, err)
		}
	}
	switch {
	case im.Status != "completed":
		return im, fmt.Errorf("the import of %s %s: %s", istat, im.Status, im.Failure)
	case im.RowsInvalid > 0 && len(im.Errors) > 0:
		e := im.Errors[0]
		return im, fmt.Errorf("the import of %s has %d invalid rows; line %d, %s: %s", istat, im.RowsInvalid, e.Line, e.Field, e.Message)
	case im.RowsInvalid > 0:
		return im, fmt.Errorf("the import of %s has %d invalid rows", istat, im.RowsInvalid)
	}
	if progress != nil {
		progress(im.RowsProcessed)
	}
	return im, nil
}

// Residents reports whether the registry lists anyone resident in the comune istat.
func (c *Client) Residents(ctx context.Context, istat string) (bool, error) {
	var page struct {
		Items []json.RawMessage `json:"items"`
	}
	if err := c.do(ctx, http.MethodGet, "/v1/citizens?limit=1&residence_istat="+url.QueryEscape(istat), nil, http.StatusOK, &page); err != nil {
		return false, err
	}
	return len(page.Items) > 0, nil
}

func (c *Client) do(ctx context.Context, method, path string, body io.Reader, want int, out any) error {
	req, err := http.NewRequestWithContext(ctx, method, strings.TrimSuffix(c.BaseURL, "/")+path, body)
	if err != nil {
		return err
	}
	tok, err := c.Token(ctx)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "text/csv")
	}
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode != want {
		return fmt.Errorf("%s %s: status %d: %s", method, req.URL.Path, resp.StatusCode, strings.TrimSpace(string(b)))
	}
	return json.Unmarshal(b, out)
}
