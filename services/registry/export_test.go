package registry

import (
	"context"

	"github.com/google/uuid"
)

// InvalidateForBench drops a citizen and its code from the cache (benchmarks of uncached reads).
func (s *Service) InvalidateForBench(ambitoID, id uuid.UUID, code string) {
	s.invalidate(context.Background(), ambitoID, []uuid.UUID{id}, code)
}
