package interventions

import (
	"context"
	"log/slog"
	"slices"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/places"
)

// ScopeAuthorizationsRead lets a machine client read authorizations: the whole ambito, or,
// for a client bound to a cooperative, that cooperative's.
const ScopeAuthorizationsRead = "authorizations:read"

// Config holds the rules that are configuration, not code.
type Config struct {
	Location *time.Location // Europe/Rome, for "today"
	// AccreditationTTL is how long identity's answer about a cooperative's accreditations is
	// kept: within it, identity down does not block the check.
	AccreditationTTL time.Duration
	// OperatorTTL is how long identity's answer about an operator's profiles is kept (visits).
	OperatorTTL time.Duration
	// CitizenCardTTL is how long registry's citizen card is kept for the cooperatives' reads.
	CitizenCardTTL time.Duration
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	return Config{Location: loc, AccreditationTTL: 10 * time.Minute, OperatorTTL: 10 * time.Minute, CitizenCardTTL: defaultCitizenCardTTL}
}

// Service implements the interventions rules.
type Service struct {
	store    Store
	identity Identity
	registry Registry // the citizen cards; nil: none (citizen_unavailable)
	cache    cache.Cache
	audit    audit.Trail
	places   *places.Catalog
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
	docs     *docstore.Documents // set by Mount (Parts.Documents)
}

// NewService returns the service.
func NewService(store Store, identity Identity, c cache.Cache, auditor audit.Trail, cat *places.Catalog, cfg Config, log *slog.Logger) *Service {
	return &Service{store: store, identity: identity, cache: c, audit: auditor, places: cat, cfg: cfg, log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// ---- scope ----

// scope is what the caller may see and do. Roles are checked by the endpoints; the scope says
// which authorizations: the whole ambito (wide), a comune's, or a cooperative's.
type scope struct {
	claims   auth.Claims
	ambitoID uuid.UUID
	wide     bool      // the azienda's operators, the Ufficio di Piano, machine clients
	istat    string    // a comune's operator: its comune
	coop     uuid.UUID // a cooperative's operator or client: its organization
}

var (
	writerRoles = []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker}
	coopRoles   = []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS}
)

func (s *Service) scopeOf(ctx context.Context) (scope, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return scope{}, err
	}
	sc := scope{claims: c, ambitoID: ambitoID}
	if c.OrgKind == "cooperativa" && (c.Kind == auth.KindClient || slices.Contains(coopRoles, c.Role)) {
		if sc.coop, err = uuid.Parse(c.OrgID); err != nil {
			return scope{}, errs.E(errs.Forbidden, "this token names no cooperative")
		}
		return sc, nil
	}
	r, ok, err := auth.ReachOf(c, s.places.IsComune)
	switch {
	case err != nil:
		return scope{}, err
	case ok:
		sc.wide, sc.istat = r.Wide, r.ISTAT
	case c.Role == auth.RoleAmbitoAdmin:
		// the reference data only: the endpoints admit them nowhere else.
	default:
		return scope{}, errs.E(errs.Forbidden, "this profile has no access to interventions")
	}
	return sc, nil
}

func (sc scope) operator() Operator {
	return Operator{ID: sc.claims.Subject, Role: string(sc.claims.Role), OrgID: sc.claims.OrgID}
}

// sees reports whether the caller may read a: its cooperative's, its comune's, or wide.
func (sc scope) sees(a Authorization) bool {
	switch {
	case sc.coop != uuid.Nil:
		// A draft is not yet assigned: the cooperative it names sees it once activated.
		return a.CooperativeID == sc.coop && a.Status != StatusDraft
	case sc.wide:
		return true
	}
	return sc.istat != "" && a.ISTATCode == sc.istat
}

// changes reports whether the caller may change a: a comune's social workers and service
// managers their comune's, the azienda's any (the endpoints admit only those roles).
func (sc scope) changes(a Authorization) bool {
	return sc.claims.Kind == auth.KindOperator && slices.Contains(writerRoles, sc.claims.Role) &&
		(sc.wide || sc.istat != "" && a.ISTATCode == sc.istat)
}

// ---- audit ----

// rec is an audit record of the caller's action on authorization a.
func rec(sc scope, action string, a Authorization, details map[string]any) audit.Record {
	r := audit.By(sc.claims, action, "authorization", a.ID.String())
	r.CitizenID = a.CitizenID.String()
	r.Details = details
	return r
}

// record writes audit records and returns only once they are committed: no personal data is
// served without its trace.
func (s *Service) record(ctx context.Context, recs ...audit.Record) error {
	if len(recs) == 0 {
		return nil
	}
	return s.audit.Write(ctx, recs...)
}

// nonNil returns list, or an empty list for nil (JSON [] rather than null).
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}
