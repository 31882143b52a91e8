package identity

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// CreateClient registers a machine client of the caller's ambito; its secret is shown once and
// stored hashed.
func (s *Service) CreateClient(ctx context.Context, in ClientInput) (ClientWithSecret, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return ClientWithSecret{}, err
	}
	var f errs.Fields
	valid.Line(&f, "name", in.Name, true, 100)
	if len(in.Scopes) == 0 {
		f.Add("scopes", "at least one scope is required")
	}
	for i, sc := range in.Scopes {
		if !slices.Contains(s.cfg.ClientScopes, sc) {
			f.Add("scopes["+strconv.Itoa(i)+"]", "is not a known scope")
		}
	}
	if err := f.Err(); err != nil {
		return ClientWithSecret{}, err
	}
	if in.OrganizationID != nil {
		if _, err := s.store.GetOrganization(ctx, ambitoID, *in.OrganizationID); errs.Is(err, errs.NotFound) {
			return ClientWithSecret{}, errs.InvalidField("organization_id", "is not an organization of this ambito")
		} else if err != nil {
			return ClientWithSecret{}, err
		}
	}
	raw, hash := newSecret()
	cl := Client{ID: newID(), AmbitoID: &ambitoID, OrganizationID: in.OrganizationID, Name: strings.TrimSpace(in.Name),
		Scopes: in.Scopes, Active: true, CreatedAt: s.now(), secretHash: hash}
	if err := s.store.CreateClient(ctx, cl); err != nil {
		return ClientWithSecret{}, err
	}
	return ClientWithSecret{Client: cl, Secret: raw}, s.record(ctx, c, "client.create", "client", cl.ID.String(), map[string]any{"scopes": in.Scopes})
}

// ListClients lists the machine clients of the caller's ambito.
func (s *Service) ListClients(ctx context.Context) ([]Client, error) {
	_, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return nil, err
	}
	return s.store.ListClients(ctx, ambitoID)
}

func (s *Service) ownClient(ctx context.Context, id uuid.UUID) (auth.Claims, Client, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return c, Client{}, err
	}
	cl, err := s.store.GetClient(ctx, id)
	if err != nil {
		return c, Client{}, err
	}
	if cl.AmbitoID == nil || *cl.AmbitoID != ambitoID {
		return c, Client{}, errs.E(errs.NotFound, "client not found")
	}
	return c, cl, nil
}

// RotateClientSecret replaces a client's secret; the new one is shown once.
func (s *Service) RotateClientSecret(ctx context.Context, id uuid.UUID) (ClientWithSecret, error) {
	c, cl, err := s.ownClient(ctx, id)
	if err != nil {
		return ClientWithSecret{}, err
	}
	raw, hash := newSecret()
	if err := s.store.UpdateClientSecret(ctx, id, hash); err != nil {
		return ClientWithSecret{}, err
	}
	return ClientWithSecret{Client: cl, Secret: raw}, s.record(ctx, c, "client.rotate_secret", "client", id.String(), nil)
}

// DisableClient stops a client from getting tokens.
func (s *Service) DisableClient(ctx context.Context, id uuid.UUID) error {
	c, _, err := s.ownClient(ctx, id)
	if err != nil {
		return err
	}
	if err := s.store.SetClientActive(ctx, id, false); err != nil {
		return err
	}
	return s.record(ctx, c, "client.disable", "client", id.String(), nil)
}
