package identity

import (
	"context"
	"slices"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// CreateAccreditation accredits a cooperative of the ambito for a service type.
func (s *Service) CreateAccreditation(ctx context.Context, in AccreditationInput) (Accreditation, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Accreditation{}, err
	}
	var f errs.Fields
	f.Check(in.CooperativeID != uuid.Nil, "cooperative_id", "is required")
	f.Check(slices.Contains(ServiceTypes, in.ServiceType), "service_type", "must be one of SAD, SADH, ADH, ADM, AES")
	validatePeriod(&f, in.ValidFrom, in.ValidTo)
	f.Check(in.HourlyTariffCents > 0 && in.HourlyTariffCents <= 100000, "hourly_tariff_cents", "must be between 1 and 100000 (euro cents)")
	if err := f.Err(); err != nil {
		return Accreditation{}, err
	}
	now := s.now()
	a := Accreditation{ID: newID(), AmbitoID: ambitoID, CooperativeID: in.CooperativeID, ServiceType: in.ServiceType,
		ValidFrom: in.ValidFrom, ValidTo: in.ValidTo, HourlyTariffCents: in.HourlyTariffCents, Version: 1, CreatedAt: now, UpdatedAt: now}
	err = s.store.InTx(ctx, func(tx Store) error {
		org, err := tx.GetOrganization(ctx, ambitoID, in.CooperativeID)
		if errs.Is(err, errs.NotFound) || err == nil && org.Kind != OrgCooperativa {
			return errs.InvalidField("cooperative_id", "is not a cooperative of this ambito")
		}
		if err != nil {
			return err
		}
		a.CooperativeName = org.Name
		if err := tx.CreateAccreditation(ctx, a); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(ambitoID, "accreditation.created", "accreditation", a.ID, a))
	})
	if err != nil {
		return Accreditation{}, err
	}
	return a, s.record(ctx, c, "accreditation.create", "accreditation", a.ID.String(), nil)
}

// GetAccreditation returns an accreditation of the caller's ambito; a cooperative sees only
// its own.
func (s *Service) GetAccreditation(ctx context.Context, id uuid.UUID) (Accreditation, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Accreditation{}, err
	}
	a, err := s.store.GetAccreditation(ctx, ambitoID, id)
	if err != nil {
		return Accreditation{}, err
	}
	if c.OrgKind == string(OrgCooperativa) && a.CooperativeID.String() != c.OrgID {
		return Accreditation{}, errs.E(errs.NotFound, "accreditation not found")
	}
	return a, nil
}

// UpdateAccreditation changes an accreditation at the expected version.
func (s *Service) UpdateAccreditation(ctx context.Context, id uuid.UUID, version int64, p AccreditationPatch) (Accreditation, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Accreditation{}, err
	}
	var out Accreditation
	err = s.store.InTx(ctx, func(tx Store) error {
		a, err := tx.GetAccreditation(ctx, ambitoID, id)
		if err != nil {
			return err
		}
		var f errs.Fields
		if p.ValidTo != nil {
			a.ValidTo = p.ValidTo
		}
		if p.HourlyTariffCents != nil {
			a.HourlyTariffCents = *p.HourlyTariffCents
			f.Check(a.HourlyTariffCents > 0 && a.HourlyTariffCents <= 100000, "hourly_tariff_cents", "must be between 1 and 100000 (euro cents)")
		}
		validatePeriod(&f, a.ValidFrom, a.ValidTo)
		if err := f.Err(); err != nil {
			return err
		}
		if out, err = tx.UpdateAccreditation(ctx, a, version); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, events.Of(ambitoID, "accreditation.updated", "accreditation", a.ID, out))
	})
	if err != nil {
		return Accreditation{}, err
	}
	return out, s.record(ctx, c, "accreditation.update", "accreditation", id.String(), nil)
}

// ListAccreditations lists the accreditations of the caller's ambito. A cooperative's
// operators and clients see only their own cooperative's.
func (s *Service) ListAccreditations(ctx context.Context, q AccreditationQuery) (cursor.Page[Accreditation], error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return cursor.Page[Accreditation]{}, err
	}
	var f errs.Fields
	if q.ServiceType != "" && !slices.Contains(ServiceTypes, q.ServiceType) {
		f.Add("service_type", "must be one of SAD, SADH, ADH, ADM, AES")
	}
	if q.On != "" {
		valid.Date(&f, "on", q.On, valid.Suite)
	}
	if err := f.Err(); err != nil {
		return cursor.Page[Accreditation]{}, err
	}
	if c.OrgKind == string(OrgCooperativa) {
		own, err := uuid.Parse(c.OrgID)
		if err != nil {
			return cursor.Page[Accreditation]{}, errs.E(errs.Forbidden, "no cooperative in this token")
		}
		if q.CooperativeID != nil && *q.CooperativeID != own {
			return cursor.Page[Accreditation]{}, errs.E(errs.Forbidden, "a cooperative sees only its own accreditations")
		}
		q.CooperativeID = &own
	}
	coop := ""
	if q.CooperativeID != nil {
		coop = q.CooperativeID.String()
	}
	cur := cursor.For("accreditations", coop, string(q.ServiceType), q.On)
	after, err := cur.Decode(q.Cursor)
	if err != nil {
		return cursor.Page[Accreditation]{}, err
	}
	items, err := s.store.ListAccreditations(ctx, ambitoID, q.CooperativeID, q.ServiceType, q.On, q.Limit+1, after)
	if err != nil {
		return cursor.Page[Accreditation]{}, err
	}
	return cursor.PageOf(items, q.Limit, cur, func(a Accreditation) string { return a.ID.String() }), nil
}
