// Package registryhttp implements intake.Registry with the registry service's HTTP API
// (GET /v1/citizens/{id} of services/registry/api/openapi.yaml), through a pkg/peers go-kit
// client: intake never reads registry's tables nor imports its code. The service's machine
// client must hold the scope citizens:read (Scope) and be bound to the ambito whose citizens
// intake reads: registry answers 404 for a citizen of another ambito.
//
// cmd/intake/main.go wires it so:
//
//	env := &app.Env{}
//	base := app.LoadBase(env, "intake", ":8083")
//	ps := peers.LoadSettings(env, "intake", base.ConsulAddr, map[string]string{"registry": registryhttp.DefaultURL})
//	if err := env.Err(); err != nil { return err }
//	set, err := peers.Open(ps, log) // Consul (instances of csi-registry) or CSI_REGISTRY_URL
//	if err != nil { return err }
//	defer set.Close() // after the server has drained
//	registry, err := registryhttp.FromSet(set)
package registryhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/services/intake"
)

const (
	// DefaultURL is registry's base URL on a development machine (CSI_REGISTRY_URL).
	DefaultURL = "http://127.0.0.1:8082"
	// Scope is the scope registry requires of intake's machine client.
	Scope = "citizens:read"
	// Purpose is the purpose of every read, written in registry's audit trail.
	Purpose = "intake"
	// maxMerges is how many merges a read follows: A merged into B, B later into C.
	maxMerges = 3
)

var _ intake.Registry = (*Registry)(nil)

// Registry reads citizens from the registry service.
type Registry struct {
	peer *peers.Client
	get  endpoint.Endpoint
}

// New returns a Registry calling the registry service through c.
func New(c *peers.Client) *Registry {
	r := &Registry{peer: c}
	r.get = c.Endpoint(encodeGet, r.decodeGet)
	return r
}

// FromSet returns a Registry calling the peer "registry" of set.
func FromSet(set *peers.Set) (*Registry, error) {
	c, err := set.Client("registry")
	if err != nil {
		return nil, err
	}
	return New(c), nil
}

// Citizen returns the summary of citizen id. A merged record (registry answers 308 with
// merged_into) is followed to the surviving record, up to three merges: the summary is the
// survivor's, so its ID differs from id — intake should store the survivor's id from then on.
// All of it happens within one deadline (the peer client's timeout: peers.Client.FollowMoved).
//
// Errors: errs.NotFound when registry has no such citizen in the client's ambito;
// errs.Unavailable with RetryAfter when registry cannot be reached, fails or does not answer in
// time; errs.Internal when registry refuses intake's client or breaks its contract.
func (r *Registry) Citizen(ctx context.Context, id uuid.UUID) (intake.CitizenSummary, error) {
	v, _, err := r.peer.FollowMoved(ctx, r.get, id, maxMerges)
	if errs.Is(err, errs.NotFound) {
		return intake.CitizenSummary{}, errs.Wrap(errs.NotFound, err, "no citizen %s in the registry", id)
	}
	if err != nil {
		return intake.CitizenSummary{}, err
	}
	return v.(citizen).summary(), nil
}

// citizen is the part of registry's Citizen schema that intake reads; other members are
// ignored, so registry may add some.
type citizen struct {
	ID         uuid.UUID `json:"id"`
	FiscalCode string    `json:"fiscal_code"`
	FamilyName string    `json:"family_name"`
	GivenName  string    `json:"given_name"`
	Sex        string    `json:"sex"`
	BirthDate  string    `json:"birth_date"`
	Residence  *struct {
		ISTATCode string `json:"istat_code"`
	} `json:"residence"`
	Status string `json:"status"`
}

func (c citizen) summary() intake.CitizenSummary {
	s := intake.CitizenSummary{ID: c.ID, FiscalCode: c.FiscalCode, FamilyName: c.FamilyName, GivenName: c.GivenName,
		Sex: c.Sex, BirthDate: c.BirthDate, Status: c.Status}
	if c.Residence != nil {
		s.ResidenceISTAT = c.Residence.ISTATCode
	}
	return s
}

func encodeGet(ctx context.Context, base *url.URL, request any) (*http.Request, error) {
	id := request.(uuid.UUID)
	u := base.JoinPath("v1", "citizens", id.String())
	u.RawQuery = url.Values{"purpose": {Purpose}}.Encode()
	return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
}

func (r *Registry) decodeGet(_ context.Context, resp *http.Response) (any, error) {
	switch resp.StatusCode {
	case http.StatusOK:
		var c citizen
		if err := r.peer.DecodeJSON(resp, &c); err != nil {
			return nil, err
		}
		if c.ID == uuid.Nil {
			return nil, errs.E(errs.Internal, "the registry service answered a citizen without an id")
		}
		return c, nil
	case http.StatusPermanentRedirect: // a merged record: peers.FollowMoved reads the survivor
		return r.peer.DecodeMoved(resp)
	}
	return nil, errs.Wrap(errs.Internal, fmt.Errorf("status %d", resp.StatusCode),
		"the registry service answered GET %s with an undocumented status", resp.Request.URL.Path)
}
