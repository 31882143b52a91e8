package registry

import (
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

//go:embed api/openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// MaxImportBytes bounds an import file (250,000 rows of a register extract).
const MaxImportBytes = 128 << 20

// Moved is the body of the answer to a request for a merged record: an RFC 9457 problem (type
// urn:csi:problem:merged, status 308) naming the record asked for and the one it was merged into.
type Moved struct {
	Type       string    `json:"type"`
	Title      string    `json:"title"`
	Status     int       `json:"status"`
	Detail     string    `json:"detail"`
	ID         uuid.UUID `json:"id"`
	MergedInto uuid.UUID `json:"merged_into"`
	RequestID  string    `json:"request_id,omitempty"`
}

// errorEncoder answers a request for a merged record with 308 Permanent Redirect to the same
// route of the survivor (a redirect that keeps the method and body: a 301 turns a POST into a
// GET of another resource), and with the suite's problems otherwise.
func errorEncoder(log *slog.Logger) kithttp.ErrorEncoder {
	problems := httpapi.ErrorEncoder(log)
	return func(ctx context.Context, err error, w http.ResponseWriter) {
		var m *MergedError
		if errors.As(err, &m) {
			w.Header().Set("Content-Type", httpapi.ProblemContentType)
			w.Header().Set("Cache-Control", "no-store")
			w.Header().Set("Location", survivorURI(ctx, m))
			w.WriteHeader(http.StatusPermanentRedirect)
			_ = json.NewEncoder(w).Encode(Moved{Type: "urn:csi:problem:merged", Title: http.StatusText(http.StatusPermanentRedirect),
				Status: http.StatusPermanentRedirect, Detail: m.Error(), ID: m.ID, MergedInto: m.MergedInto,
				RequestID: httpapi.RequestID(ctx)})
			return
		}
		problems(ctx, err, w)
	}
}

// survivorURI is the request's URI with the merged id replaced by the survivor's:
// /v1/citizens/{merged}/household?x=1 becomes /v1/citizens/{survivor}/household?x=1.
func survivorURI(ctx context.Context, m *MergedError) string {
	uri, _ := ctx.Value(kithttp.ContextKeyRequestURI).(string)
	prefix := "/v1/citizens/" + m.ID.String()
	if rest, ok := strings.CutPrefix(uri, prefix); ok {
		return "/v1/citizens/" + m.MergedInto.String() + rest
	}
	return "/v1/citizens/" + m.MergedInto.String()
}

// Routes registers the service's routes on mux. idem wraps the POSTs that clients retry
// (Idempotency-Key).
func Routes(mux *httpapi.Mux, e Endpoints, log *slog.Logger, idem httpapi.Middleware) {
	srv := func(ep func(context.Context, any) (any, error), dec kithttp.DecodeRequestFunc) http.Handler {
		return httpapi.NewServer(log, ep, dec, kithttp.ServerBefore(kithttp.PopulateRequestContext),
			kithttp.ServerErrorEncoder(errorEncoder(log)))
	}
	mux.Handle("GET /v1/municipalities", srv(e.Municipalities, decodeMunicipalities))

	mux.Handle("POST /v1/citizens", idem(srv(e.CreateCitizen, httpapi.DecodeBody[CitizenInput])))
	mux.Handle("GET /v1/citizens", srv(e.ListCitizens, decodeList))
	mux.Handle("POST /v1/citizens:search", srv(e.SearchCitizens, httpapi.DecodeBody[SearchQuery]))
	mux.Handle("GET /v1/citizens/{id}", srv(e.GetCitizen, decodeID))
	mux.Handle("PATCH /v1/citizens/{id}", srv(e.UpdateCitizen, httpapi.DecodePatch[CitizenPatch]))
	// A sub-resource action rather than "{id}:merge": ServeMux does not match a template
	// inside a path segment.
	mux.Handle("POST /v1/citizens/{id}/merge", srv(e.MergeCitizen, decodeMerge))
	mux.Handle("GET /v1/citizens/{id}/household", srv(e.GetHousehold, decodeID))
	mux.Handle("POST /v1/citizens/{id}/household/members", srv(e.AddMember, decodeMember))
	mux.Handle("GET /v1/citizens/{id}/pseudonyms/{purpose}", srv(e.Pseudonym, decodePseudonym))
	mux.Handle("GET /v1/citizens/{id}/audit", srv(e.AuditTrail, decodeAudit))

	mux.Handle("POST /v1/imports", srv(e.StartImport, decodeImport))
	mux.Handle("GET /v1/imports/{id}", srv(e.GetImport, decodeID))
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	return idRequest{ID: id, Purpose: r.URL.Query().Get("purpose")}, err
}

func decodeList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, 500)
	return listRequest{ISTAT: q.Get("residence_istat"), Limit: limit, Cursor: cursor}, f.Err()
}

func decodeMunicipalities(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, _, f := httpapi.ListParams(q, 100)
	if q.Get("limit") == "" {
		limit = 20
	}
	all := false
	if v := q.Get("all"); v != "" {
		b, err := strconv.ParseBool(v)
		f.Check(err == nil, "all", "must be true or false")
		all = b
	}
	return municipalitiesRequest{Q: q.Get("q"), Kind: q.Get("kind"), All: all, Limit: limit}, f.Err()
}

func decodeMerge(_ context.Context, r *http.Request) (any, error) {
	id, in, err := httpapi.IDAndBody[MergeInput](r, "id")
	return mergeRequest{ID: id, Input: in}, err
}

func decodeMember(_ context.Context, r *http.Request) (any, error) {
	id, in, err := httpapi.IDAndBody[MemberInput](r, "id")
	return memberRequest{ID: id, Input: in}, err
}

func decodePseudonym(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	return pseudonymRequest{ID: id, Purpose: r.PathValue("purpose")}, err
}

func decodeAudit(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	limit, cursor, f := httpapi.ListParams(r.URL.Query(), 500)
	return AuditQuery{CitizenID: id, Limit: limit, Cursor: cursor}, f.Err()
}

func decodeImport(_ context.Context, r *http.Request) (any, error) {
	if _, err := httpapi.RequireMediaType(r, "text/csv"); err != nil {
		return nil, err
	}
	q := r.URL.Query()
	istat := q.Get("istat_code")
	if istat == "" {
		return nil, errs.InvalidField("istat_code", "is required")
	}
	complete := false
	if v := q.Get("complete"); v != "" {
		var err error
		if complete, err = strconv.ParseBool(v); err != nil {
			return nil, errs.InvalidField("complete", "must be true or false")
		}
	}
	return importRequest{ISTAT: istat, Complete: complete, Body: http.MaxBytesReader(nil, r.Body, MaxImportBytes)}, nil
}
