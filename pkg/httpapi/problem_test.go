package httpapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

func TestStatusOfEveryKind(t *testing.T) {
	want := map[errs.Kind]int{
		errs.Internal:             500,
		errs.Invalid:              400,
		errs.NotFound:             404,
		errs.Conflict:             409,
		errs.Unauthenticated:      401,
		errs.Forbidden:            403,
		errs.FailedPrecondition:   409,
		errs.Unavailable:          503,
		errs.TooManyRequests:      429,
		errs.PreconditionFailed:   412,
		errs.PreconditionRequired: 428,
		errs.Unprocessable:        422,
		errs.TooLarge:             413,
		errs.UnsupportedMediaType: 415,
	}
	// Walk the kinds pkg/errs knows, so that a kind appended there without a status here fails.
	n := 0
	for k := errs.Kind(0); !strings.HasPrefix(k.String(), "kind("); k++ {
		n++
		t.Run(k.String(), func(t *testing.T) {
			w, ok := want[k]
			if !ok {
				t.Fatalf("kind %v has no expected status in this test: add it", k)
			}
			err := errs.E(k, "message of %v", k)
			if got := httpapi.StatusOf(err); got != w {
				t.Errorf("StatusOf(%v) = %d, want %d", k, got, w)
			}
			p := httpapi.ProblemOf(context.Background(), err)
			if p.Status != w {
				t.Errorf("ProblemOf(%v).Status = %d, want %d", k, p.Status, w)
			}
			if got, want := p.Type, "urn:csi:problem:"+k.String(); got != want {
				t.Errorf("ProblemOf(%v).Type = %q, want %q", k, got, want)
			}
			if got, want := p.Title, http.StatusText(w); got != want {
				t.Errorf("ProblemOf(%v).Title = %q, want %q", k, got, want)
			}
		})
	}
	if n != len(want) {
		t.Errorf("pkg/errs has %d kinds, this test expects %d", n, len(want))
	}
}

// problemResponse is a decoded problem answer.
type problemResponse struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func writeProblem(t *testing.T, ctx context.Context, log *slog.Logger, err error) problemResponse {
	t.Helper()
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "/v1/things/42", nil)
	httpapi.WriteProblem(ctx, log, rec, r, err)
	res := problemResponse{Status: rec.Code, Header: rec.Header(), Raw: rec.Body.String()}
	if err := json.Unmarshal(rec.Body.Bytes(), &res.Body); err != nil {
		t.Fatalf("problem body %q is not JSON: %v", rec.Body.String(), err)
	}
	return res
}

