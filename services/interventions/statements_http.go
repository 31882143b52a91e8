package interventions

import (
	"context"
	"log/slog"
	"net/http"
	"strings"

	"github.com/go-kit/kit/endpoint"
	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// StatementEndpoints are the endpoints of the monthly statements (embedded in Endpoints).
type StatementEndpoints struct {
	ListStatements, GetStatement, SubmitStatement, ApproveStatement, ReturnStatement endpoint.Endpoint
	ExportCSV, ExportXLSX, ExportPDF                                                 endpoint.Endpoint
}

type (
	statementRequest struct {
		Key     StatementKey
		Version int64 // If-Match, 0 when not given
		Return  StatementReturn
	}
	statementListRequest struct {
		Month string
		Coop  *uuid.UUID
	}
)

var (
	// The comuni's and the azienda's social service and the Ufficio di Piano read the
	// statements; a cooperative's coordinator its own; clients with statements:read.
	statementReaders = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative,
		auth.RolePlanningOffice, auth.RoleCoopCoordinator), auth.Scope(ScopeStatementsRead))
	// The cooperative submits: its coordinator or its client with statements:write.
	statementSubmitters = auth.AnyOf(auth.AnyRole(auth.RoleCoopCoordinator), auth.Scope(ScopeStatementsWrite))
	// A service manager approves or returns (the service checks the reach).
	statementApprovers = auth.AnyRole(auth.RoleServiceManager)
)

func statementTagged(st Statement, err error) (any, error) {
	return httpapi.WithETag{Body: st, ETag: httpapi.ETag(st.Version)}, err
}

// makeStatementEndpoints builds the statements' endpoints over s.
func makeStatementEndpoints(s *Service) StatementEndpoints {
	export := func(format func(Statement) (File, error)) endpoint.Endpoint {
		return guard(statementReaders, func(ctx context.Context, req any) (any, error) {
			st, err := s.ExportStatement(ctx, req.(statementRequest).Key)
			if err != nil {
				return nil, err
			}
			return format(st)
		})
	}
	return StatementEndpoints{
		ListStatements: guard(statementReaders, func(ctx context.Context, req any) (any, error) {
			r := req.(statementListRequest)
			return s.ListStatements(ctx, r.Month, r.Coop)
		}),
		GetStatement: guard(statementReaders, func(ctx context.Context, req any) (any, error) {
			return statementTagged(s.GetStatement(ctx, req.(statementRequest).Key))
		}),
		SubmitStatement: guard(statementSubmitters, func(ctx context.Context, req any) (any, error) {
			r := req.(statementRequest)
			return statementTagged(s.SubmitStatement(ctx, r.Key, r.Version))
		}),
		ApproveStatement: guard(statementApprovers, func(ctx context.Context, req any) (any, error) {
			r := req.(statementRequest)
			return statementTagged(s.ApproveStatement(ctx, r.Key, r.Version))
		}),
		ReturnStatement: guard(statementApprovers, func(ctx context.Context, req any) (any, error) {
			r := req.(statementRequest)
			return statementTagged(s.ReturnStatement(ctx, r.Key, r.Version, r.Return))
		}),
		ExportCSV:  export(statementCSV),
		ExportXLSX: export(statementXLSX),
		ExportPDF:  export(statementPDF),
	}
}

// statementRoutes registers the statements' routes on mux; idem wraps the transitions
// (Idempotency-Key: a retry of a submit that was applied answers its 200 again, not a 409).
func statementRoutes(mux *httpapi.Mux, e StatementEndpoints, log *slog.Logger, idem httpapi.Middleware) {
	srv := func(ep endpoint.Endpoint, dec kithttp.DecodeRequestFunc) http.Handler {
		return httpapi.NewServer(log, ep, dec)
	}
	file := func(ep endpoint.Endpoint) http.Handler {
		return kithttp.NewServer(ep, decodeStatementKey, encodeFile, kithttp.ServerErrorEncoder(httpapi.ErrorEncoder(log)))
	}
	const one = "/v1/statements/{cooperative_id}/{month}"
	mux.Handle("GET /v1/statements", srv(e.ListStatements, decodeStatementList))
	mux.Handle("GET "+one, srv(e.GetStatement, decodeStatementKey))
	mux.Handle("POST "+one+"/submit", idem(srv(e.SubmitStatement, decodeStatementKey)))
	mux.Handle("POST "+one+"/approve", idem(srv(e.ApproveStatement, decodeStatementKey)))
	mux.Handle("POST "+one+"/return", idem(srv(e.ReturnStatement, decodeStatementReturn)))
	mux.Handle("GET "+one+"/export.csv", file(e.ExportCSV))
	mux.Handle("GET "+one+"/export.xlsx", file(e.ExportXLSX))
	mux.Handle("GET "+one+"/export.pdf", file(e.ExportPDF))
}

func decodeStatementList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	var f errs.Fields
	return statementListRequest{Month: q.Get("month"), Coop: httpapi.OptionalID(&f, q, "cooperative_id")}, f.Err()
}

func decodeStatementKey(_ context.Context, r *http.Request) (any, error) {
	var f errs.Fields
	coop, err := httpapi.PathID(r, "cooperative_id")
	if err != nil {
		return nil, err
	}
	month := r.PathValue("month")
	parseMonth(&f, "month", month)
	req := statementRequest{Key: StatementKey{CooperativeID: coop, Month: month}}
	if strings.TrimSpace(r.Header.Get("If-Match")) != "" {
		v, err := httpapi.IfMatch(r)
		if err != nil {
			return nil, err
		}
		req.Version = v
	}
	return req, f.Err()
}

func decodeStatementReturn(ctx context.Context, r *http.Request) (any, error) {
	req, err := decodeStatementKey(ctx, r)
	if err != nil {
		return nil, err
	}
	sr := req.(statementRequest)
	if err := httpapi.DecodeJSON(r, &sr.Return); err != nil {
		return nil, err
	}
	return sr, nil
}

// File is a download: an export of a statement.
type File struct {
	Name, ContentType string
	Body              []byte
}

func encodeFile(_ context.Context, w http.ResponseWriter, response any) error {
	f := response.(File)
	w.Header().Set("Content-Type", f.ContentType)
	w.Header().Set("Content-Disposition", `attachment; filename="`+f.Name+`"`)
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(http.StatusOK)
	_, err := w.Write(f.Body)
	return err
}
