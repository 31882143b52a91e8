package registry

import (
	"context"

	"github.com/google/uuid"
)

// InvalidateForBench drops a citizen from the cache (benchmarks of uncached reads).
func (s *Service) InvalidateForBench(ambitoID, id uuid.UUID) {
	s.invalidate(context.Background(), ambitoID, []uuid.UUID{id})
}
