package registry

import (
	"context"
	"encoding/json"
	"io"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// Endpoints are the go-kit endpoints of the registry, each behind its role policy. The scope
// (which citizens) is checked in the service.
type Endpoints struct {
	Municipalities endpoint.Endpoint

	CreateCitizen, GetCitizen, UpdateCitizen, ListCitizens, SearchCitizens, MergeCitizen endpoint.Endpoint
	GetHousehold, AddMember                                                              endpoint.Endpoint
	Pseudonym, AuditTrail                                                                endpoint.Endpoint

	StartImport, GetImport endpoint.Endpoint
}

// Request types carried from the transport to the endpoints.
type (
	idRequest struct {
		ID      uuid.UUID
		Purpose string
	}
	listRequest struct {
		ISTAT  string
		Limit  int
		Cursor string
	}
	mergeRequest struct {
		ID    uuid.UUID
		Input MergeInput
	}
	memberRequest struct {
		ID    uuid.UUID
		Input MemberInput
	}
	pseudonymRequest struct {
		ID      uuid.UUID
		Purpose string
	}
	importRequest struct {
		ISTAT    string
		Complete bool
		Body     io.Reader
	}
	municipalitiesRequest struct {
		Q, Kind string
		All     bool
		Limit   int
	}
)

var (
	// Operators who work on citizens: the comune's and the azienda's, and the Ufficio di Piano.
	// Cooperatives, ATS, Region, the ambito administrator and the privacy officer have no access.
	readers = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice),
		auth.Scope(ScopeCitizensRead))
	writers = auth.AnyOf(auth.AnyRole(auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative),
		auth.Scope(ScopeCitizensWrite))
	// Registry maintenance: merges and imports.
	maintainers = auth.AnyRole(auth.RoleServiceManager, auth.RoleAdministrative)
	// importers: a comune's maintainers, and the systems of the population registers (anagrafe)
	// that send their extracts.
	importers = auth.AnyOf(maintainers, auth.Scope(ScopeCitizensWrite))
	pickers   = auth.AnyOf(auth.AnyRole(auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative,
		auth.RolePlanningOffice), auth.Scope(ScopeCitizensRead))
	privacy = auth.AnyRole(auth.RolePrivacyOfficer)
)

func guard(p auth.Policy, e endpoint.Endpoint) endpoint.Endpoint { return auth.Require(p)(e) }

// MakeEndpoints builds the endpoints over s.
func MakeEndpoints(s *Service) Endpoints {
	return Endpoints{
		Municipalities: guard(pickers, func(ctx context.Context, req any) (any, error) {
			r := req.(municipalitiesRequest)
			return s.Municipalities(r.Q, r.Kind, r.All, r.Limit)
		}),
		CreateCitizen: guard(writers, func(ctx context.Context, req any) (any, error) {
			c, err := s.CreateCitizen(ctx, req.(CitizenInput))
			return httpapi.Created{Body: c, Location: "/v1/citizens/" + c.ID.String(), ETag: httpapi.ETag(c.Version)}, err
		}),
		GetCitizen: guard(readers, func(ctx context.Context, req any) (any, error) {
			r := req.(idRequest)
			c, err := s.GetCitizen(ctx, r.ID, r.Purpose)
			return httpapi.WithETag{Body: json.RawMessage(c.JSON), ETag: httpapi.ETag(c.Version)}, err
		}),
		UpdateCitizen: guard(writers, func(ctx context.Context, req any) (any, error) {
			r := req.(httpapi.Patch[CitizenPatch])
			return etagged(s.UpdateCitizen(ctx, r.ID, r.Version, r.Patch))
		}),
		ListCitizens: guard(readers, func(ctx context.Context, req any) (any, error) {
			r := req.(listRequest)
			return s.ListResidents(ctx, r.ISTAT, r.Limit, r.Cursor)
		}),
		SearchCitizens: guard(readers, func(ctx context.Context, req any) (any, error) {
			p, err := s.Search(ctx, req.(SearchQuery))
			return hitsBody(p), err
		}),
		MergeCitizen: guard(maintainers, func(ctx context.Context, req any) (any, error) {
			r := req.(mergeRequest)
			return etagged(s.Merge(ctx, r.ID, r.Input))
		}),
		GetHousehold: guard(readers, func(ctx context.Context, req any) (any, error) {
			return s.GetHousehold(ctx, req.(idRequest).ID)
		}),
		AddMember: guard(writers, func(ctx context.Context, req any) (any, error) {
			r := req.(memberRequest)
			h, err := s.AddMember(ctx, r.ID, r.Input)
			return httpapi.Created{Body: h, Location: "/v1/citizens/" + r.ID.String() + "/household"}, err
		}),
		Pseudonym: guard(auth.Scope(ScopePseudonymsRead), func(ctx context.Context, req any) (any, error) {
			r := req.(pseudonymRequest)
			return s.GetPseudonym(ctx, r.ID, r.Purpose)
		}),
		AuditTrail: guard(privacy, func(ctx context.Context, req any) (any, error) { return s.AuditTrail(ctx, req.(AuditQuery)) }),
		StartImport: guard(importers, func(ctx context.Context, req any) (any, error) {
			r := req.(importRequest)
			im, err := s.StartImport(ctx, r.ISTAT, r.Complete, r.Body)
			return httpapi.Accepted{Body: im, Location: "/v1/imports/" + im.ID.String()}, err
		}),
		GetImport: guard(importers, func(ctx context.Context, req any) (any, error) { return s.GetImport(ctx, req.(idRequest).ID) }),
	}
}

// hitsBody is the body of a page of hits: encoded from the cached JSON when every hit was read
// through the cache (by codice fiscale), the page itself otherwise.
func hitsBody(p cursor.Page[Hit]) any {
	if len(p.Items) == 0 {
		return p
	}
	n := 0
	for _, h := range p.Items {
		if h.Encoded == nil {
			return p
		}
		n += len(h.Encoded) + 1
	}
	b := make([]byte, 0, n+len(p.NextCursor)+32)
	b = append(b, `{"items":[`...)
	for i, h := range p.Items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, h.Encoded...)
	}
	b = append(b, ']')
	if p.NextCursor != "" {
		c, err := json.Marshal(p.NextCursor)
		if err != nil {
			return p
		}
		b = append(append(b, `,"next_cursor":`...), c...)
	}
	return json.RawMessage(append(b, '}'))
}

func etagged(c Citizen, err error) (any, error) {
	return httpapi.WithETag{Body: c, ETag: httpapi.ETag(c.Version)}, err
}
