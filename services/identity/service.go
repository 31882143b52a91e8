package identity

import (
	"context"
	"log/slog"
	"net/mail"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Auditor records who did what and reads the trail back (pkg/audit.Log implements it).
type Auditor interface {
	Write(ctx context.Context, recs ...audit.Record) error
	List(ctx context.Context, f audit.Filter) ([]audit.Record, string, error)
}

// AuditQuery filters the audit trail.
type AuditQuery struct {
	ActorID  string
	From, To time.Time
	Limit    int
	Cursor   string
}

// AuditTrail returns the ambito's audit records, newest first (the privacy officer). Reading the
// trail is itself recorded.
func (s *Service) AuditTrail(ctx context.Context, q AuditQuery) (Page[audit.Record], error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Page[audit.Record]{}, err
	}
	items, next, err := s.audit.List(ctx, audit.Filter{AmbitoID: ambitoID.String(), ActorID: q.ActorID, From: q.From, To: q.To,
		Limit: q.Limit, Cursor: q.Cursor})
	if err != nil {
		return Page[audit.Record]{}, err
	}
	if items == nil {
		items = []audit.Record{}
	}
	return Page[audit.Record]{Items: items, NextCursor: next}, s.record(ctx, c, "audit.read", "audit", "", map[string]any{"actor_id": q.ActorID})
}

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
	"citizens:read", "citizens:write", "pseudonyms:read", "visits:write", "authorizations:read", "cases:read", "assessments:read"}

// Service implements the identity rules.
type Service struct {
	store  Store
	keys   *KeyRing
	audit  Auditor
	places *places.Catalog
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
}

// NewService returns the service.
func NewService(store Store, keys *KeyRing, auditor Auditor, cat *places.Catalog, cfg Config, log *slog.Logger) *Service {
	return &Service{store: store, keys: keys, audit: auditor, places: cat, cfg: cfg, log: log, now: func() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }}
}

func (s *Service) today() Date { return s.now().In(s.cfg.Location).Format(time.DateOnly) }

// caller returns the authenticated operator or client and its ambito.
func caller(ctx context.Context) (auth.Claims, uuid.UUID, error) {
	c, err := auth.Caller(ctx)
	if err != nil {
		return c, uuid.Nil, err
	}
	id, err := uuid.Parse(c.AmbitoID)
	if err != nil {
		return c, uuid.Nil, errs.E(errs.Forbidden, "this token is not bound to an ambito")
	}
	return c, id, nil
}

func (s *Service) record(ctx context.Context, c auth.Claims, action, resourceType, resourceID string, details map[string]any) error {
	return s.audit.Write(ctx, audit.Record{ActorID: c.Subject, ActorOrg: c.OrgID, ActorRole: string(c.Role), AmbitoID: c.AmbitoID,
		Action: action, ResourceType: resourceType, ResourceID: resourceID, Outcome: "success", Details: details})
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func event(ambitoID uuid.UUID, typ, aggType string, aggID uuid.UUID, payload any) events.Event {
	ev, err := events.New(ambitoID.String(), typ, aggType, aggID.String(), payload)
	if err != nil {
		panic(err) // payloads are our own structs: a failure is a programming error
	}
	return ev
}

// ---- validation helpers ----

func validEmail(f *errs.Fields, field, v string) {
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
		f.Add(field, "must be an e-mail address")
	}
}

// ---- ambiti ----

// ListAmbiti returns the caller's ambito (an operator acts in one ambito).
func (s *Service) ListAmbiti(ctx context.Context) ([]Ambito, error) {
	_, ambitoID, err := caller(ctx)
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
	_, ambitoID, err := caller(ctx)
	if err != nil {
		return Ambito{}, err
	}
	if id != ambitoID {
		return Ambito{}, errs.E(errs.NotFound, "ambito not found")
	}
	return s.store.GetAmbito(ctx, id)
}

// ---- organizations ----

// OrganizationInput creates an organization.
type OrganizationInput struct {
	Kind      OrgKind `json:"kind"`
	Name      string  `json:"name"`
	ISTATCode string  `json:"istat_code,omitempty"`
	TaxCode   string  `json:"tax_code,omitempty"`
	Email     string  `json:"email,omitempty"`
}

