// Package httpapi is the HTTP plumbing of every service on top of go-kit's transport: strict
// JSON decoding, RFC 9457 problem responses, the one table from error kinds to status codes,
// request ids, panic recovery, health endpoints and a server with graceful shutdown.
package httpapi

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"math"
	"net/http"
	"strconv"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// ProblemContentType is the media type of RFC 9457 problem details.
const ProblemContentType = "application/problem+json"

// Problem is an RFC 9457 problem details body, with the suite's extensions: the request id, and
// for validation errors the list of invalid fields.
type Problem struct {
	Type      string            `json:"type"`
	Title     string            `json:"title"`
	Status    int               `json:"status"`
	Detail    string            `json:"detail,omitempty"`
	Instance  string            `json:"instance,omitempty"`
	RequestID string            `json:"request_id,omitempty"`
	Errors    []errs.FieldError `json:"errors,omitempty"`
	// Extra members (e.g. "existing_id" for a duplicate) are merged into the top level.
	Extra map[string]any `json:"-"`
}

// MarshalJSON flattens Extra into the object, as RFC 9457 extension members.
func (p Problem) MarshalJSON() ([]byte, error) {
	type plain Problem
	b, err := json.Marshal(plain(p))
	if err != nil || len(p.Extra) == 0 {
		return b, err
	}
	m := map[string]any{}
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	for k, v := range p.Extra {
		if _, taken := m[k]; !taken {
			m[k] = v
		}
	}
	return json.Marshal(m)
}

// status is the one table from error kinds to HTTP status codes.
var status = map[errs.Kind]int{
	errs.Internal:             http.StatusInternalServerError,
	errs.Invalid:              http.StatusBadRequest,
	errs.NotFound:             http.StatusNotFound,
	errs.Conflict:             http.StatusConflict,
	errs.Unauthenticated:      http.StatusUnauthorized,
	errs.Forbidden:            http.StatusForbidden,
	errs.FailedPrecondition:   http.StatusConflict,
	errs.Unavailable:          http.StatusServiceUnavailable,
	errs.TooManyRequests:      http.StatusTooManyRequests,
	errs.PreconditionFailed:   http.StatusPreconditionFailed,
	errs.PreconditionRequired: http.StatusPreconditionRequired,
	errs.Unprocessable:        http.StatusUnprocessableEntity,
	errs.TooLarge:             http.StatusRequestEntityTooLarge,
	errs.UnsupportedMediaType: http.StatusUnsupportedMediaType,
}

// StatusOf returns the HTTP status code for an error's kind.
func StatusOf(err error) int {
	if s, ok := status[errs.KindOf(err)]; ok {
		return s
	}
	return http.StatusInternalServerError
}

// ProblemOf builds the problem body for an error. Internal errors never show their message: the
// caller gets a generic text and the request id to quote.
func ProblemOf(ctx context.Context, err error) Problem {
	kind := errs.KindOf(err)
	if _, known := status[kind]; !known {
		// A kind this table does not know yet is answered as internal: its message is not shown.
		kind = errs.Internal
	}
	code := StatusOf(err)
	p := Problem{
		Type:      "urn:csi:problem:" + kind.String(),
		Title:     http.StatusText(code),
		Status:    code,
		RequestID: RequestID(ctx),
	}
	var e *errs.Error
	if errors.As(err, &e) && kind != errs.Internal {
		p.Detail = e.Message
		p.Errors = e.Fields
		p.Extra = e.Extra
	}
	if kind == errs.Internal {
		p.Detail = "an internal error occurred; quote the request id when reporting it"
	}
	return p
}

// WriteProblem writes err as a problem response. 5xx errors are logged (once, here, at the
// edge) with their cause; client errors are not logged as errors.
func WriteProblem(ctx context.Context, log *slog.Logger, w http.ResponseWriter, r *http.Request, err error) {
	p := ProblemOf(ctx, err)
	if r != nil {
		p.Instance = r.URL.Path
	}
	if log != nil && p.Status >= 500 {
		log.ErrorContext(ctx, "request failed", "status", p.Status, "err", err, "request_id", p.RequestID)
	}
	var e *errs.Error
	if errors.As(err, &e) && e.RetryAfter > 0 {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(e.RetryAfter.Seconds()))))
	} else if p.Status == http.StatusServiceUnavailable || p.Status == http.StatusTooManyRequests {
		w.Header().Set("Retry-After", "2")
	}
	if p.Status == http.StatusUnauthorized {
		w.Header().Set("WWW-Authenticate", `Bearer realm="csi"`)
	}
	w.Header().Set("Content-Type", ProblemContentType)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(p.Status)
	_ = json.NewEncoder(w).Encode(p)
}

// ErrorEncoder is the go-kit error encoder of every service.
func ErrorEncoder(log *slog.Logger) func(ctx context.Context, err error, w http.ResponseWriter) {
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		WriteProblem(ctx, log, w, requestFrom(ctx), err)
	}
}
