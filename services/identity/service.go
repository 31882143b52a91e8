package identity

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"log/slog"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Config holds the rules that are configuration, not code.
type Config struct {
	Issuer          string
	AccessTTL       time.Duration // 15 minutes
	RefreshTTL      time.Duration // a working day
	MaxFailures     int           // consecutive failed sign-ins before a lock
	LockBase        time.Duration // first lock; doubles with each further failure
	LockMax         time.Duration
	Location        *time.Location // Europe/Rome, for "today"
	ClientScopes    []string       // scopes a machine client may be given
	ClientAccessTTL time.Duration
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	return Config{Issuer: "csi-identity", AccessTTL: 15 * time.Minute, RefreshTTL: 12 * time.Hour, MaxFailures: 5,
		LockBase: 30 * time.Second, LockMax: 15 * time.Minute, Location: loc, ClientAccessTTL: 15 * time.Minute,
		ClientScopes: DefaultClientScopes}
}

// DefaultClientScopes are the scopes machine clients can be given: every scope a service of the
// suite requires (each service's OpenAPI document lists its own in a clientCredentials scheme;
// tools/internal/conventions checks each one is here). Later services add theirs.
var DefaultClientScopes = []string{events.ScopeRead, "accreditations:read", "organizations:read",
	"citizens:read", "citizens:write", "pseudonyms:read", "visits:write", "authorizations:read", "cases:read", "assessments:read",
	ScopeOperatorsRead, "visits:read"}

// ScopeOperatorsRead lets a machine client read the operators of its ambito with their
// profiles (GET /v1/operators/{id}): interventions checks that a visit's operator is an
// educator, ASA or OSS of the cooperative.
const ScopeOperatorsRead = "operators:read"

// Service implements the identity rules.
type Service struct {
	store  Store
	keys   *KeyRing
	audit  audit.Trail
	places *places.Catalog
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns the service.
func NewService(store Store, keys *KeyRing, auditor audit.Trail, cat *places.Catalog, cfg Config, log *slog.Logger) *Service {
	return &Service{store: store, keys: keys, audit: auditor, places: cat, cfg: cfg, log: log, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

func (s *Service) today() Date { return s.now().In(s.cfg.Location).Format(time.DateOnly) }

// record writes the audit record of the caller's action and returns once it is committed.
func (s *Service) record(ctx context.Context, c auth.Claims, action, resourceType, resourceID string, details map[string]any) error {
	r := audit.By(c, action, resourceType, resourceID)
	r.Details = details
	return s.audit.Write(ctx, r)
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// newSecret returns a random opaque secret and its SHA-256 (what is stored).
func newSecret() (string, []byte) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	raw := base64.RawURLEncoding.EncodeToString(b)
	return raw, hashSecret(raw)
}

func hashSecret(raw string) []byte {
	h := sha256.Sum256([]byte(raw))
	return h[:]
}

func validatePeriod(f *errs.Fields, from Date, to *Date) {
	valid.Date(f, "valid_from", from, valid.Suite)
	if to != nil {
		valid.Date(f, "valid_to", *to, valid.Suite)
		if *to < from {
			f.Add("valid_to", "must not be before valid_from")
		}
	}
}
