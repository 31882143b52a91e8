// Package registryhttp implements interventions.Registry with the registry service's HTTP API
// (GET /v1/citizens/{id} and GET /v1/citizens/{id}/household of
// services/registry/api/openapi.yaml), through a pkg/peers go-kit client: interventions never
// reads registry's tables nor imports its code. The service's machine client must hold the
// scope citizens:read (Scope) and be bound to the ambito whose citizens it reads (registry
// answers 404 for a citizen of another ambito). Registry records each read in its own audit
// trail with the purpose "interventions" (Purpose).
package registryhttp

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/services/interventions"
)

const (
	// DefaultURL is registry's base URL on a development machine (CSI_REGISTRY_URL).
	DefaultURL = "http://127.0.0.1:8082"
	// Scope is the scope registry requires of interventions' machine client.
	Scope = "citizens:read"
	// Purpose is the purpose of every read, written in registry's audit trail.
	Purpose = "interventions: the cooperative's citizen card"
	// maxMerges is how many merges a read follows.
	maxMerges = 3
)

var _ interventions.Registry = (*Registry)(nil)

// Registry reads citizen cards from the registry service.
type Registry struct {
	peer      *peers.Client
	get       endpoint.Endpoint
	household endpoint.Endpoint
	location  *time.Location
}

// New returns a Registry calling the registry service through c.
func New(c *peers.Client) *Registry {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	r := &Registry{peer: c, location: loc}
	r.get = c.Endpoint(encodePath(""), r.decodeCitizen)
	r.household = c.Endpoint(encodePath("household"), r.decodeHousehold)
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

// citizen is the part of registry's Citizen schema the card is made of; the other members
// (codice fiscale, birth, documents, consents...) are not even decoded.
type citizen struct {
	ID                  uuid.UUID `json:"id"`
	FamilyName          string    `json:"family_name"`
	GivenName           string    `json:"given_name"`
	Residence           *address  `json:"residence"`
	Domicile            *address  `json:"domicile"`
	Phone               string    `json:"phone"`
	Email               string    `json:"email"`
	LegalRepresentative *struct {
		Kind      string     `json:"kind"`
		CitizenID *uuid.UUID `json:"citizen_id"`
		Name      string     `json:"name"`
		ValidFrom string     `json:"valid_from"`
		ValidTo   *string    `json:"valid_to"`
	} `json:"legal_representative"`
}

type address struct {
	ISTATCode    string `json:"istat_code"`
	Municipality string `json:"municipality"`
	Address      string `json:"address"`
	PostalCode   string `json:"postal_code"`
}

func (a *address) card() *interventions.CardAddress {
	if a == nil {
		return nil
	}
	return &interventions.CardAddress{Address: a.Address, PostalCode: a.PostalCode, Municipality: a.Municipality, ISTATCode: a.ISTATCode}
}

type household struct {
	Members []struct {
		CitizenID    uuid.UUID `json:"citizen_id"`
		FamilyName   string    `json:"family_name"`
		GivenName    string    `json:"given_name"`
		Relationship string    `json:"relationship"`
		ValidTo      *string   `json:"valid_to"`
	} `json:"members"`
}

// CitizenCard implements interventions.Registry: the citizen (a merged record followed to its
// survivor) and, unless a legal representative is in office today, the citizen's household for
// its head. Both within the peer client's timeout each.
//
// Errors: errs.NotFound when registry has no such citizen in the client's ambito;
// errs.Unavailable when registry cannot be reached, fails or does not answer in time;
// errs.Internal when registry refuses interventions' client or breaks its contract.
func (r *Registry) CitizenCard(ctx context.Context, id uuid.UUID) (interventions.CitizenCard, error) {
	v, at, err := r.peer.FollowMoved(ctx, r.get, id, maxMerges)
	if err != nil {
		return interventions.CitizenCard{}, err
	}
	c := v.(citizen)
	card := interventions.CitizenCard{ID: c.ID, FamilyName: c.FamilyName, GivenName: c.GivenName, Residence: c.Residence.card(),
		Domicile: c.Domicile.card(), Phone: c.Phone, Email: c.Email}
	today := time.Now().In(r.location).Format(time.DateOnly)
	if lr := c.LegalRepresentative; lr != nil && lr.ValidFrom <= today && (lr.ValidTo == nil || *lr.ValidTo >= today) {
		card.Contact = &interventions.ContactPerson{Role: "legal_representative", Kind: lr.Kind, Name: lr.Name}
		return card, nil
	}
	hv, err := r.household(ctx, at)
	if err != nil {
		return interventions.CitizenCard{}, err
	}
	for _, m := range hv.(household).Members {
		if m.Relationship == "head" && m.ValidTo == nil && m.CitizenID != at {
			card.Contact = &interventions.ContactPerson{Role: "household_head",
				Name: strings.TrimSpace(m.GivenName + " " + m.FamilyName)}
		}
	}
	return card, nil
}

// encodePath builds GET /v1/citizens/{id}[/sub]?purpose=.
func encodePath(sub string) peers.EncodeFunc {
	return func(ctx context.Context, base *url.URL, request any) (*http.Request, error) {
		u := base.JoinPath("v1", "citizens", request.(uuid.UUID).String())
		if sub != "" {
			u = u.JoinPath(sub)
		} else {
			u.RawQuery = url.Values{"purpose": {Purpose}}.Encode()
		}
		return http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	}
}

func (r *Registry) decodeCitizen(_ context.Context, resp *http.Response) (any, error) {
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
	case http.StatusPermanentRedirect: // a merged record: FollowMoved reads the survivor
		return r.peer.DecodeMoved(resp)
	}
	return nil, undocumented(resp)
}

func (r *Registry) decodeHousehold(_ context.Context, resp *http.Response) (any, error) {
	if resp.StatusCode != http.StatusOK {
		return nil, undocumented(resp)
	}
	var h household
	if err := r.peer.DecodeJSON(resp, &h); err != nil {
		return nil, err
	}
	return h, nil
}

func undocumented(resp *http.Response) error {
	return errs.Wrap(errs.Internal, fmt.Errorf("status %d", resp.StatusCode),
		"the registry service answered GET %s with an undocumented status", resp.Request.URL.Path)
}
