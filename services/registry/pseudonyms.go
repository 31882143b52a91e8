package registry

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"slices"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// Purposes lists the configured pseudonym purposes.
func (s *Service) Purposes() []string {
	out := make([]string, 0, len(s.cfg.PseudonymKeys))
	for p := range s.cfg.PseudonymKeys {
		out = append(out, p)
	}
	slices.Sort(out)
	return out
}

// PseudonymOf computes HMAC-SHA256(key of purpose, citizen id): stable within a purpose,
// unlinkable across purposes, irreversible without the key.
func PseudonymOf(key []byte, id uuid.UUID) string {
	m := hmac.New(sha256.New, key)
	m.Write(id[:])
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// GetPseudonym returns the pseudonym of a citizen for a purpose (service clients with
// pseudonyms:read). A merged record answers with its survivor's pseudonym.
func (s *Service) GetPseudonym(ctx context.Context, id uuid.UUID, purpose string) (Pseudonym, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Pseudonym{}, err
	}
	key, ok := s.cfg.PseudonymKeys[purpose]
	if !ok {
		return Pseudonym{}, errs.InvalidField("purpose", "%s", oneOf(s.Purposes()))
	}
	c, err := s.load(ctx, sc.ambitoID, id)
	for i := 0; err == nil && c.MergedInto != nil && i < 10; i++ {
		c, err = s.load(ctx, sc.ambitoID, *c.MergedInto)
	}
	if err != nil {
		return Pseudonym{}, err
	}
	if err := s.record(ctx, sc, "citizen.pseudonym", c.ID, purpose, audit.OutcomeSuccess, nil); err != nil {
		return Pseudonym{}, err
	}
	return Pseudonym{Purpose: purpose, Pseudonym: PseudonymOf(key, c.ID)}, nil
}
