package identity

import (
	"context"
	"slices"
	"strings"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

func (s *Service) validateOrganization(in OrganizationInput) error {
	var f errs.Fields
	if !slices.Contains(OrgKinds, in.Kind) {
		f.Add("kind", "must be one of comune, azienda, cooperativa, ats, region")
	}
	valid.Line(&f, "name", in.Name, true, 200)
	if in.Kind == OrgComune {
		if in.ISTATCode == "" {
			f.Add("istat_code", "is required for a comune")
		} else if _, ok := s.places.ByISTAT(in.ISTATCode); !ok {
			f.Add("istat_code", "is not the ISTAT code of a current comune")
		}
	} else if in.ISTATCode != "" {
		f.Add("istat_code", "applies to comuni only")
	}
	if in.Kind == OrgCooperativa && in.TaxCode == "" {
		f.Add("tax_code", "is required for a cooperative (partita IVA)")
	}
	if in.TaxCode != "" {
		if err := codicefiscale.ValidateNumeric(in.TaxCode); err != nil {
			f.Add("tax_code", "is not a valid partita IVA: %v", err)
		}
	}
	valid.Email(&f, "email", in.Email, false)
	return f.Err()
}

// CreateOrganization adds an organization to the caller's ambito (ambito administrators).
func (s *Service) CreateOrganization(ctx context.Context, in OrganizationInput) (Organization, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Organization{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := s.validateOrganization(in); err != nil {
		return Organization{}, err
	}
	now := s.now()
	o := Organization{ID: newID(), AmbitoID: ambitoID, Kind: in.Kind, Name: in.Name, ISTATCode: in.ISTATCode,
		TaxCode: in.TaxCode, Email: in.Email, Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateOrganization(ctx, o); err != nil {
			if errs.Is(err, errs.Conflict) {
				return errs.E(errs.Conflict, "an organization with this ISTAT code or tax code already exists in the ambito")
			}
			return err
		}
		return tx.AppendEvents(ctx, events.Of(ambitoID, "organization.created", "organization", o.ID, o))
	})
	if err != nil {
		return Organization{}, err
	}
	return o, s.record(ctx, c, "organization.create", "organization", o.ID.String(), nil)
}

// GetOrganization returns an organization of the caller's ambito.
func (s *Service) GetOrganization(ctx context.Context, id uuid.UUID) (Organization, error) {
	_, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Organization{}, err
	}
	return s.store.GetOrganization(ctx, ambitoID, id)
}

// UpdateOrganization changes an organization at the expected version.
func (s *Service) UpdateOrganization(ctx context.Context, id uuid.UUID, version int64, p OrganizationPatch) (Organization, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Organization{}, err
	}
	var f errs.Fields
	if p.Name != nil {
		valid.Line(&f, "name", *p.Name, true, 200)
	}
	if p.Email != nil {
		valid.Email(&f, "email", *p.Email, false)
	}
	if err := f.Err(); err != nil {
		return Organization{}, err
	}
	var out Organization
	err = s.store.InTx(ctx, func(tx Store) error {
		o, err := tx.GetOrganization(ctx, ambitoID, id)
		if err != nil {
			return err
		}
		if p.Name != nil {
			o.Name = strings.TrimSpace(*p.Name)
		}
		if p.Email != nil {
			o.Email = *p.Email
		}
		if p.Active != nil {
			o.Active = *p.Active
		}
		if out, err = tx.UpdateOrganization(ctx, o, version); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(ambitoID, "organization.updated", "organization", o.ID, out))
	})
	if err != nil {
		return Organization{}, err
	}
	return out, s.record(ctx, c, "organization.update", "organization", id.String(), nil)
}

// ListOrganizations lists the organizations of the caller's ambito, optionally of one kind.
func (s *Service) ListOrganizations(ctx context.Context, kind OrgKind, limit int, after string) (cursor.Page[Organization], error) {
	_, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return cursor.Page[Organization]{}, err
	}
	if kind != "" && !slices.Contains(OrgKinds, kind) {
		return cursor.Page[Organization]{}, errs.InvalidField("kind", "must be one of comune, azienda, cooperativa, ats, region")
	}
	cur := cursor.For("organizations", string(kind))
	pos, err := cur.Decode(after)
	if err != nil {
		return cursor.Page[Organization]{}, err
	}
	items, err := s.store.ListOrganizations(ctx, ambitoID, kind, limit+1, pos)
	if err != nil {
		return cursor.Page[Organization]{}, err
	}
	return cursor.PageOf(items, limit, cur, func(o Organization) string { return o.ID.String() }), nil
}
