package identity

import (
	"context"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// ListAmbiti returns the caller's ambito (an operator acts in one ambito).
func (s *Service) ListAmbiti(ctx context.Context) ([]Ambito, error) {
	_, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return nil, err
	}
	a, err := s.store.GetAmbito(ctx, ambitoID)
	if err != nil {
		return nil, err
	}
	return []Ambito{a}, nil
}

// GetAmbito returns the caller's own ambito.
func (s *Service) GetAmbito(ctx context.Context, id uuid.UUID) (Ambito, error) {
	_, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return Ambito{}, err
	}
	if id != ambitoID {
		return Ambito{}, errs.E(errs.NotFound, "ambito not found")
	}
	return s.store.GetAmbito(ctx, id)
}
