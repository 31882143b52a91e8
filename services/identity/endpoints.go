package identity

import (
	"bytes"
	"context"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// Endpoints are the go-kit endpoints of the identity service, each behind its role policy.
// Finer checks that depend on the resource (a coordinator's own cooperative) are in the service.
type Endpoints struct {
	Token, Revoke, Me, SetOwnPassword endpoint.Endpoint

	ListAmbiti, GetAmbito endpoint.Endpoint

	CreateOrganization, GetOrganization, UpdateOrganization, ListOrganizations endpoint.Endpoint

	CreateOperator, GetOperator, UpdateOperator, ListOperators, ImportOperators endpoint.Endpoint
	AddProfile, EndProfile, SetOperatorPassword                                 endpoint.Endpoint

	CreateAccreditation, GetAccreditation, UpdateAccreditation, ListAccreditations endpoint.Endpoint

	CreateClient, ListClients, RotateClientSecret, DisableClient endpoint.Endpoint

	AuditTrail endpoint.Endpoint
}

// Request types carried from the transport to the endpoints.
type (
	idRequest      struct{ ID uuid.UUID }
	listOrgRequest struct {
		Kind   OrgKind
		Limit  int
		Cursor string
	}
	importRequest struct {
		Body     []byte
		Defaults ImportDefaults
	}
	addProfileRequest struct {
		OperatorID uuid.UUID
		Profile    ProfileInput
	}
	endProfileRequest struct{ OperatorID, ProfileID uuid.UUID }
	passwordRequest   struct {
		OperatorID      uuid.UUID `json:"-"`
		CurrentPassword string    `json:"current_password"`
		NewPassword     string    `json:"new_password"`
	}
	revokeRequest struct {
		Token string `json:"token"`
	}
)

var (
	admin       = auth.AnyRole(auth.RoleAmbitoAdmin)
	operatorMgr = auth.AnyRole(auth.RoleAmbitoAdmin, auth.RoleCoopCoordinator)
	anyOperator = auth.AnyRole(auth.Roles...)
	// Organizations and accreditations are reference data, not personal data: every operator
	// of the ambito reads them (pickers), and so do clients with the scope.
	orgReaders = auth.AnyOf(anyOperator, auth.Scope("organizations:read"))
	accReaders = auth.AnyOf(anyOperator, auth.Scope("accreditations:read"))
	// An operator's record: operators (the service checks which), and machine clients with
	// operators:read (interventions asks whose profiles make a visit).
	opReaders = auth.AnyOf(anyOperator, auth.Scope(ScopeOperatorsRead))
)

func guard(p auth.Policy, e endpoint.Endpoint) endpoint.Endpoint { return auth.Require(p)(e) }

// MakeEndpoints builds the endpoints over s.
func MakeEndpoints(s *Service) Endpoints {
	return Endpoints{
		Token: func(ctx context.Context, req any) (any, error) { return s.Token(ctx, req.(TokenRequest)) },
		Revoke: guard(anyOperator, func(ctx context.Context, req any) (any, error) {
			return httpapi.NoContent{}, s.Revoke(ctx, req.(revokeRequest).Token)
		}),
		Me: guard(anyOperator, func(ctx context.Context, _ any) (any, error) { return etagged(s.Me(ctx)) }),
		SetOwnPassword: guard(anyOperator, func(ctx context.Context, req any) (any, error) {
			r := req.(passwordRequest)
			c, _ := auth.FromContext(ctx)
			id, _ := uuid.Parse(c.Subject)
			return httpapi.NoContent{}, s.SetPassword(ctx, id, r.CurrentPassword, r.NewPassword, false)
		}),

		ListAmbiti: guard(anyOperator, func(ctx context.Context, _ any) (any, error) {
			items, err := s.ListAmbiti(ctx)
			return cursor.Page[Ambito]{Items: items}, err
		}),
		GetAmbito: guard(anyOperator, func(ctx context.Context, req any) (any, error) { return s.GetAmbito(ctx, req.(idRequest).ID) }),

		CreateOrganization: guard(admin, func(ctx context.Context, req any) (any, error) {
			o, err := s.CreateOrganization(ctx, req.(OrganizationInput))
			return created(o, "/v1/organizations/"+o.ID.String(), o.Version), err
		}),
		GetOrganization: guard(orgReaders, func(ctx context.Context, req any) (any, error) {
			o, err := s.GetOrganization(ctx, req.(idRequest).ID)
			return httpapi.WithETag{Body: o, ETag: httpapi.ETag(o.Version)}, err
		}),
		UpdateOrganization: guard(admin, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[OrganizationPatch])
			o, err := s.UpdateOrganization(ctx, r.ID, r.Version, r.Patch)
			return httpapi.WithETag{Body: o, ETag: httpapi.ETag(o.Version)}, err
		}),
		ListOrganizations: guard(orgReaders, func(ctx context.Context, req any) (any, error) {
			r := req.(listOrgRequest)
			return s.ListOrganizations(ctx, r.Kind, r.Limit, r.Cursor)
		}),

		CreateOperator: guard(operatorMgr, func(ctx context.Context, req any) (any, error) {
			o, err := s.CreateOperator(ctx, req.(OperatorInput))
			return created(o, "/v1/operators/"+o.ID.String(), o.Version), err
		}),
		GetOperator: guard(opReaders, func(ctx context.Context, req any) (any, error) {
			return etagged(s.GetOperator(ctx, req.(idRequest).ID))
		}),
		UpdateOperator: guard(operatorMgr, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[OperatorPatch])
			return etagged(s.UpdateOperator(ctx, r.ID, r.Version, r.Patch))
		}),
		ListOperators: guard(operatorMgr, func(ctx context.Context, req any) (any, error) { return s.ListOperators(ctx, req.(OperatorQuery)) }),
		ImportOperators: guard(operatorMgr, func(ctx context.Context, req any) (any, error) {
			r := req.(importRequest)
			rep, err := s.ImportOperators(ctx, bytes.NewReader(r.Body), r.Defaults)
			return httpapi.Created{Body: rep}, err
		}),
		AddProfile: guard(operatorMgr, func(ctx context.Context, req any) (any, error) {
			r := req.(addProfileRequest)
			o, err := s.AddProfile(ctx, r.OperatorID, r.Profile)
			return created(o, "/v1/operators/"+o.ID.String(), o.Version), err
		}),
		EndProfile: guard(operatorMgr, func(ctx context.Context, req any) (any, error) {
			r := req.(endProfileRequest)
			return etagged(s.EndProfile(ctx, r.OperatorID, r.ProfileID))
		}),
		SetOperatorPassword: guard(operatorMgr, func(ctx context.Context, req any) (any, error) {
			r := req.(passwordRequest)
			return httpapi.NoContent{}, s.SetPassword(ctx, r.OperatorID, "", r.NewPassword, true)
		}),

		CreateAccreditation: guard(admin, func(ctx context.Context, req any) (any, error) {
			a, err := s.CreateAccreditation(ctx, req.(AccreditationInput))
			return created(a, "/v1/accreditations/"+a.ID.String(), a.Version), err
		}),
		GetAccreditation: guard(accReaders, func(ctx context.Context, req any) (any, error) {
			a, err := s.GetAccreditation(ctx, req.(idRequest).ID)
			return httpapi.WithETag{Body: a, ETag: httpapi.ETag(a.Version)}, err
		}),
		UpdateAccreditation: guard(admin, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[AccreditationPatch])
			a, err := s.UpdateAccreditation(ctx, r.ID, r.Version, r.Patch)
			return httpapi.WithETag{Body: a, ETag: httpapi.ETag(a.Version)}, err
		}),
		ListAccreditations: guard(accReaders, func(ctx context.Context, req any) (any, error) {
			return s.ListAccreditations(ctx, req.(AccreditationQuery))
		}),

		CreateClient: guard(admin, func(ctx context.Context, req any) (any, error) {
			c, err := s.CreateClient(ctx, req.(ClientInput))
			return httpapi.Created{Body: c, Location: "/v1/clients/" + c.ID.String()}, err
		}),
		ListClients: guard(admin, func(ctx context.Context, _ any) (any, error) {
			items, err := s.ListClients(ctx)
			return cursor.Page[Client]{Items: items}, err
		}),
		RotateClientSecret: guard(admin, func(ctx context.Context, req any) (any, error) { return s.RotateClientSecret(ctx, req.(idRequest).ID) }),
		DisableClient: guard(admin, func(ctx context.Context, req any) (any, error) {
			return httpapi.NoContent{}, s.DisableClient(ctx, req.(idRequest).ID)
		}),

		AuditTrail: guard(auth.AnyRole(auth.RolePrivacyOfficer), func(ctx context.Context, req any) (any, error) {
			return s.AuditTrail(ctx, req.(AuditQuery))
		}),
	}
}

func created(body any, location string, version int64) any {
	return httpapi.Created{Body: body, Location: location, ETag: httpapi.ETag(version)}
}

func etagged(o Operator, err error) (any, error) {
	return httpapi.WithETag{Body: o, ETag: httpapi.ETag(o.Version)}, err
}
