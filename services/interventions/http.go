package interventions

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/csi-lombardia/csi/pkg/httpapi"
)

//go:embed api/openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// MaxLimit is the largest page of a list.
const MaxLimit = 200

// Routes registers the service's routes on mux. idem wraps the POSTs (Idempotency-Key).
func Routes(mux *httpapi.Mux, e Endpoints, log *slog.Logger, idem httpapi.Middleware) {
	srv := func(ep func(context.Context, any) (any, error), dec kithttp.DecodeRequestFunc) http.Handler {
		return httpapi.NewServer(log, ep, dec)
	}
	mux.Handle("GET /v1/service-types", srv(e.ListServiceTypes, httpapi.NoBody))

	mux.Handle("POST /v1/authorizations", idem(srv(e.CreateAuthorization, httpapi.DecodeBody[AuthorizationInput])))
	mux.Handle("GET /v1/authorizations", srv(e.ListAuthorizations, decodeList))
	mux.Handle("GET /v1/authorizations/{id}", srv(e.GetAuthorization, decodeID))
	mux.Handle("PATCH /v1/authorizations/{id}", srv(e.UpdateAuthorization, httpapi.DecodePatch[AuthorizationPatch]))
	mux.Handle("POST /v1/authorizations/{id}/status", idem(srv(e.ChangeStatus, decodeStatus)))
	mux.Handle("GET /v1/authorizations/{id}/versions", srv(e.Versions, decodePage))

	visitRoutes(mux, srv, e, idem) // visits_endpoints.go
	statementRoutes(mux, e.StatementEndpoints, log, idem)

	mux.Handle("POST /v1/authorizations/{id}/documents", limitUpload(e.UploadLimit)(idem(srv(e.UploadDocument, decodeUpload))))
	mux.Handle("GET /v1/authorizations/{id}/documents", srv(e.ListDocuments, decodePage))
	mux.Handle("POST /v1/documents/{id}/link", idem(srv(e.DocumentLink, decodeDocumentID)))

	mux.Handle("POST /v1/authorizations/{id}/diary", idem(srv(e.AddDiaryEntry, decodeDiary)))
	mux.Handle("GET /v1/authorizations/{id}/diary", srv(e.ListDiary, decodePage))
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	return idRequest{ID: id}, err
}

func decodeStatus(_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpapi.IDAndBody[StatusInput](r, "id")
	if err != nil {
		return nil, err
	}
	return statusRequest{ID: id, Input: body}, nil
}

func decodePage(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	limit, cursor, f := httpapi.ListParams(r.URL.Query(), MaxLimit)
	return pageRequest{ID: id, Limit: limit, Cursor: cursor}, f.Err()
}

func decodeList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, MaxLimit)
	return AuthorizationQuery{Status: q.Get("status"), CooperativeID: httpapi.OptionalID(&f, q, "cooperative_id"),
		ServiceType: q.Get("service_type"), CitizenID: httpapi.OptionalID(&f, q, "citizen_id"), CaseID: httpapi.OptionalID(&f, q, "case_id"),
		Limit: limit, Cursor: cursor}, f.Err()
}