func (s *Service) validateOrganization(in OrganizationInput) error {
	var f errs.Fields
	if !slices.Contains(OrgKinds, in.Kind) {
		f.Add("kind", "must be one of comune, azienda, cooperativa, ats, region")
	}
	valid.Line(&f, "name", in.Name, true, 200)
	if in.Kind == OrgComune {
		if in.ISTATCode == "" {
			f.Add("istat_code", "is required for a comune")
		} else if _, ok := s.places.ByISTAT(in.ISTATCode); !ok {
			f.Add("istat_code", "is not the ISTAT code of a current comune")
		}
	} else if in.ISTATCode != "" {
		f.Add("istat_code", "applies to comuni only")
	}
	if in.Kind == OrgCooperativa && in.TaxCode == "" {
		f.Add("tax_code", "is required for a cooperative (partita IVA)")
	}
	if in.TaxCode != "" {
		if err := codicefiscale.ValidateNumeric(in.TaxCode); err != nil {
			f.Add("tax_code", "is not a valid partita IVA: %v", err)
		}
	}
	if in.Email != "" {
		validEmail(&f, "email", in.Email)
	}
	return f.Err()
}

// CreateOrganization adds an organization to the caller's ambito (ambito administrators).
func (s *Service) CreateOrganization(ctx context.Context, in OrganizationInput) (Organization, error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Organization{}, err
	}
	in.Name = strings.TrimSpace(in.Name)
	if err := s.validateOrganization(in); err != nil {
		return Organization{}, err
	}
	now := s.now()
	o := Organization{ID: newID(), AmbitoID: ambitoID, Kind: in.Kind, Name: in.Name, ISTATCode: in.ISTATCode,
		TaxCode: in.TaxCode, Email: in.Email, Active: true, Version: 1, CreatedAt: now, UpdatedAt: now}
	err = s.store.InTx(ctx, func(tx Store) error {
		if err := tx.CreateOrganization(ctx, o); err != nil {
			if errs.Is(err, errs.Conflict) {
				return errs.E(errs.Conflict, "an organization with this ISTAT code or tax code already exists in the ambito")
			}
			return err
		}
		return tx.AppendEvents(ctx, event(ambitoID, "organization.created", "organization", o.ID, o))
	})
	if err != nil {
		return Organization{}, err
	}
	return o, s.record(ctx, c, "organization.create", "organization", o.ID.String(), nil)
}

// GetOrganization returns an organization of the caller's ambito.
func (s *Service) GetOrganization(ctx context.Context, id uuid.UUID) (Organization, error) {
	_, ambitoID, err := caller(ctx)
	if err != nil {
		return Organization{}, err
	}
	return s.store.GetOrganization(ctx, ambitoID, id)
}

// OrganizationPatch changes an organization; nil fields stay.
type OrganizationPatch struct {
	Name   *string `json:"name,omitempty"`
	Email  *string `json:"email,omitempty"`
	Active *bool   `json:"active,omitempty"`
}

// UpdateOrganization changes an organization at the expected version.
func (s *Service) UpdateOrganization(ctx context.Context, id uuid.UUID, version int64, p OrganizationPatch) (Organization, error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Organization{}, err
	}
	var f errs.Fields
	if p.Name != nil {
		valid.Line(&f, "name", *p.Name, true, 200)
	}
	if p.Email != nil && *p.Email != "" {
		validEmail(&f, "email", *p.Email)
	}
	if err := f.Err(); err != nil {
		return Organization{}, err
	}
	var out Organization
	err = s.store.InTx(ctx, func(tx Store) error {
		o, err := tx.GetOrganization(ctx, ambitoID, id)
		if err != nil {
			return err
		}
		if p.Name != nil {
			o.Name = strings.TrimSpace(*p.Name)
		}
		if p.Email != nil {
			o.Email = *p.Email
		}
		if p.Active != nil {
			o.Active = *p.Active
		}
		if out, err = tx.UpdateOrganization(ctx, o, version); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, event(ambitoID, "organization.updated", "organization", o.ID, out))
	})
	if err != nil {
		return Organization{}, err
	}
	return out, s.record(ctx, c, "organization.update", "organization", id.String(), nil)
}

