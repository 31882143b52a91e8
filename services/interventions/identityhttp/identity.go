// Package identityhttp implements interventions.Identity with the identity service's HTTP API
// (GET /v1/accreditations of services/identity/api/openapi.yaml), through a pkg/peers go-kit
// client: interventions never reads identity's tables nor imports its code. The service's
// machine client must hold the scopes accreditations:read (Scope) and operators:read
// (OperatorsScope, GET /v1/operators/{id}: the profiles of a visit's operator) and be bound to the ambito
// whose accreditations it reads.
package identityhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/services/interventions"
)

const (
	// DefaultURL is identity's base URL on a development machine (CSI_IDENTITY_URL).
	DefaultURL = peers.DefaultIdentityURL
	// Scope is the scope identity requires of interventions' machine client.
	Scope = "accreditations:read"
	// OperatorsScope is the scope identity requires to read an operator (GET /v1/operators/{id}).
	OperatorsScope = "operators:read"
	// maxPages bounds the pages of one answer: a cooperative has a few accreditations per type.
	maxPages = 10
	pageSize = "200"
)

var _ interventions.Identity = (*Identity)(nil)

// Identity reads accreditations from the identity service.
type Identity struct {
	peer     *peers.Client
	list     endpoint.Endpoint
	operator endpoint.Endpoint
}

// New returns an Identity calling the identity service through c.
func New(c *peers.Client) *Identity {
	i := &Identity{peer: c}
	i.list = c.Endpoint(encodeList, i.decodeList)
	i.operator = c.Endpoint(encodeOperator, i.decodeOperator)
	return i
}

// FromSet returns an Identity calling the peer "identity" of set.
func FromSet(set *peers.Set) (*Identity, error) {
	c, err := set.Client("identity")
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

type listRequest struct {
	coop        uuid.UUID
	serviceType string
	cursor      string
}

type page struct {
	Items      []interventions.Accreditation `json:"items"`
	NextCursor string                        `json:"next_cursor"`
}

// Accreditations implements interventions.Identity: every page, within one deadline.
func (i *Identity) Accreditations(ctx context.Context, coop uuid.UUID, serviceType string) ([]interventions.Accreditation, error) {
	ctx, cancel := context.WithTimeout(ctx, i.peer.Timeout())
	defer cancel()
	var all []interventions.Accreditation
	req := listRequest{coop: coop, serviceType: serviceType}
	for range maxPages {
		v, err := i.list(ctx, req)
		if err != nil {
			return nil, err
		}
		p := v.(page)
		all = append(all, p.Items...)
		if p.NextCursor == "" {
			return all, nil
		}
		req.cursor = p.NextCursor
	}
	return nil, errs.E(errs.Internal, "identity answered more than %d pages of accreditations", maxPages)
}

func encodeList(ctx context.Context, base *url.URL, request any) (*http.Request, error) {
	r := request.(listRequest)
	u := base.JoinPath("v1", "accreditations")
	q := url.Values{"cooperative_id": {r.coop.String()}, "service_type": {r.serviceType}, "limit": {pageSize}}
	if r.cursor != "" {
		q.Set("cursor", r.cursor)
	}
	u.RawQuery = q.Encode()
	return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
}

func (i *Identity) decodeList(_ context.Context, resp *http.Response) (any, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, errs.Wrap(errs.Internal, fmt.Errorf("status %d", resp.StatusCode),
			"the identity service answered GET %s with an undocumented status", resp.Request.URL.Path)
	}
	var p page
	if err := i.peer.DecodeJSON(resp, &p); err != nil {
		return nil, err
	}
	return p, nil
}

// operatorAnswer is what interventions reads of identity's Operator.
type operatorAnswer struct {
	Profiles []interventions.OperatorProfile `json:"profiles"`
}

// OperatorProfiles implements interventions.Identity: GET /v1/operators/{id} (scope
// operators:read), the operator's profiles; an operator identity does not know is NotFound.
func (i *Identity) OperatorProfiles(ctx context.Context, id uuid.UUID) ([]interventions.OperatorProfile, error) {
	ctx, cancel := context.WithTimeout(ctx, i.peer.Timeout())
	defer cancel()
	v, err := i.operator(ctx, id)
	if err != nil {
		return nil, err
	}
	return v.([]interventions.OperatorProfile), nil
}

func encodeOperator(ctx context.Context, base *url.URL, request any) (*http.Request, error) {
	u := base.JoinPath("v1", "operators", request.(uuid.UUID).String())
	return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
}

func (i *Identity) decodeOperator(_ context.Context, resp *http.Response) (any, error) {
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, errs.E(errs.NotFound, "operator not found")
	default:
		return nil, errs.Wrap(errs.Internal, fmt.Errorf("status %d", resp.StatusCode),
			"the identity service answered GET %s with an undocumented status", resp.Request.URL.Path)
	}
	var o operatorAnswer
	if err := i.peer.DecodeJSON(resp, &o); err != nil {
		return nil, err
	}
	if o.Profiles == nil {
		o.Profiles = []interventions.OperatorProfile{}
	}
	return o.Profiles, nil
}
