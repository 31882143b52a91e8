package intake

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Scopes of machine clients.
const (
	// ScopeCasesRead reads accesses, cases, plans and records (reporting, other services).
	ScopeCasesRead = "cases:read"
	// ScopeAssessmentsRead reads assessments (the fna service reuses them).
	ScopeAssessmentsRead = "assessments:read"
)

// Config holds the rules that are configuration, not code.
type Config struct {
	Location *time.Location // Europe/Rome, for "today"
}

// DefaultConfig returns the production defaults.
func DefaultConfig() Config {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		loc = time.UTC
	}
	return Config{Location: loc}
}

// Service implements the intake rules.
type Service struct {
	store    Store
	registry Registry
	audit    audit.Trail
	places   *places.Catalog
	cfg      Config
	log      *slog.Logger
	now      func() time.Time
}

// NewService returns the service.
func NewService(store Store, registry Registry, auditor audit.Trail, cat *places.Catalog, cfg Config, log *slog.Logger) *Service {
	return &Service{store: store, registry: registry, audit: auditor, places: cat, cfg: cfg, log: log,
		now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

func (s *Service) today() Date { return s.now().In(s.cfg.Location).Format(time.DateOnly) }

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

// ---- scope ----

// scope is what the caller may see and do. Roles are checked by the endpoints; the scope says
// which records: the whole ambito (wide), or a comune's records and the cases assigned to the
// operator; whether reserved text reaches them; for a cooperative's operator, its organization.
type scope struct {
	claims   auth.Claims
	ambitoID uuid.UUID
	wide     bool   // the azienda's operators, the Ufficio di Piano, machine clients
	istat    string // a comune's operator: its comune
	coop     string // a cooperative's operator: its organization
	// reserved: the caller may read reserved text (access summary, current condition, diary
	// text, case notes): the social workers and service managers who take people in charge.
	reserved bool
}

var (
	caseWorkers = []auth.Role{auth.RoleServiceManager, auth.RoleSocialWorker}
	coopRoles   = []auth.Role{auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS}
)

func (s *Service) scopeOf(ctx context.Context) (scope, error) {
	c, ambitoID, err := auth.AmbitoCaller(ctx)
	if err != nil {
		return scope{}, err
	}
	sc := scope{claims: c, ambitoID: ambitoID}
	r, ok, err := auth.ReachOf(c, s.places.IsComune)
	switch {
	case err != nil:
		return scope{}, err
	case ok:
		sc.wide, sc.istat = r.Wide, r.ISTAT
		sc.reserved = sc.isRole(caseWorkers...)
	case slices.Contains(coopRoles, c.Role):
		sc.coop = c.OrgID
	case c.Role == auth.RoleAmbitoAdmin, c.Role == auth.RolePrivacyOfficer:
		// the taxonomy, the audit trail: the endpoints admit them nowhere else.
	default:
		return scope{}, errs.E(errs.Forbidden, "this profile has no access to intake's records")
	}
	return sc, nil
}

func (sc scope) me() string { return sc.claims.Subject }

func (sc scope) operator() Operator {
	return Operator{ID: sc.claims.Subject, Role: string(sc.claims.Role), OrgID: sc.claims.OrgID}
}

func (sc scope) isRole(roles ...auth.Role) bool {
	return sc.claims.Kind == auth.KindOperator && slices.Contains(roles, sc.claims.Role)
}

// assigned reports whether the caller is the case's responsible social worker or case manager.
func (sc scope) assigned(c Case) bool {
	me := sc.me()
	return sc.claims.Kind == auth.KindOperator && (c.ResponsibleID.String() == me || c.CaseManagerID.String() == me)
}

// sees reports whether the caller may read the case (cooperatives: see coopSees).
func (sc scope) sees(c Case) bool {
	return sc.wide || sc.istat != "" && c.ISTATCode == sc.istat || sc.isRole(caseWorkers...) && sc.assigned(c)
}

// manages reports whether the caller may reassign or transfer the case: a service manager of
// the case's comune, or of the azienda.
func (sc scope) manages(c Case) bool {
	return sc.isRole(auth.RoleServiceManager) && (sc.wide || c.ISTATCode == sc.istat)
}

// seesAccess reports whether the caller may read the access: the whole ambito, the access's
// comune, or the operator who recorded it.
func (sc scope) seesAccess(a Access) bool {
	return sc.wide || sc.istat != "" && a.ISTATCode == sc.istat || sc.claims.Kind == auth.KindOperator && a.Operator.ID == sc.me()
}

// ---- audit ----

// rec is an audit record of the caller's action on a resource of a citizen (nil: none, an
// anonymous contact).
func rec(sc scope, action, resourceType string, id uuid.UUID, citizen *uuid.UUID, details map[string]any) audit.Record {
	r := audit.By(sc.claims, action, resourceType, id.String())
	r.Details = details
	if citizen != nil {
		r.CitizenID = citizen.String()
	}
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

// ---- the registry ----

// citizen asks the registry for a citizen a write refers to, as field: a citizen the registry
// does not know is an invalid field; a registry that cannot answer is Unavailable (503 with
// Retry-After), and nothing is written.
func (s *Service) citizen(ctx context.Context, field string, id uuid.UUID) (CitizenSummary, error) {
	c, err := s.registry.Citizen(ctx, id)
	switch {
	case err == nil:
		if c.ID == uuid.Nil {
			c.ID = id
		}
		return c, nil
	case errs.Is(err, errs.NotFound):
		return CitizenSummary{}, errs.InvalidField(field, "is not a citizen of the registry")
	default:
		return CitizenSummary{}, unavailable(err)
	}
}

// unavailable is the error of a registry that could not answer: its own Unavailable (with its
// Retry-After), or any other failure as an Unavailable whose cause is logged, never shown.
func unavailable(err error) error {
	if errs.Is(err, errs.Unavailable) {
		return err
	}
	return &errs.Error{Kind: errs.Unavailable, Message: "the registry could not be asked about the citizen; retry later",
		RetryAfter: 5 * time.Second, Err: err}
}

// ---- validation ----

// codes returns a coded list of codes.json; a missing list is a programming error.
func codes(list string) CodeList {
	l, ok := Lookup(list)
	if !ok {
		panic("intake: no code list " + list)
	}
	return l
}

// comune checks the ISTAT code of a current comune.
func (s *Service) comune(f *errs.Fields, field, istat string) {
	if istat == "" {
		f.Add(field, "is required")
		return
	}
	if _, ok := s.places.ByISTAT(istat); !ok {
		f.Add(field, "is not the ISTAT code of a current comune")
	}
}

// pastDate checks a date of something that happened: from 2000-01-01 (valid.Suite) to today.
func (s *Service) pastDate(f *errs.Fields, field, v string) bool {
	if _, ok := valid.Date(f, field, v, valid.Suite); !ok {
		return false
	}
	if v > s.today() {
		f.Add(field, "must not be in the future")
		return false
	}
	return true
}

// lines checks a list of single-line texts (field[i]).
func lines(f *errs.Fields, field string, list []string, max int) {
	for i, v := range list {
		valid.Line(f, field+"["+strconv.Itoa(i)+"]", v, true, max)
	}
}

// texts checks a list of free texts (field[i]).
func texts(f *errs.Fields, field string, list []string, max int) {
	for i, v := range list {
		valid.Text(f, field+"["+strconv.Itoa(i)+"]", v, true, max)
	}
}

// nonNil returns list, or an empty list for nil (JSON [] rather than null).
func nonNil[T any](list []T) []T {
	if list == nil {
		return []T{}
	}
	return list
}

// taxonomy returns a version of the ambito's needs taxonomy; version 0 is the latest. Version
// 1 is the base every ambito starts from (BaseTaxonomy). A version the ambito never made is
// NotFound.
func (s *Service) taxonomy(ctx context.Context, ambitoID uuid.UUID, version int) (Taxonomy, error) {
	if version == 1 {
		return BaseTaxonomy(), nil
	}
	t, err := s.store.Taxonomy(ctx, ambitoID, version)
	if errs.Is(err, errs.NotFound) && version == 0 {
		return BaseTaxonomy(), nil
	}
	if errs.Is(err, errs.NotFound) {
		return Taxonomy{}, errs.E(errs.NotFound, "the ambito has no version %d of the needs taxonomy", version)
	}
	return t, err
}

// recordTaxonomy is the taxonomy a record is coded with: the version it names (field), or the
// latest; an unknown version is an invalid field.
func (s *Service) recordTaxonomy(ctx context.Context, ambitoID uuid.UUID, field string, version int) (Taxonomy, error) {
	if version < 0 || version > maxTaxonomyVersion {
		return Taxonomy{}, errs.InvalidField(field, "must be from 1 to %d", maxTaxonomyVersion)
	}
	t, err := s.taxonomy(ctx, ambitoID, version)
	if errs.Is(err, errs.NotFound) {
		return Taxonomy{}, errs.InvalidField(field, "is not a version of the ambito's needs taxonomy")
	}
	return t, err
}