// ListOrganizations lists the organizations of the caller's ambito, optionally of one kind.
func (s *Service) ListOrganizations(ctx context.Context, kind OrgKind, limit int, after string) (Page[Organization], error) {
	_, ambitoID, err := caller(ctx)
	if err != nil {
		return Page[Organization]{}, err
	}
	if kind != "" && !slices.Contains(OrgKinds, kind) {
		return Page[Organization]{}, errs.InvalidField("kind", "must be one of comune, azienda, cooperativa, ats, region")
	}
	cur := cursor.For("organizations", string(kind))
	pos, err := cur.Decode(after)
	if err != nil {
		return Page[Organization]{}, err
	}
	items, err := s.store.ListOrganizations(ctx, ambitoID, kind, limit+1, pos)
	if err != nil {
		return Page[Organization]{}, err
	}
	return pageOf(items, limit, cur, func(o Organization) string { return o.ID.String() }), nil
}

// pageOf cuts a page of limit items from items (read with limit+1) and makes the cursor of the
// next page with cur, the cursors of the list and its criteria.
func pageOf[T any](items []T, limit int, cur cursor.List, key func(T) string) Page[T] {
	p := Page[T]{Items: items}
	if len(items) > limit {
		p.Items = items[:limit]
		p.NextCursor = cur.Encode(key(items[limit-1]))
	}
	if p.Items == nil {
		p.Items = []T{}
	}
	return p
}

// ---- accreditations ----

// AccreditationInput creates an accreditation.
type AccreditationInput struct {
	CooperativeID     uuid.UUID   `json:"cooperative_id"`
	ServiceType       ServiceType `json:"service_type"`
	ValidFrom         Date        `json:"valid_from"`
	ValidTo           *Date       `json:"valid_to,omitempty"`
	HourlyTariffCents int64       `json:"hourly_tariff_cents"`
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

// CreateAccreditation accredits a cooperative of the ambito for a service type.
func (s *Service) CreateAccreditation(ctx context.Context, in AccreditationInput) (Accreditation, error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Accreditation{}, err
	}
	var f errs.Fields
	f.Check(in.CooperativeID != uuid.Nil, "cooperative_id", "is required")
	f.Check(slices.Contains(ServiceTypes, in.ServiceType), "service_type", "must be one of SAD, SADH, ADH, ADM, AES")
	validatePeriod(&f, in.ValidFrom, in.ValidTo)
	f.Check(in.HourlyTariffCents > 0 && in.HourlyTariffCents <= 100000, "hourly_tariff_cents", "must be between 1 and 100000 (euro cents)")
	if err := f.Err(); err != nil {
		return Accreditation{}, err
	}
	now := s.now()
	a := Accreditation{ID: newID(), AmbitoID: ambitoID, CooperativeID: in.CooperativeID, ServiceType: in.ServiceType,
		ValidFrom: in.ValidFrom, ValidTo: in.ValidTo, HourlyTariffCents: in.HourlyTariffCents, Version: 1, CreatedAt: now, UpdatedAt: now}
	err = s.store.InTx(ctx, func(tx Store) error {
		org, err := tx.GetOrganization(ctx, ambitoID, in.CooperativeID)
		if errs.Is(err, errs.NotFound) || err == nil && org.Kind != OrgCooperativa {
			return errs.InvalidField("cooperative_id", "is not a cooperative of this ambito")
		}
		if err != nil {
			return err
		}
		a.CooperativeName = org.Name
		if err := tx.CreateAccreditation(ctx, a); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, event(ambitoID, "accreditation.created", "accreditation", a.ID, a))
	})
	if err != nil {
		return Accreditation{}, err
	}
	return a, s.record(ctx, c, "accreditation.create", "accreditation", a.ID.String(), nil)
}

