package registry

import (
	"context"
	"log/slog"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Config holds the rules that are configuration, not code.
type Config struct {
	Location      *time.Location    // Europe/Rome, for "today"
	CacheTTL      time.Duration     // of cached citizens
	PseudonymKeys map[string][]byte // purpose -> HMAC key (32 bytes)
	ImportChunk   int64             // staged rows applied per transaction
	MaxImportRows int64
}

// DefaultConfig returns the production defaults (pseudonym keys come from the environment).
func DefaultConfig() Config {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	return Config{Location: loc, CacheTTL: time.Minute, PseudonymKeys: map[string][]byte{}, ImportChunk: 25_000, MaxImportRows: 250_000}
}

// Service implements the registry rules.
type Service struct {
	store  Store
	audit  audit.Trail
	places *places.Catalog
	cache  cache.Cache
	cfg    Config
	log    *slog.Logger
	now    func() time.Time

	bg     context.Context
	cancel context.CancelFunc
	jobs   sync.WaitGroup
}

// NewService returns the service. Close stops the imports it runs in the background.
func NewService(store Store, auditor audit.Trail, cat *places.Catalog, c cache.Cache, cfg Config, log *slog.Logger) *Service {
	bg, cancel := context.WithCancel(context.Background())
	return &Service{store: store, audit: auditor, places: cat, cache: c, cfg: cfg, log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }, bg: bg, cancel: cancel}
}

// Close cancels the imports still running and waits for them.
func (s *Service) Close() {
	s.cancel()
	s.jobs.Wait()
}

func (s *Service) today() Date { return s.now().In(s.cfg.Location).Format(time.DateOnly) }

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// scope is what the caller may see: the whole ambito, or the residents of one comune.
type scope struct {
	claims   auth.Claims
	ambitoID uuid.UUID
	wide     bool
	istat    string // the comune of a comune's operator ("" if its organization is not mapped)
}

func (sc scope) sees(c Citizen) bool {
	return sc.wide || sc.istat != "" && c.Residence != nil && c.Residence.ISTATCode == sc.istat
}

func (s *Service) scopeOf(ctx context.Context) (scope, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return scope{}, err
	}
	r, ok, err := auth.ReachOf(c, s.places.IsComune)
	if err != nil {
		return scope{}, err
	}
	if !ok {
		return scope{}, errs.E(errs.Forbidden, "this profile has no access to citizens' records")
	}
	return scope{claims: c, ambitoID: ambitoID, wide: r.Wide, istat: r.ISTAT}, nil
}

// auditRecord is the record of the caller's action on a citizen's data.
func auditRecord(sc scope, action, citizenID, purpose, outcome string, details map[string]any) audit.Record {
	r := audit.By(sc.claims, action, "citizen", citizenID)
	r.CitizenID, r.Purpose, r.Outcome, r.Details = citizenID, purpose, outcome, details
	return r
}

// record writes an audit record and returns only once it is committed: no personal data is
// served without its trace.
func (s *Service) record(ctx context.Context, sc scope, action string, id uuid.UUID, purpose, outcome string, details map[string]any) error {
	cid := ""
	if id != uuid.Nil {
		cid = id.String()
	}
	return s.audit.Write(ctx, auditRecord(sc, action, cid, purpose, outcome, details))
}

func idKey(ambitoID, id uuid.UUID) string { return "id:" + ambitoID.String() + ":" + id.String() }

func cfKey(ambitoID uuid.UUID, canonical string) string {
	return "cf:" + ambitoID.String() + ":" + canonical
}

func (s *Service) load(ctx context.Context, ambitoID, id uuid.UUID) (Citizen, error) {
	return cache.GetOrLoad(ctx, s.cache, idKey(ambitoID, id), s.cfg.CacheTTL, func(ctx context.Context) (Citizen, error) {
		return s.store.GetCitizen(ctx, ambitoID, id, false)
	})
}

func cacheIDs(ctx context.Context, s *Service, ambitoID uuid.UUID, canonical string) ([]uuid.UUID, error) {
	return cache.GetOrLoad(ctx, s.cache, cfKey(ambitoID, canonical), s.cfg.CacheTTL, func(ctx context.Context) ([]uuid.UUID, error) {
		return s.store.CitizenIDsByCanonical(ctx, ambitoID, canonical)
	})
}

// invalidate drops the cached record of each citizen and the code lookups of each code, once the
// change is committed: dropped before, a reader could fill the cache again with the old value.
func (s *Service) invalidate(ctx context.Context, ambitoID uuid.UUID, ids []uuid.UUID, codes ...string) {
	keys := make([]string, 0, len(ids)+len(codes))
	for _, id := range ids {
		keys = append(keys, idKey(ambitoID, id))
	}
	for _, c := range codes {
		if c != "" {
			keys = append(keys, cfKey(ambitoID, canonicalOf(c)))
		}
	}
	s.store.AfterCommit(ctx, func(ctx context.Context) { cache.Invalidate(ctx, s.cache, keys...) })
}

// canonicalOf returns the canonical form of a 16-character code, or the code itself.
func canonicalOf(code string) string {
	if c, err := codicefiscale.Parse(code, nil); err == nil {
		return c.Canonical
	}
	return code
}

var (
	maritalStatuses = []string{"single", "married", "civil_union", "separated", "divorced", "widowed", "unknown"}
	educationLevels = []string{"none", "primary", "lower_secondary", "upper_secondary", "tertiary", "unknown"}
	documentTypes   = []string{"identity_card", "passport", "driving_licence", "residence_permit", "other"}
	noCodeReasons   = []string{"homeless", "undocumented", "newborn", "foreign_not_assigned", "other"}
	codeReasons     = []string{"correction", "omocodic_replacement", "provisional_replaced"}
	statuses        = []string{StatusAlive, StatusDeceased, StatusMovedAway}
	representatives = []string{"guardian", "support_administrator", "curator", "parent"}
	consentKinds    = []string{"share_with_cooperatives", "share_with_ats"}
	relationships   = []string{"head", "spouse", "partner", "child", "parent", "sibling", "grandchild", "grandparent", "in_law", "other_relative", "cohabitant"}
	countryCode     = regexp.MustCompile(`^[A-Z]{2}$`)
	languageCode    = regexp.MustCompile(`^[a-z]{2}$`)
	postalCode      = regexp.MustCompile(`^[0-9]{5}$`)
)

func oneOf(list []string) string { return "must be one of " + strings.Join(list, ", ") }

func validPurpose(p string) error {
	if len(p) > 200 || !valid.LineOK(p) {
		return errs.InvalidField("purpose", "must be at most 200 characters without control characters")
	}
	return nil
}

// visible loads a live citizen the caller may see.
func (s *Service) visible(ctx context.Context, sc scope, id uuid.UUID) (Citizen, error) {
	c, err := s.load(ctx, sc.ambitoID, id)
	if err != nil {
		return Citizen{}, err
	}
	if !sc.sees(c) {
		return Citizen{}, errs.E(errs.NotFound, "citizen not found")
	}
	if c.MergedInto != nil {
		return Citizen{}, &MergedError{ID: id, MergedInto: *c.MergedInto}
	}
	return c, nil
}
