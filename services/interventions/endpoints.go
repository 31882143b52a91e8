package interventions

import (
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// Endpoints are the go-kit endpoints of interventions, each behind its role policy. The scope
// (which authorizations) is checked in the service.
type Endpoints struct {
	ListServiceTypes endpoint.Endpoint

	CreateAuthorization, ListAuthorizations, GetAuthorization, UpdateAuthorization, ChangeStatus, Versions endpoint.Endpoint

	RecordVisit, RecordVisits, ListVisits, GetVisit, VoidVisit endpoint.Endpoint // visits_endpoints.go
}

// Request types carried from the transport to the endpoints.
type (
	idRequest   struct{ ID uuid.UUID }
	pageRequest struct {
		ID     uuid.UUID
		Limit  int
		Cursor string
	}
	statusRequest struct {
		ID    uuid.UUID
		Input StatusInput
	}
)

var (
	// The comune's social service authorizes interventions.
	writers = auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker)
	// They, the Ufficio di Piano, the cooperatives (their own) and clients with
	// authorizations:read read them.
	readers = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RolePlanningOffice,
		auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS), auth.Scope(ScopeAuthorizationsRead))
	// The reference data: every operational role and the ambito's administrator.
	referenceReaders = auth.AnyOf(auth.AnyRole(auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker,
		auth.RoleAdministrative, auth.RolePlanningOffice, auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS),
		auth.Scope(ScopeAuthorizationsRead))
)

func guard(p auth.Policy, e endpoint.Endpoint) endpoint.Endpoint { return auth.Require(p)(e) }

func etagged(a Authorization, err error) (any, error) {
	return httpapi.WithETag{Body: a, ETag: httpapi.ETag(a.Version)}, err
}

// MakeEndpoints builds the endpoints over s.
func MakeEndpoints(s *Service) Endpoints {
	return Endpoints{
		ListServiceTypes: guard(referenceReaders, func(ctx context.Context, _ any) (any, error) { return s.ListServiceTypes(ctx) }),

		CreateAuthorization: guard(writers, func(ctx context.Context, req any) (any, error) {
			a, err := s.CreateAuthorization(ctx, req.(AuthorizationInput))
			return httpapi.Created{Body: a, Location: "/v1/authorizations/" + a.ID.String(), ETag: httpapi.ETag(a.Version)}, err
		}),
		ListAuthorizations: guard(readers, func(ctx context.Context, req any) (any, error) {
			return s.ListAuthorizations(ctx, req.(AuthorizationQuery))
		}),
		GetAuthorization: guard(readers, func(ctx context.Context, req any) (any, error) {
			return etagged(s.GetAuthorization(ctx, req.(idRequest).ID))
		}),
		UpdateAuthorization: guard(writers, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[AuthorizationPatch])
			return etagged(s.UpdateAuthorization(ctx, r.ID, r.Version, r.Patch))
		}),
		ChangeStatus: guard(writers, func(ctx context.Context, req any) (any, error) {
			r := req.(statusRequest)
			return etagged(s.ChangeStatus(ctx, r.ID, r.Input))
		}),
		Versions: guard(readers, func(ctx context.Context, req any) (any, error) {
			r := req.(pageRequest)
			return s.Versions(ctx, r.ID, r.Limit, r.Cursor)
		}),
	}.withVisits(s)
}