// GetAccreditation returns an accreditation of the caller's ambito; a cooperative sees only
// its own.
func (s *Service) GetAccreditation(ctx context.Context, id uuid.UUID) (Accreditation, error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Accreditation{}, err
	}
	a, err := s.store.GetAccreditation(ctx, ambitoID, id)
	if err != nil {
		return Accreditation{}, err
	}
	if c.OrgKind == string(OrgCooperativa) && a.CooperativeID.String() != c.OrgID {
		return Accreditation{}, errs.E(errs.NotFound, "accreditation not found")
	}
	return a, nil
}

// AccreditationPatch changes validity or tariff.
type AccreditationPatch struct {
	ValidTo           *Date  `json:"valid_to,omitempty"`
	HourlyTariffCents *int64 `json:"hourly_tariff_cents,omitempty"`
}

// UpdateAccreditation changes an accreditation at the expected version.
func (s *Service) UpdateAccreditation(ctx context.Context, id uuid.UUID, version int64, p AccreditationPatch) (Accreditation, error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Accreditation{}, err
	}
	var out Accreditation
	err = s.store.InTx(ctx, func(tx Store) error {
		a, err := tx.GetAccreditation(ctx, ambitoID, id)
		if err != nil {
			return err
		}
		var f errs.Fields
		if p.ValidTo != nil {
			a.ValidTo = p.ValidTo
		}
		if p.HourlyTariffCents != nil {
			a.HourlyTariffCents = *p.HourlyTariffCents
			f.Check(a.HourlyTariffCents > 0 && a.HourlyTariffCents <= 100000, "hourly_tariff_cents", "must be between 1 and 100000 (euro cents)")
		}
		validatePeriod(&f, a.ValidFrom, a.ValidTo)
		if err := f.Err(); err != nil {
			return err
		}
		if out, err = tx.UpdateAccreditation(ctx, a, version); err != nil {
			return err
		}
		return tx.AppendEvents(ctx, event(ambitoID, "accreditation.updated", "accreditation", a.ID, out))
	})
	if err != nil {
		return Accreditation{}, err
	}
	return out, s.record(ctx, c, "accreditation.update", "accreditation", id.String(), nil)
}

// AccreditationQuery filters accreditations.
type AccreditationQuery struct {
	CooperativeID *uuid.UUID
	ServiceType   ServiceType
	On            Date // valid on this day
	Limit         int
	Cursor        string
}

// ListAccreditations lists the accreditations of the caller's ambito. A cooperative's
// operators and clients see only their own cooperative's.
func (s *Service) ListAccreditations(ctx context.Context, q AccreditationQuery) (Page[Accreditation], error) {
	c, ambitoID, err := caller(ctx)
	if err != nil {
		return Page[Accreditation]{}, err
	}
	var f errs.Fields
	if q.ServiceType != "" && !slices.Contains(ServiceTypes, q.ServiceType) {
		f.Add("service_type", "must be one of SAD, SADH, ADH, ADM, AES")
	}
	if q.On != "" {
		valid.Date(&f, "on", q.On, valid.Suite)
	}
	if err := f.Err(); err != nil {
		return Page[Accreditation]{}, err
	}
	if c.OrgKind == string(OrgCooperativa) {
		own, err := uuid.Parse(c.OrgID)
		if err != nil {
			return Page[Accreditation]{}, errs.E(errs.Forbidden, "no cooperative in this token")
		}
		if q.CooperativeID != nil && *q.CooperativeID != own {
			return Page[Accreditation]{}, errs.E(errs.Forbidden, "a cooperative sees only its own accreditations")
		}
		q.CooperativeID = &own
	}
	coop := ""
	if q.CooperativeID != nil {
		coop = q.CooperativeID.String()
	}
	cur := cursor.For("accreditations", coop, string(q.ServiceType), q.On)
	after, err := cur.Decode(q.Cursor)
	if err != nil {
		return Page[Accreditation]{}, err
	}
	items, err := s.store.ListAccreditations(ctx, ambitoID, q.CooperativeID, q.ServiceType, q.On, q.Limit+1, after)
	if err != nil {
		return Page[Accreditation]{}, err
	}
	return pageOf(items, q.Limit, cur, func(a Accreditation) string { return a.ID.String() }), nil
}
