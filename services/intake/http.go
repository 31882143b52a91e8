package intake

import (
	"context"
	_ "embed"
	"log/slog"
	"net/http"
	"strconv"

	kithttp "github.com/go-kit/kit/transport/http"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

//go:embed api/openapi.yaml
var openAPI []byte

// OpenAPI returns the service's OpenAPI 3.1 document.
func OpenAPI() []byte { return openAPI }

// MaxLimit is the largest page of a list.
const MaxLimit = 200

// Routes registers the service's routes on mux. idem wraps the POSTs that create (Idempotency-Key).
func Routes(mux *httpapi.Mux, e Endpoints, log *slog.Logger, idem httpapi.Middleware) {
	srv := func(ep func(context.Context, any) (any, error), dec kithttp.DecodeRequestFunc) http.Handler {
		return httpapi.NewServer(log, ep, dec)
	}
	mux.Handle("POST /v1/accesses", idem(srv(e.CreateAccess, httpapi.DecodeBody[AccessInput])))
	mux.Handle("GET /v1/accesses", srv(e.ListAccesses, decodeAccessList))
	mux.Handle("GET /v1/accesses/{id}", srv(e.GetAccess, decodeID))
	mux.Handle("PATCH /v1/accesses/{id}", srv(e.UpdateAccess, httpapi.DecodePatch[AccessPatch]))

	mux.Handle("GET /v1/needs-taxonomy", srv(e.GetTaxonomy, decodeTaxonomy))
	mux.Handle("GET /v1/needs-taxonomy/versions", srv(e.TaxonomyVersions, httpapi.NoBody))
	mux.Handle("POST /v1/needs-taxonomy/versions", idem(srv(e.CreateTaxonomyVersion, httpapi.DecodeBody[TaxonomyExtension])))

	mux.Handle("POST /v1/cases", idem(srv(e.OpenCase, httpapi.DecodeBody[CaseInput])))
	mux.Handle("GET /v1/cases", srv(e.ListCases, decodeCaseList))
	mux.Handle("GET /v1/cases/{id}", srv(e.GetCase, decodeCaseID))
	mux.Handle("PATCH /v1/cases/{id}", srv(e.UpdateCase, httpapi.DecodePatch[CasePatch]))
	mux.Handle("POST /v1/cases/{id}/status", srv(e.ChangeStatus, decodeBody[StatusInput]))
	mux.Handle("POST /v1/cases/{id}/closure", srv(e.CloseCase, decodeBody[ClosureInput]))
	mux.Handle("POST /v1/cases/{id}/transfer", srv(e.TransferCase, decodeBody[TransferInput]))
	mux.Handle("GET /v1/cases/{id}/audit", srv(e.CaseAudit, decodePage))
	mux.Handle("GET /v1/cases/{id}/record", srv(e.Record, decodeID))

	mux.Handle("POST /v1/cases/{id}/assessments", idem(srv(e.CreateAssessment, decodeBody[AssessmentInput])))
	mux.Handle("GET /v1/cases/{id}/assessments", srv(e.ListAssessments, decodePage))
	mux.Handle("GET /v1/cases/{id}/assessments/{assessment_id}", srv(e.GetAssessment, decodeAssessmentID))

	mux.Handle("PUT /v1/cases/{id}/plan", srv(e.PutPlan, decodePlan))
	mux.Handle("GET /v1/cases/{id}/plan", srv(e.GetPlan, decodeID))
	mux.Handle("GET /v1/cases/{id}/plan/versions", srv(e.ListPlanVersions, decodePage))
	mux.Handle("GET /v1/cases/{id}/plan/versions/{version}", srv(e.GetPlanVersion, decodePlanVersion))

	mux.Handle("POST /v1/cases/{id}/diary", idem(srv(e.AddDiaryEntry, decodeBody[DiaryInput])))
	mux.Handle("GET /v1/cases/{id}/diary", srv(e.ListDiary, decodePage))
}

// decodeBody reads the case {id} and the body of an action on it.
func decodeBody[B any](_ context.Context, r *http.Request) (any, error) {
	id, body, err := httpapi.IDAndBody[B](r, "id")
	if err != nil {
		return nil, err
	}
	return caseRequest[B]{ID: id, Input: body}, nil
}

func decodeID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	return idRequest{ID: id}, err
}

func decodeCaseID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	include := r.URL.Query().Get("include")
	if include != "" && include != "citizen" {
		return nil, errs.InvalidField("include", "must be citizen")
	}
	return idRequest{ID: id, Include: include}, nil
}

func decodePage(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	limit, cursor, f := httpapi.ListParams(r.URL.Query(), MaxLimit)
	return pageRequest{ID: id, Limit: limit, Cursor: cursor}, f.Err()
}

func decodeAccessList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, MaxLimit)
	citizen := httpapi.OptionalID(&f, q, "citizen_id")
	return AccessQuery{ISTAT: q.Get("istat_code"), From: q.Get("date_from"), To: q.Get("date_to"), Outcome: q.Get("outcome"),
		CitizenID: citizen, Limit: limit, Cursor: cursor}, f.Err()
}

func decodeCaseList(_ context.Context, r *http.Request) (any, error) {
	q := r.URL.Query()
	limit, cursor, f := httpapi.ListParams(q, MaxLimit)
	citizen := httpapi.OptionalID(&f, q, "citizen_id")
	return CaseQuery{ISTAT: q.Get("istat_code"), Status: q.Get("status"), Assigned: q.Get("assigned"), CitizenID: citizen,
		Limit: limit, Cursor: cursor}, f.Err()
}

func decodeTaxonomy(_ context.Context, r *http.Request) (any, error) {
	v := r.URL.Query().Get("version")
	if v == "" {
		return versionRequest{}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxTaxonomyVersion {
		return nil, errs.InvalidField("version", "must be an integer from 1 to %d", maxTaxonomyVersion)
	}
	return versionRequest{Version: n}, nil
}

func decodeAssessmentID(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	aid, err := httpapi.PathID(r, "assessment_id")
	return assessmentIDRequest{CaseID: id, ID: aid}, err
}

// decodePlan reads a new plan version. If-Match is optional: absent (or If-None-Match: *) for
// the first version of a plan, required (by the service) once there is one.
func decodePlan(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	req := planRequest{CaseID: id}
	if r.Header.Get("If-Match") != "" {
		if req.Cond.IfMatch, err = httpapi.IfMatch(r); err != nil {
			return nil, err
		}
	}
	switch v := r.Header.Get("If-None-Match"); {
	case v == "":
	case v != "*":
		return nil, errs.InvalidField("If-None-Match", "must be * (create the first version only)")
	case req.Cond.IfMatch != 0:
		return nil, errs.InvalidField("If-None-Match", "give If-Match or If-None-Match, not both")
	default:
		req.Cond.IfNoneMatch = true
	}
	if err := httpapi.DecodeJSON(r, &req.Input); err != nil {
		return nil, err
	}
	return req, nil
}

func decodePlanVersion(_ context.Context, r *http.Request) (any, error) {
	id, err := httpapi.PathID(r, "id")
	if err != nil {
		return nil, err
	}
	v, err := strconv.ParseInt(r.PathValue("version"), 10, 64)
	if err != nil || v < 1 || v > maxPlanVersion {
		return nil, errs.InvalidField("version", "must be an integer from 1 to %d", maxPlanVersion)
	}
	return planVersionRequest{CaseID: id, Version: v}, nil
}
