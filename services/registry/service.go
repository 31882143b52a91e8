package registry

import (
	"context"
	"log/slog"
	"net/mail"
	"regexp"
	"slices"
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
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Scopes of machine clients.
const (
	ScopeCitizensRead   = "citizens:read"
	ScopeCitizensWrite  = "citizens:write"
	ScopePseudonymsRead = "pseudonyms:read"
)

// Auditor records who did what and reads the trail back (pkg/audit.Log implements it).
type Auditor interface {
	Write(ctx context.Context, recs ...audit.Record) error
	List(ctx context.Context, f audit.Filter) ([]audit.Record, string, error)
}

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
	audit  Auditor
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
func NewService(store Store, auditor Auditor, cat *places.Catalog, c cache.Cache, cfg Config, log *slog.Logger) *Service {
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

func event(ambitoID uuid.UUID, typ, aggType string, aggID uuid.UUID, payload any) events.Event {
	ev, err := events.New(ambitoID.String(), typ, aggType, aggID.String(), payload)
	if err != nil {
		panic(err) // payloads are our own structs: a failure is a programming error
	}
	return ev
}

// citizenEvent is the payload of citizen events: the id and the few fields statistics need;
// readers with citizens:read fetch the record.
func citizenEvent(c Citizen) map[string]any {
	m := map[string]any{"id": c.ID, "status": c.Status, "sex": c.Sex, "birth_year": c.BirthDate[:4]}
	if c.Residence != nil {
		m["residence_istat"] = c.Residence.ISTATCode
	}
	return m
}

// ---- scope ----

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

var municipalRoles = []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative}

func (s *Service) scopeOf(ctx context.Context) (scope, error) {
	c, err := auth.Caller(ctx)
	if err != nil {
		return scope{}, err
	}
	ambitoID, err := uuid.Parse(c.AmbitoID)
	if err != nil {
		return scope{}, errs.E(errs.Forbidden, "this token is not bound to an ambito")
	}
	sc := scope{claims: c, ambitoID: ambitoID}
	switch {
	case c.Kind == auth.KindClient, c.Role == auth.RolePlanningOffice:
		sc.wide = true
	case slices.Contains(municipalRoles, c.Role) && c.OrgKind == "azienda":
		sc.wide = true
	case slices.Contains(municipalRoles, c.Role) && c.OrgKind == "comune":
		// identity puts the comune's ISTAT code in the token of a comune's operator.
		if _, ok := s.places.ByISTAT(c.ISTATCode); !ok {
			return scope{}, errs.E(errs.Forbidden, "this token names no current comune")
		}
		sc.istat = c.ISTATCode
	default:
		return scope{}, errs.E(errs.Forbidden, "this profile has no access to citizens' records")
	}
	return sc, nil
}

// ---- audit ----

func auditRecord(sc scope, action, citizenID, purpose, outcome string, details map[string]any) audit.Record {
	return audit.Record{ActorID: sc.claims.Subject, ActorOrg: sc.claims.OrgID, ActorRole: string(sc.claims.Role),
		AmbitoID: sc.ambitoID.String(), Action: action, ResourceType: "citizen", ResourceID: citizenID,
		CitizenID: citizenID, Purpose: purpose, Outcome: outcome, Details: details}
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

// ---- cache ----

func idKey(ambitoID, id uuid.UUID) string { return "id:" + ambitoID.String() + ":" + id.String() }
func cfKey(ambitoID uuid.UUID, canonical string) string {
	return "cf:" + ambitoID.String() + ":" + canonical
}

func (s *Service) load(ctx context.Context, ambitoID, id uuid.UUID) (Citizen, error) {
	return cache.GetOrLoad(ctx, s.cache, idKey(ambitoID, id), s.cfg.CacheTTL, func(ctx context.Context) (Citizen, error) {
		return s.store.GetCitizen(ctx, ambitoID, id, false)
	})
}

// invalidate drops the cached record of each citizen and the code lookups of each code.
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
	cache.Invalidate(ctx, s.cache, keys...)
}

// canonicalOf returns the canonical form of a 16-character code, or the code itself.
func canonicalOf(code string) string {
	if c, err := codicefiscale.Parse(code, nil); err == nil {
		return c.Canonical
	}
	return code
}

// ---- validation ----

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

func (s *Service) address(f *errs.Fields, field string, a *Address) {
	if a == nil {
		return
	}
	if p, ok := s.places.ByISTAT(a.ISTATCode); ok {
		a.Municipality = p.Name
	} else {
		f.Add(field+".istat_code", "is not the ISTAT code of a current comune")
	}
	a.Address = strings.TrimSpace(a.Address)
	valid.Line(f, field+".address", a.Address, true, 200)
	if a.PostalCode != "" && !postalCode.MatchString(a.PostalCode) {
		f.Add(field+".postal_code", "must be five digits")
	}
}

// validate checks a citizen as a whole and fills what derives from the codice fiscale and the
// reference data (canonical code, birthplace name). It is the one check for create and update.
func (s *Service) validate(c *Citizen) error {
	var f errs.Fields
	c.FamilyName, c.GivenName = strings.TrimSpace(c.FamilyName), strings.TrimSpace(c.GivenName)
	valid.Line(&f, "family_name", c.FamilyName, true, 100)
	valid.Line(&f, "given_name", c.GivenName, true, 100)
	f.Check(c.Sex == "M" || c.Sex == "F", "sex", "must be M or F")
	birth, birthOK := valid.Date(&f, "birth_date", c.BirthDate, valid.Birth(s.now().In(s.cfg.Location)))
	belfiore := ""
	if c.BirthPlace != nil {
		belfiore = strings.ToUpper(strings.TrimSpace(c.BirthPlace.Belfiore))
		c.BirthPlace = nil
	}
	if belfiore != "" && birthOK {
		if p, ok := s.places.ByBelfiore(belfiore, birth); ok {
			c.BirthPlace = &BirthPlace{Belfiore: p.Belfiore, Name: p.Name, Foreign: p.Kind == places.Country}
		} else if !s.places.BelfioreExists(belfiore) {
			f.Add("birth_place.belfiore_code", "is not a Belfiore code of a municipality or a country")
		} else {
			f.Add("birth_place.belfiore_code", "was not in use on the birth date")
		}
	}
	c.FiscalCode = strings.ToUpper(strings.TrimSpace(c.FiscalCode))
	c.FiscalCodeCanonical = ""
	switch {
	case c.FiscalCode == "":
		f.Check(slices.Contains(noCodeReasons, c.NoFiscalCodeReason), "no_fiscal_code_reason", "is required without a fiscal_code and %s", oneOf(noCodeReasons))
	case len(c.FiscalCode) == 11:
		// A provisional numeric code: its check digit is all there is to check.
		if err := codicefiscale.ValidateNumeric(c.FiscalCode); err != nil {
			f.Add("fiscal_code", "is not a valid provisional code: %v", err)
		}
		c.FiscalCodeCanonical = c.FiscalCode
	default:
		code, err := codicefiscale.Parse(c.FiscalCode, s.places)
		if err != nil {
			f.Add("fiscal_code", "is not a valid codice fiscale: %v", err)
			break
		}
		c.FiscalCodeCanonical = code.Canonical
		sex := codicefiscale.Sex(0)
		if c.Sex == "M" || c.Sex == "F" {
			sex = codicefiscale.Sex(c.Sex[0])
		}
		var b time.Time
		if birthOK {
			b = birth
		}
		for _, m := range code.Matches(b, sex, belfiore) {
			switch m {
			case codicefiscale.BirthDateMismatch:
				f.Add("birth_date", "does not agree with the codice fiscale (%s)", code.BirthDate.Format("02-01")+"-.."+strconv.Itoa(code.BirthDate.Year()%100))
			case codicefiscale.SexMismatch:
				f.Add("sex", "does not agree with the codice fiscale (%s)", code.Sex)
			case codicefiscale.BirthplaceMismatch:
				f.Add("birth_place.belfiore_code", "does not agree with the codice fiscale (%s)", code.Belfiore)
			}
		}
		if belfiore == "" && code.Place.Belfiore != "" {
			c.BirthPlace = &BirthPlace{Belfiore: code.Place.Belfiore, Name: code.Place.Name, Foreign: code.Foreign}
		}
	}
	if c.FiscalCode != "" && c.NoFiscalCodeReason != "" {
		f.Add("no_fiscal_code_reason", "applies only to people without a fiscal_code")
	}
	if c.Citizenship != "" && !countryCode.MatchString(c.Citizenship) {
		f.Add("citizenship", "must be an ISO 3166-1 alpha-2 country code (IT, MA, ...)")
	}
	if c.MaritalStatus != "" && !slices.Contains(maritalStatuses, c.MaritalStatus) {
		f.Add("marital_status", "%s", oneOf(maritalStatuses))
	}
	if c.EducationLevel != "" && !slices.Contains(educationLevels, c.EducationLevel) {
		f.Add("education_level", "%s", oneOf(educationLevels))
	}
	if d := c.Document; d != nil {
		f.Check(slices.Contains(documentTypes, d.Type), "document.type", "%s", oneOf(documentTypes))
		valid.Line(&f, "document.number", d.Number, true, 30)
		valid.Line(&f, "document.issued_by", d.IssuedBy, false, 200)
		valid.OptDate(&f, "document.expires_on", d.ExpiresOn, valid.Life)
	}
	s.address(&f, "residence", c.Residence)
	s.address(&f, "domicile", c.Domicile)
	valid.Line(&f, "phone", c.Phone, false, 30)
	if c.Email != "" {
		if a, err := mail.ParseAddress(c.Email); err != nil || a.Address != c.Email || len(c.Email) > 254 {
			f.Add("email", "must be an e-mail address")
		}
	}
	if c.PreferredLanguage != "" && !languageCode.MatchString(c.PreferredLanguage) {
		f.Add("preferred_language", "must be an ISO 639-1 language code (it, en, ar, ...)")
	}
	if c.Status == "" {
		c.Status = StatusAlive
	}
	f.Check(slices.Contains(statuses, c.Status), "status", "%s", oneOf(statuses))
	valid.OptDate(&f, "death_date", c.DeathDate, valid.Life)
	valid.OptDate(&f, "moved_on", c.MovedOn, valid.Life)
	f.Check(c.Status != StatusDeceased || c.DeathDate != nil, "death_date", "is required when the status is deceased")
	f.Check(c.Status == StatusDeceased || c.DeathDate == nil, "death_date", "applies only when the status is deceased")
	f.Check(c.Status != StatusMovedAway || c.MovedOn != nil, "moved_on", "is required when the status is moved_away")
	if r := c.LegalRepresentative; r != nil {
		f.Check(slices.Contains(representatives, r.Kind), "legal_representative.kind", "%s", oneOf(representatives))
		f.Check(r.CitizenID != nil || strings.TrimSpace(r.Name) != "", "legal_representative.name", "is required without a citizen_id")
		valid.Line(&f, "legal_representative.name", r.Name, false, 200)
		valid.Date(&f, "legal_representative.valid_from", r.ValidFrom, valid.Life)
		valid.OptDate(&f, "legal_representative.valid_to", r.ValidTo, valid.Life)
		f.Check(r.CitizenID == nil || *r.CitizenID != c.ID, "legal_representative.citizen_id", "must be another citizen")
	}
	valid.OptDate(&f, "privacy.notice_given_on", c.Privacy.NoticeGivenOn, valid.Suite)
	valid.Line(&f, "privacy.notice_given_by", c.Privacy.NoticeGivenBy, c.Privacy.NoticeGivenOn != nil, 200)
	if c.Privacy.Consents == nil {
		c.Privacy.Consents = []Consent{}
	}
	for i, k := range c.Privacy.Consents {
		p := "privacy.consents[" + strconv.Itoa(i) + "]."
		f.Check(slices.Contains(consentKinds, k.Kind), p+"kind", "%s", oneOf(consentKinds))
		valid.Date(&f, p+"given_on", k.GivenOn, valid.Suite)
		valid.OptDate(&f, p+"withdrawn_on", k.WithdrawnOn, valid.Suite)
		f.Check(k.WithdrawnOn == nil || *k.WithdrawnOn >= k.GivenOn, p+"withdrawn_on", "must not be before given_on")
	}
	return f.Err()
}

// ---- cursors ----

func cacheIDs(ctx context.Context, s *Service, ambitoID uuid.UUID, canonical string) ([]uuid.UUID, error) {
	return cache.GetOrLoad(ctx, s.cache, cfKey(ambitoID, canonical), s.cfg.CacheTTL, func(ctx context.Context) ([]uuid.UUID, error) {
		return s.store.CitizenIDsByCanonical(ctx, ambitoID, canonical)
	})
}
