package intake

import (
	"context"
	"strconv"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// Endpoints are the go-kit endpoints of intake, each behind its role policy. The scope (which
// records, which fields) is checked in the service.
type Endpoints struct {
	CreateAccess, ListAccesses, GetAccess, UpdateAccess endpoint.Endpoint

	GetTaxonomy, TaxonomyVersions, CreateTaxonomyVersion endpoint.Endpoint

	OpenCase, ListCases, GetCase, UpdateCase, ChangeStatus, CloseCase, TransferCase, CaseAudit endpoint.Endpoint

	CreateAssessment, ListAssessments, GetAssessment endpoint.Endpoint

	PutPlan, GetPlan, ListPlanVersions, GetPlanVersion endpoint.Endpoint

	AddDiaryEntry, ListDiary endpoint.Endpoint

	Record endpoint.Endpoint
}

// Request types carried from the transport to the endpoints.
type (
	idRequest struct {
		ID      uuid.UUID
		Include string
	}
	pageRequest struct {
		ID     uuid.UUID
		Limit  int
		Cursor string
	}
	versionRequest struct{ Version int }
	// caseRequest is an action on the case ID with a body.
	caseRequest[B any] struct {
		ID    uuid.UUID
		Input B
	}
	assessmentIDRequest struct{ CaseID, ID uuid.UUID }
	planRequest         struct {
		CaseID uuid.UUID
		Cond   Precondition
		Input  PlanInput
	}
	planVersionRequest struct {
		CaseID  uuid.UUID
		Version int64
	}
)

var (
	// The comune's and the azienda's front desk and social service record accesses.
	accessWriters = auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative)
	// They and the Ufficio di Piano read accesses and cases (administrative staff without
	// reserved text), as do clients with cases:read.
	readers = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice),
		auth.Scope(ScopeCasesRead))
	assessmentReaders = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice),
		auth.Scope(ScopeAssessmentsRead))
	taxonomyReaders = auth.AnyOf(auth.AnyRole(auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative,
		auth.RolePlanningOffice), auth.Scope(ScopeCasesRead), auth.Scope(ScopeAssessmentsRead))
	taxonomyAdmins = auth.AnyRole(auth.RoleAmbitoAdmin)
	// The social service takes people in charge: cases, assessments, plans, diary.
	socialService = auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker)
	managers      = auth.AnyRole(auth.RoleServiceManager)
	// The diary is read by the social service and by the cooperatives it is shared with.
	diaryReaders = auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleCoopCoordinator, auth.RoleEducator,
		auth.RoleASA, auth.RoleOSS)
	privacy = auth.AnyRole(auth.RolePrivacyOfficer)
)

func guard(p auth.Policy, e endpoint.Endpoint) endpoint.Endpoint { return auth.Require(p)(e) }

func etag(v int64) string { return httpapi.ETag(v) }