func TestWriteProblem(t *testing.T) {
	ctx := httpapi.WithRequestID(context.Background(), "req-123")
	tests := []struct {
		name           string
		err            error
		wantStatus     int
		wantRetryAfter string
		wantWWWAuth    bool
		wantBody       map[string]any // members checked (others may exist)
		mustNotContain []string
	}{
		{
			name:       "invalid fields are listed",
			err:        errs.InvalidField("residence.istat_code", "must be 6 digits"),
			wantStatus: 400,
			wantBody: map[string]any{
				"type": "urn:csi:problem:invalid", "title": "Bad Request", "status": float64(400),
				"detail": "the request has invalid fields", "instance": "/v1/things/42", "request_id": "req-123",
				"errors": []any{map[string]any{"field": "residence.istat_code", "message": "must be 6 digits"}},
			},
		},
		{
			name:       "extra members are merged",
			err:        &errs.Error{Kind: errs.Conflict, Message: "already exists", Extra: map[string]any{"existing_id": "abc"}},
			wantStatus: 409,
			wantBody:   map[string]any{"detail": "already exists", "existing_id": "abc", "status": float64(409)},
		},
		{
			name:       "extra members never override standard ones",
			err:        &errs.Error{Kind: errs.NotFound, Message: "gone", Extra: map[string]any{"status": 200, "type": "x"}},
			wantStatus: 404,
			wantBody:   map[string]any{"status": float64(404), "type": "urn:csi:problem:not_found"},
		},
		{
			name:           "unavailable has a default Retry-After",
			err:            errs.E(errs.Unavailable, "database unavailable"),
			wantStatus:     503,
			wantRetryAfter: "2",
		},
		{
			name:           "unavailable rounds its RetryAfter up",
			err:            &errs.Error{Kind: errs.Unavailable, Message: "busy", RetryAfter: 1500 * time.Millisecond},
			wantStatus:     503,
			wantRetryAfter: "2",
		},
		{
			name:           "too many requests with RetryAfter",
			err:            &errs.Error{Kind: errs.TooManyRequests, Message: "slow down", RetryAfter: 30 * time.Second},
			wantStatus:     429,
			wantRetryAfter: "30",
		},
		{
			name:           "too many requests without RetryAfter still tells when",
			err:            errs.E(errs.TooManyRequests, "slow down"),
			wantStatus:     429,
			wantRetryAfter: "2",
		},
		{
			name:        "unauthenticated asks for a bearer token",
			err:         errs.E(errs.Unauthenticated, "token required"),
			wantStatus:  401,
			wantWWWAuth: true,
		},
		{
			name:       "internal error hides its message and cause",
			err:        errs.Wrap(errs.Internal, errors.New("dial tcp: password=hunter2"), "query users failed"),
			wantStatus: 500,
			wantBody: map[string]any{"type": "urn:csi:problem:internal", "status": float64(500), "request_id": "req-123",
				"detail": "an internal error occurred; quote the request id when reporting it"},
			mustNotContain: []string{"hunter2", "query users failed", "dial tcp"},
		},
		{
			name:           "plain error is internal and hidden",
			err:            fmt.Errorf("load: %w", errors.New("secret table t_users missing")),
			wantStatus:     500,
			mustNotContain: []string{"secret", "t_users", "load"},
		},
		{
			name: "internal error hides its fields and extra members",
			err: &errs.Error{Kind: errs.Internal, Message: "boom", Fields: []errs.FieldError{{Field: "ssn", Message: "RSSMRA80A01F205X"}},
				Extra: map[string]any{"leak": "RSSMRA80A01F205X"}},
			wantStatus:     500,
			mustNotContain: []string{"RSSMRA80A01F205X", "boom", "leak"},
		},
		{
			name:           "a kind unknown to the status table is hidden like an internal one",
			err:            errs.E(errs.Kind(200), "secret detail of a future kind"),
			wantStatus:     500,
			mustNotContain: []string{"secret detail"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var logs bytes.Buffer
			log := slog.New(slog.NewJSONHandler(&logs, nil))
			got := writeProblem(t, ctx, log, tc.err)
			if got.Status != tc.wantStatus {
				t.Errorf("status = %d, want %d", got.Status, tc.wantStatus)
			}
			if ct := got.Header.Get("Content-Type"); ct != httpapi.ProblemContentType {
				t.Errorf("Content-Type = %q, want %q", ct, httpapi.ProblemContentType)
			}
			if cc := got.Header.Get("Cache-Control"); cc != "no-store" {
				t.Errorf("Cache-Control = %q, want no-store", cc)
			}
			if ra := got.Header.Get("Retry-After"); ra != tc.wantRetryAfter {
				t.Errorf("Retry-After = %q, want %q", ra, tc.wantRetryAfter)
			}
			if wa := got.Header.Get("WWW-Authenticate"); (wa != "") != tc.wantWWWAuth {
				t.Errorf("WWW-Authenticate = %q, want present %v", wa, tc.wantWWWAuth)
			}
			if got, want := got.Body["request_id"], "req-123"; got != want {
				t.Errorf("request_id = %v, want %q", got, want)
			}
			if got, want := got.Body["status"], float64(tc.wantStatus); got != want {
				t.Errorf("body status = %v, want %v", got, want)
			}
			for k, want := range tc.wantBody {
				if diff := cmp.Diff(want, got.Body[k]); diff != "" {
					t.Errorf("member %q (-want +got):\n%s", k, diff)
				}
			}
			for _, s := range tc.mustNotContain {
				if strings.Contains(got.Raw, s) {
					t.Errorf("problem body %s leaks %q", got.Raw, s)
				}
			}
			// 5xx are logged once, with their cause; client errors are not logged.
			if logged := logs.Len() > 0; logged != (tc.wantStatus >= 500) {
				t.Errorf("logged = %v for status %d, want %v (log: %s)", logged, tc.wantStatus, tc.wantStatus >= 500, logs.String())
			}
		})
	}
}

func TestWriteProblemNilLogger(t *testing.T) {
	got := writeProblem(t, context.Background(), nil, errors.New("boom"))
	if got.Status != 500 {
		t.Errorf("status = %d, want 500", got.Status)
	}
	if _, ok := got.Body["request_id"]; ok {
		t.Errorf("request_id = %v without a request id in the context, want it omitted", got.Body["request_id"])
	}
}
