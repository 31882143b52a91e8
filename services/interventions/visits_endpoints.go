package interventions

import (
	"context"
	"net/http"
	"strconv"

	kithttp "github.com/go-kit/kit/transport/http"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

var (
	// A cooperative's coordinator, educators, ASA and OSS, and clients with visits:write write
	// visits (the service checks whose: an educator their own).
	visitWriters = auth.AnyOf(auth.AnyRole(auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS),
		auth.Scope(ScopeVisitsWrite))
	// Those who read authorizations read their visits; clients with visits:read.
	visitReaders = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RolePlanningOffice,
		auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS), auth.Scope(ScopeVisitsRead))
)

// BatchItem is the result of one visit of a batch: 201 with the visit, or its problem.
type BatchItem struct {
	Index   int              `json:"index"`
	Status  int              `json:"status"`
	Visit   *Visit           `json:"visit,omitempty"`
	Problem *httpapi.Problem `json:"problem,omitempty"`
}

// BatchResult is the answer of POST /v1/visits:batch (200 whenever the envelope is valid).
type BatchResult struct {
	Stored  int         `json:"stored"`
	Failed  int         `json:"failed"`
	Results []BatchItem `json:"results"`
}

type voidRequest struct {
	ID    uuid.UUID
	Input VoidInput
}

func (e Endpoints) withVisits(s *Service) Endpoints {
	e.RecordVisit = guard(visitWriters, func(ctx context.Context, req any) (any, error) {
		v, err := s.RecordVisit(ctx, req.(VisitInput))
		return httpapi.Created{Body: v, Location: "/v1/visits/" + v.ID.String()}, err
	})
	e.RecordVisits = guard(visitWriters, func(ctx context.Context, req any) (any, error) {
		vs, es, err := s.RecordVisits(ctx, req.(VisitBatch).Visits)
		if err != nil {
			return nil, err
		}
		return batchResult(ctx, vs, es), nil
	})
	e.ListVisits = guard(visitReaders, func(ctx context.Context, req any) (any, error) { return s.ListVisits(ctx, req.(VisitQuery)) })
	e.GetVisit = guard(visitReaders, func(ctx context.Context, req any) (any, error) { return s.GetVisit(ctx, req.(idRequest).ID) })
	e.VoidVisit = guard(visitWriters, func(ctx context.Context, req any) (any, error) {
		r := req.(voidRequest)
		return s.VoidVisit(ctx, r.ID, r.Input)
	})
	return e
}

// batchResult is the envelope: each item's visit or problem, its fields named visits[i]....
func batchResult(ctx context.Context, vs []Visit, es []error) BatchResult {
	out := BatchResult{Results: make([]BatchItem, len(es))}
	for i, err := range es {
		out.Results[i].Index = i
		if err != nil {
			p := httpapi.ProblemOf(ctx, prefixed(err, "visits["+strconv.Itoa(i)+"]."))
			out.Results[i].Status, out.Results[i].Problem = p.Status, &p
			out.Failed++
			continue
		}
		out.Results[i].Status, out.Results[i].Visit = http.StatusCreated, &vs[i]
		out.Stored++
	}
	return out
}

func visitRoutes(mux *httpapi.Mux, srv func(func(context.Context, any) (any, error), kithttp.DecodeRequestFunc) http.Handler, e Endpoints, idem httpapi.Middleware) {
	mux.Handle("POST /v1/visits", idem(srv(e.RecordVisit, httpapi.DecodeBody[VisitInput])))
	mux.Handle("POST /v1/visits:batch", idem(srv(e.RecordVisits, decodeBatch)))
	mux.Handle("GET /v1/visits", srv(e.ListVisits, decodeVisitList))
	mux.Handle("GET /v1/visits/{id}", srv(e.GetVisit, decodeID))
	mux.Handle("POST /v1/visits/{id}/void", idem(srv(e.VoidVisit, decodeVoid)))
}

// DecodeBatch reads a batch of visits: 1 to MaxBatch, otherwise a 400 naming visits.
func DecodeBatch(body []byte) (VisitBatch, error) {
	var b VisitBatch
	if err := httpapi.Unmarshal(body, &b); err != nil {
		return VisitBatch{}, err
	}
	return b, checkBatch(b)
}

// maxBatchBytes bounds a batch's body: 1,000 visits with notes of 500 characters, each up to
// 4 bytes in UTF-8, and the other members (pkg/httpapi's 1 MiB would refuse such a batch).
const maxBatchBytes = 4 << 20

func checkBatch(b VisitBatch) error {
	if len(b.Visits) == 0 || len(b.Visits) > MaxBatch {
		return errs.InvalidField("visits", "must hold 1 to %d visits", MaxBatch)
	}
	return nil
}

func decodeBatch(_ context.Context, r *http.Request) (any, error) {
	var b VisitBatch
	if err := httpapi.DecodeJSONLimit(r, &b, maxBatchBytes); err != nil {
		return nil, err
	}
	return b, checkBatch(b)
}

func decodeVoid(_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpapi.IDAndBody[VoidInput](r, "id")
	if err != nil {
		return nil, err
	}
	return voidRequest{ID: id, Input: body}, nil
}

func decodeVisitList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, MaxLimit)
	return VisitQuery{AuthorizationID: httpapi.OptionalID(&f, q, "authorization_id"), OperatorID: httpapi.OptionalID(&f, q, "operator_id"),
		Month: q.Get("month"), Status: q.Get("status"), Limit: limit, Cursor: cursor}, f.Err()
}