// MakeEndpoints builds the endpoints over s.
func MakeEndpoints(s *Service) Endpoints {
	return Endpoints{
		CreateAccess: guard(accessWriters, func(ctx context.Context, req any) (any, error) {
			a, err := s.CreateAccess(ctx, req.(AccessInput))
			return httpapi.Created{Body: a, Location: "/v1/accesses/" + a.ID.String(), ETag: etag(a.Version)}, err
		}),
		ListAccesses: guard(readers, func(ctx context.Context, req any) (any, error) { return s.ListAccesses(ctx, req.(AccessQuery)) }),
		GetAccess: guard(readers, func(ctx context.Context, req any) (any, error) {
			a, err := s.GetAccess(ctx, req.(idRequest).ID)
			return httpapi.WithETag{Body: a, ETag: etag(a.Version)}, err
		}),
		UpdateAccess: guard(accessWriters, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[AccessPatch])
			a, err := s.UpdateAccess(ctx, r.ID, r.Version, r.Patch)
			return httpapi.WithETag{Body: a, ETag: etag(a.Version)}, err
		}),

		GetTaxonomy: guard(taxonomyReaders, func(ctx context.Context, req any) (any, error) {
			return s.GetTaxonomy(ctx, req.(versionRequest).Version)
		}),
		TaxonomyVersions: guard(taxonomyReaders, func(ctx context.Context, _ any) (any, error) { return s.TaxonomyVersions(ctx) }),
		CreateTaxonomyVersion: guard(taxonomyAdmins, func(ctx context.Context, req any) (any, error) {
			t, err := s.CreateTaxonomyVersion(ctx, req.(TaxonomyExtension))
			return httpapi.Created{Body: t, Location: "/v1/needs-taxonomy?version=" + strconv.Itoa(t.Version)}, err
		}),

		OpenCase: guard(socialService, func(ctx context.Context, req any) (any, error) {
			c, err := s.OpenCase(ctx, req.(CaseInput))
			return httpapi.Created{Body: c, Location: "/v1/cases/" + c.ID.String(), ETag: etag(c.Version)}, err
		}),
		ListCases: guard(readers, func(ctx context.Context, req any) (any, error) { return s.ListCases(ctx, req.(CaseQuery)) }),
		GetCase: guard(readers, func(ctx context.Context, req any) (any, error) {
			r := req.(idRequest)
			return etaggedCase(s.GetCase(ctx, r.ID, r.Include == "citizen"))
		}),
		UpdateCase: guard(socialService, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[CasePatch])
			return etaggedCase(s.UpdateCase(ctx, r.ID, r.Version, r.Patch))
		}),
		ChangeStatus: guard(socialService, func(ctx context.Context, req any) (any, error) {
			r := req.(caseRequest[StatusInput])
			return etaggedCase(s.ChangeStatus(ctx, r.ID, r.Input))
		}),
		CloseCase: guard(socialService, func(ctx context.Context, req any) (any, error) {
			r := req.(caseRequest[ClosureInput])
			return etaggedCase(s.CloseCase(ctx, r.ID, r.Input))
		}),
		TransferCase: guard(managers, func(ctx context.Context, req any) (any, error) {
			r := req.(caseRequest[TransferInput])
			return etaggedCase(s.TransferCase(ctx, r.ID, r.Input))
		}),
		CaseAudit: guard(privacy, func(ctx context.Context, req any) (any, error) {
			r := req.(pageRequest)
			return s.AuditTrail(ctx, AuditQuery{CaseID: r.ID, Limit: r.Limit, Cursor: r.Cursor})
		}),

		CreateAssessment: guard(socialService, func(ctx context.Context, req any) (any, error) {
			r := req.(caseRequest[AssessmentInput])
			a, err := s.CreateAssessment(ctx, r.ID, r.Input)
			return httpapi.Created{Body: a, Location: "/v1/cases/" + r.ID.String() + "/assessments/" + a.ID.String()}, err
		}),
		ListAssessments: guard(assessmentReaders, func(ctx context.Context, req any) (any, error) {
			r := req.(pageRequest)
			return s.ListAssessments(ctx, r.ID, r.Limit, r.Cursor)
		}),
		GetAssessment: guard(assessmentReaders, func(ctx context.Context, req any) (any, error) {
			r := req.(assessmentIDRequest)
			return s.GetAssessment(ctx, r.CaseID, r.ID)
		}),

		PutPlan: guard(socialService, func(ctx context.Context, req any) (any, error) {
			r := req.(planRequest)
			p, err := s.PutPlan(ctx, r.CaseID, r.Cond, r.Input)
			return httpapi.WithETag{Body: p, ETag: etag(p.Version)}, err
		}),
		GetPlan: guard(readers, func(ctx context.Context, req any) (any, error) {
			p, err := s.GetPlan(ctx, req.(idRequest).ID, 0)
			return httpapi.WithETag{Body: p, ETag: etag(p.Version)}, err
		}),
		ListPlanVersions: guard(readers, func(ctx context.Context, req any) (any, error) {
			r := req.(pageRequest)
			return s.ListPlanVersions(ctx, r.ID, r.Limit, r.Cursor)
		}),
		GetPlanVersion: guard(readers, func(ctx context.Context, req any) (any, error) {
			r := req.(planVersionRequest)
			return s.GetPlan(ctx, r.CaseID, r.Version)
		}),

		AddDiaryEntry: guard(socialService, func(ctx context.Context, req any) (any, error) {
			r := req.(caseRequest[DiaryInput])
			e, err := s.AddDiaryEntry(ctx, r.ID, r.Input)
			return httpapi.Created{Body: e, Location: "/v1/cases/" + r.ID.String() + "/diary"}, err
		}),
		ListDiary: guard(diaryReaders, func(ctx context.Context, req any) (any, error) {
			r := req.(pageRequest)
			return s.ListDiary(ctx, r.ID, r.Limit, r.Cursor)
		}),

		Record: guard(readers, func(ctx context.Context, req any) (any, error) { return s.Record(ctx, req.(idRequest).ID) }),
	}
}

func etaggedCase(c Case, err error) (any, error) {
	return httpapi.WithETag{Body: c, ETag: etag(c.Version)}, err
}
