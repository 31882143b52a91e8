package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
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
	istat := ""
	if c.Residence != nil {
		istat = c.Residence.ISTATCode
	}
	return sc.seesResident(istat)
}

// seesResident reports whether the caller sees the residents of the comune istat ("" for people
// without a residence).
func (sc scope) seesResident(istat string) bool {
	return sc.wide || sc.istat != "" && istat == sc.istat
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

// load returns a citizen of the ambito, merged or not, through the cache.
func (s *Service) load(ctx context.Context, ambitoID, id uuid.UUID) (CitizenJSON, error) {
	return cache.GetOrLoadWith(ctx, s.cache, idKey(ambitoID, id), s.cfg.CacheTTL, oneCitizen, func(ctx context.Context) (CitizenJSON, error) {
		c, err := s.store.GetCitizen(ctx, ambitoID, id, false)
		if err != nil {
			return CitizenJSON{}, err
		}
		return encodeCitizen(c)
	})
}

// loadByCode returns the live citizens of the ambito whose code has the canonical form, by id,
// through the cache: one lookup when cached, one query when not.
func (s *Service) loadByCode(ctx context.Context, ambitoID uuid.UUID, canonical string) ([]CitizenJSON, error) {
	return cache.GetOrLoadWith(ctx, s.cache, cfKey(ambitoID, canonical), s.cfg.CacheTTL, citizenList, func(ctx context.Context) ([]CitizenJSON, error) {
		cs, err := s.store.CitizensByCanonical(ctx, ambitoID, canonical)
		if err != nil {
			return nil, err
		}
		out := make([]CitizenJSON, len(cs))
		for i, c := range cs {
			if out[i], err = encodeCitizen(c); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
}

// encodeCitizen encodes c as the API serves it.
func encodeCitizen(c Citizen) (CitizenJSON, error) {
	b, err := json.Marshal(c)
	if err != nil {
		return CitizenJSON{}, err
	}
	r := CitizenJSON{ID: c.ID, Version: c.Version, MergedInto: c.MergedInto, FiscalCode: c.FiscalCode, JSON: b}
	if c.Residence != nil {
		r.ISTAT = c.Residence.ISTATCode
	}
	return r, nil
}

// The cached form of citizens: a tag line, then per citizen a line of the fields the rules read
// (id, version, residence, survivor, code; "-" for none) and a line of its JSON, which holds no
// line break. A hit slices the citizens out of the cached bytes without decoding their JSON.
// Anything else (a value of an older version) is a miss, and replaced.
const citizensTag = "citizens/1\n"

var (
	citizenList = cache.Codec[[]CitizenJSON]{Encode: appendCitizens, Decode: parseCitizens}
	oneCitizen  = cache.Codec[CitizenJSON]{
		Encode: func(r CitizenJSON) ([]byte, error) { return appendCitizens([]CitizenJSON{r}) },
		Decode: func(b []byte) (CitizenJSON, error) {
			rs, err := parseCitizens(b)
			if err == nil && len(rs) != 1 {
				err = fmt.Errorf("%d citizens cached under one id", len(rs))
			}
			if err != nil {
				return CitizenJSON{}, err
			}
			return rs[0], nil
		},
	}
)

func appendCitizens(rs []CitizenJSON) ([]byte, error) {
	n := len(citizensTag)
	for _, r := range rs {
		n += 128 + len(r.JSON)
	}
	b := make([]byte, 0, n)
	b = append(b, citizensTag...)
	for _, r := range rs {
		if bytes.IndexByte(r.JSON, '\n') >= 0 {
			return nil, errors.New("citizen JSON with a line break")
		}
		merged := "-"
		if r.MergedInto != nil {
			merged = r.MergedInto.String()
		}
		b = append(b, r.ID.String()...)
		b = append(b, ' ')
		b = strconv.AppendInt(b, r.Version, 10)
		for _, f := range []string{r.ISTAT, merged, r.FiscalCode} {
			if f == "" {
				f = "-"
			}
			if strings.ContainsAny(f, " \n") {
				return nil, fmt.Errorf("cached citizen field %q with a space", f)
			}
			b = append(append(b, ' '), f...)
		}
		b = append(b, '\n')
		b = append(b, r.JSON...)
		b = append(b, '\n')
	}
	return b, nil
}

func parseCitizens(b []byte) ([]CitizenJSON, error) {
	rest, ok := bytes.CutPrefix(b, []byte(citizensTag))
	if !ok {
		return nil, errors.New("not a cached citizen list")
	}
	var rs []CitizenJSON
	for len(rest) > 0 {
		head, body, ok := bytes.Cut(rest, []byte{'\n'})
		if !ok {
			return nil, errors.New("cached citizen without its JSON")
		}
		j, next, ok := bytes.Cut(body, []byte{'\n'})
		if !ok || len(j) == 0 || j[0] != '{' {
			return nil, errors.New("cached citizen with a broken JSON line")
		}
		f := strings.Fields(string(head))
		if len(f) != 5 {
			return nil, fmt.Errorf("cached citizen header %q", head)
		}
		for i := range f {
			if f[i] == "-" {
				f[i] = ""
			}
		}
		var r CitizenJSON
		var err error
		if r.ID, err = uuid.Parse(f[0]); err != nil {
			return nil, err
		}
		if r.Version, err = strconv.ParseInt(f[1], 10, 64); err != nil {
			return nil, err
		}
		if f[3] != "" {
			m, err := uuid.Parse(f[3])
			if err != nil {
				return nil, err
			}
			r.MergedInto = &m
		}
		r.ISTAT, r.FiscalCode, r.JSON = f[2], f[4], j
		rs = append(rs, r)
		rest = next
	}
	return rs, nil
}

// invalidate drops the cached record of each citizen and the code lookups of each code, once the
// change is committed: dropped before, a reader could fill the cache again with the old value.
// The code lookups hold the records too: a change of a citizen drops its id and its code(s),
// always.
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

// visible checks that id is a live citizen the caller may see.
func (s *Service) visible(ctx context.Context, sc scope, id uuid.UUID) error {
	c, err := s.load(ctx, sc.ambitoID, id)
	if err != nil {
		return err
	}
	if !sc.seesResident(c.ISTAT) {
		return errs.E(errs.NotFound, "citizen not found")
	}
	if c.MergedInto != nil {
		return &MergedError{ID: id, MergedInto: *c.MergedInto}
	}
	return nil
}
