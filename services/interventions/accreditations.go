package interventions

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// accreditationKey is the cache key of identity's answer about a cooperative's accreditations
// for a service type in an ambito.
func accreditationKey(ambitoID, coop uuid.UUID, serviceType string) string {
	return "accreditations:" + ambitoID.String() + ":" + coop.String() + ":" + serviceType
}

// accreditations asks identity for the cooperative's accreditations for a service type,
// through the cache: an answer cached within Config.AccreditationTTL is used even when identity
// is down; without one, identity down is Unavailable (503 with Retry-After) and nothing is
// written.
func (s *Service) accreditations(ctx context.Context, ambitoID, coop uuid.UUID, serviceType string) ([]Accreditation, error) {
	list, err := cache.GetOrLoad(ctx, s.cache, accreditationKey(ambitoID, coop, serviceType), s.cfg.AccreditationTTL,
		func(ctx context.Context) ([]Accreditation, error) {
			l, err := s.identity.Accreditations(ctx, coop, serviceType)
			return nonNil(l), err
		})
	switch {
	case err == nil:
		return list, nil
	case errs.Is(err, errs.NotFound):
		return nil, nil
	case errs.Is(err, errs.Unavailable):
		return nil, err
	}
	return nil, &errs.Error{Kind: errs.Unavailable, Message: "identity could not be asked about the cooperative's accreditation; retry later",
		RetryAfter: 5 * time.Second, Err: err}
}

// accredited finds the accreditation of the cooperative for the service type in the ambito that
// covers the whole period; none is an invalid cooperative_id (no accreditation for the type in
// the ambito) or period (none covers it from its first to its last day).
func (s *Service) accredited(ctx context.Context, ambitoID, coop uuid.UUID, serviceType string, p Period) (Accreditation, error) {
	list, err := s.accreditations(ctx, ambitoID, coop, serviceType)
	if err != nil {
		return Accreditation{}, err
	}
	found := false
	for _, a := range list {
		if a.AmbitoID != ambitoID || a.CooperativeID != coop || a.ServiceType != serviceType {
			continue
		}
		found = true
		if a.ValidFrom <= p.From && (a.ValidTo == nil || *a.ValidTo >= p.To) {
			return a, nil
		}
	}
	if !found {
		return Accreditation{}, errs.InvalidField("cooperative_id", "holds no accreditation for %s in this ambito", serviceType)
	}
	return Accreditation{}, errs.InvalidField("period", "is not covered from its first to its last day by an accreditation of the cooperative for %s", serviceType)
}
