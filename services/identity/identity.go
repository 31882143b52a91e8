// Package identity owns the ambiti, their organizations (comuni, azienda consortile / Ufficio di
// Piano, cooperatives, ATS, Region), the operators and the profiles in which they act (a role
// held in an organization, with validity dates), the machine clients, the cooperatives'
// accreditations, sign-in and the access tokens every other service verifies.
package identity

import (
	"context"
	"crypto/ed25519"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/events"
)

// OrgKind is the kind of an organization.
type OrgKind string

// The organization kinds of DOMAIN.md.
const (
	OrgComune      OrgKind = "comune"
	OrgAzienda     OrgKind = "azienda" // azienda consortile / Ufficio di Piano
	OrgCooperativa OrgKind = "cooperativa"
	OrgATS         OrgKind = "ats"
	OrgRegion      OrgKind = "region"
)

// OrgKinds lists the kinds in a stable order.
var OrgKinds = []OrgKind{OrgComune, OrgAzienda, OrgCooperativa, OrgATS, OrgRegion}

// rolesByOrgKind says which roles can be held in which kind of organization (DOMAIN.md); the
// ambito administrator and the privacy officer are held in the azienda or a comune of the ambito.
var rolesByOrgKind = map[OrgKind][]auth.Role{
	OrgComune:      {auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePrivacyOfficer},
	OrgAzienda:     {auth.RoleAmbitoAdmin, auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative, auth.RolePlanningOffice, auth.RolePrivacyOfficer},
	OrgCooperativa: {auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS},
	OrgATS:         {auth.RoleATSMonitor},
	OrgRegion:      {auth.RoleRegionMonitor},
}

// ServiceType is a home-care or educational service a cooperative can be accredited for.
type ServiceType string

// The service types of DOMAIN.md.
var ServiceTypes = []ServiceType{"SAD", "SADH", "ADH", "ADM", "AES"}

// Date is a calendar date of the domain (YYYY-MM-DD, Europe/Rome).
type Date = string

// Ambito is the tenant.
type Ambito struct {
	ID        uuid.UUID `json:"id"`
	Code      string    `json:"code"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"created_at"`
}

// Organization is a comune, the azienda consortile, a cooperative, ATS or the Region.
type Organization struct {
	ID        uuid.UUID `json:"id"`
	AmbitoID  uuid.UUID `json:"ambito_id"`
	Kind      OrgKind   `json:"kind"`
	Name      string    `json:"name"`
	ISTATCode string    `json:"istat_code,omitempty"` // comuni
	TaxCode   string    `json:"tax_code,omitempty"`   // partita IVA / numeric codice fiscale
	Email     string    `json:"email,omitempty"`
	Active    bool      `json:"active"`
	Version   int64     `json:"version"`
	CreatedAt time.Time `json:"created_at"`
	UpdatedAt time.Time `json:"updated_at"`
}

// Profile is a role held by an operator in an organization, with validity dates.
type Profile struct {
	ID                uuid.UUID `json:"id"`
	OrganizationID    uuid.UUID `json:"organization_id"`
	OrganizationName  string    `json:"organization_name"`
	OrganizationKind  OrgKind   `json:"organization_kind"`
	OrganizationISTAT string    `json:"organization_istat_code,omitempty"` // comuni
	Role              auth.Role `json:"role"`
	ValidFrom         Date      `json:"valid_from"`
	ValidTo           *Date     `json:"valid_to"`
}

// ActiveOn reports whether the profile is valid on day (YYYY-MM-DD).
func (p Profile) ActiveOn(day Date) bool {
	return p.ValidFrom <= day && (p.ValidTo == nil || *p.ValidTo >= day)
}

// OperatorStatus is active or disabled.
type OperatorStatus string

// Operator statuses.
const (
	StatusActive   OperatorStatus = "active"
	StatusDisabled OperatorStatus = "disabled"
)

// Operator is a person who works in the suite.
type Operator struct {
	ID          uuid.UUID      `json:"id"`
	AmbitoID    uuid.UUID      `json:"ambito_id"`
	FiscalCode  string         `json:"fiscal_code"`
	GivenName   string         `json:"given_name"`
	FamilyName  string         `json:"family_name"`
	Email       string         `json:"email"`
	Phone       string         `json:"phone,omitempty"`
	Status      OperatorStatus `json:"status"`
	PasswordSet bool           `json:"password_set"`
	Profiles    []Profile      `json:"profiles"`
	Version     int64          `json:"version"`
	CreatedAt   time.Time      `json:"created_at"`
	UpdatedAt   time.Time      `json:"updated_at"`

	passwordHash string
}

// Accreditation lets a cooperative deliver a service type in an ambito for a period, at an
// hourly tariff.
type Accreditation struct {
	ID                uuid.UUID   `json:"id"`
	AmbitoID          uuid.UUID   `json:"ambito_id"`
	CooperativeID     uuid.UUID   `json:"cooperative_id"`
	CooperativeName   string      `json:"cooperative_name"`
	ServiceType       ServiceType `json:"service_type"`
	ValidFrom         Date        `json:"valid_from"`
	ValidTo           *Date       `json:"valid_to"`
	HourlyTariffCents int64       `json:"hourly_tariff_cents"`
	Version           int64       `json:"version"`
	CreatedAt         time.Time   `json:"created_at"`
	UpdatedAt         time.Time   `json:"updated_at"`
}

// Client is a machine client (a cooperative's system, another service) using OAuth2 client
// credentials.
type Client struct {
	ID             uuid.UUID  `json:"id"`
	AmbitoID       *uuid.UUID `json:"ambito_id"` // nil: a suite-wide service client
	OrganizationID *uuid.UUID `json:"organization_id"`
	Name           string     `json:"name"`
	Scopes         []string   `json:"scopes"`
	Active         bool       `json:"active"`
	CreatedAt      time.Time  `json:"created_at"`

	secretHash []byte
}

// SigningKey is an EdDSA key for access tokens.
type SigningKey struct {
	KID       string
	Public    ed25519.PublicKey
	Private   ed25519.PrivateKey
	CreatedAt time.Time
	RetiredAt *time.Time
}

// RefreshToken is the stored side of an opaque refresh token (only its hash is kept).
type RefreshToken struct {
	Hash       []byte
	FamilyID   uuid.UUID
	OperatorID uuid.UUID
	ProfileID  uuid.UUID
	IssuedAt   time.Time
	ExpiresAt  time.Time
	UsedAt     *time.Time
	RevokedAt  *time.Time
}

// OrganizationInput creates an organization.
type OrganizationInput struct {
	Kind      OrgKind `json:"kind"`
	Name      string  `json:"name"`
	ISTATCode string  `json:"istat_code,omitempty"`
	TaxCode   string  `json:"tax_code,omitempty"`
	Email     string  `json:"email,omitempty"`
}

// OrganizationPatch changes an organization; nil fields stay.
type OrganizationPatch struct {
	Name   *string `json:"name,omitempty"`
	Email  *string `json:"email,omitempty"`
	Active *bool   `json:"active,omitempty"`
}

// AccreditationInput creates an accreditation.
type AccreditationInput struct {
	CooperativeID     uuid.UUID   `json:"cooperative_id"`
	ServiceType       ServiceType `json:"service_type"`
	ValidFrom         Date        `json:"valid_from"`
	ValidTo           *Date       `json:"valid_to,omitempty"`
	HourlyTariffCents int64       `json:"hourly_tariff_cents"`
}

// AccreditationPatch changes validity or tariff.
type AccreditationPatch struct {
	ValidTo           *Date  `json:"valid_to,omitempty"`
	HourlyTariffCents *int64 `json:"hourly_tariff_cents,omitempty"`
}

// AccreditationQuery filters accreditations.
type AccreditationQuery struct {
	CooperativeID *uuid.UUID
	ServiceType   ServiceType
	On            Date // valid on this day
	Limit         int
	Cursor        string
}

// ProfileInput assigns a role in an organization.
type ProfileInput struct {
	OrganizationID uuid.UUID `json:"organization_id"`
	Role           auth.Role `json:"role"`
	ValidFrom      Date      `json:"valid_from"`
	ValidTo        *Date     `json:"valid_to,omitempty"`
}

// OperatorInput creates an operator.
type OperatorInput struct {
	FiscalCode string         `json:"fiscal_code"`
	GivenName  string         `json:"given_name"`
	FamilyName string         `json:"family_name"`
	Email      string         `json:"email"`
	Phone      string         `json:"phone,omitempty"`
	Password   string         `json:"password,omitempty"`
	Profiles   []ProfileInput `json:"profiles"`
}

// OperatorPatch changes an operator; nil fields stay.
type OperatorPatch struct {
	GivenName  *string         `json:"given_name,omitempty"`
	FamilyName *string         `json:"family_name,omitempty"`
	Email      *string         `json:"email,omitempty"`
	Phone      *string         `json:"phone,omitempty"`
	Status     *OperatorStatus `json:"status,omitempty"`
}

// OperatorQuery filters operators.
type OperatorQuery struct {
	OrganizationID *uuid.UUID
	Query          string
	Limit          int
	Cursor         string
}

// ClientInput creates a machine client.
type ClientInput struct {
	Name           string     `json:"name"`
	OrganizationID *uuid.UUID `json:"organization_id,omitempty"`
	Scopes         []string   `json:"scopes"`
}

// ClientWithSecret is a client with its secret, shown once.
type ClientWithSecret struct {
	Client
	Secret string `json:"client_secret"`
}

// TokenRequest is an OAuth2 token request (form-encoded on the wire).
type TokenRequest struct {
	GrantType    string
	Username     string
	Password     string
	ProfileID    string
	RefreshToken string
	ClientID     string
	ClientSecret string
	Scope        string
}

// TokenResponse is the OAuth2 token answer (RFC 6749 section 5.1), with the profile the token
// acts in.
type TokenResponse struct {
	AccessToken  string   `json:"access_token"`
	TokenType    string   `json:"token_type"`
	ExpiresIn    int      `json:"expires_in"`
	RefreshToken string   `json:"refresh_token,omitempty"`
	Scope        string   `json:"scope,omitempty"`
	Profile      *Profile `json:"profile,omitempty"`
}

// ImportDefaults fill the columns a file leaves out.
type ImportDefaults struct {
	OrganizationID *uuid.UUID
	Role           auth.Role
}

// ImportReport says what an import did.
type ImportReport struct {
	Imported  int        `json:"imported"`
	Operators []Operator `json:"operators"`
}

// AuditQuery filters the audit trail.
type AuditQuery struct {
	ActorID  string
	From, To time.Time
	Limit    int
	Cursor   string
}

// OperatorFilter selects operators of an ambito.
type OperatorFilter struct {
	AmbitoID       uuid.UUID
	OrganizationID *uuid.UUID // only operators with a profile in this organization
	OnlyThere      bool       // and with no profile anywhere else (what a coordinator manages)
	Query          string     // prefix of family name, given name or e-mail
	Limit          int
	After          *cursor.Name
}

// Store is the persistence the service needs; postgres.Store implements it.
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	AppendEvents(ctx context.Context, evs ...events.Event) error

	CreateAmbito(ctx context.Context, a Ambito) error
	GetAmbito(ctx context.Context, id uuid.UUID) (Ambito, error)
	AmbitoByCode(ctx context.Context, code string) (Ambito, error)
	ListAmbiti(ctx context.Context) ([]Ambito, error)

	CreateOrganization(ctx context.Context, o Organization) error
	GetOrganization(ctx context.Context, ambitoID, id uuid.UUID) (Organization, error)
	UpdateOrganization(ctx context.Context, o Organization, expectedVersion int64) (Organization, error)
	ListOrganizations(ctx context.Context, ambitoID uuid.UUID, kind OrgKind, limit int, after string) ([]Organization, error)

	CreateOperator(ctx context.Context, o Operator) error
	GetOperator(ctx context.Context, ambitoID, id uuid.UUID) (Operator, error)
	// OperatorByEmail and OperatorForSignIn find an operator across ambiti: sign-in does not
	// know the ambito yet. Nothing else may use them.
	OperatorByEmail(ctx context.Context, email string) (Operator, error)
	OperatorForSignIn(ctx context.Context, id uuid.UUID) (Operator, error)
	UpdateOperator(ctx context.Context, o Operator, expectedVersion int64) (Operator, error)
	SetPassword(ctx context.Context, operatorID uuid.UUID, hash string) error
	ListOperators(ctx context.Context, f OperatorFilter) ([]Operator, error)
	AddProfile(ctx context.Context, operatorID uuid.UUID, p Profile) error
	EndProfile(ctx context.Context, operatorID, profileID uuid.UUID, day Date) error

	CreateAccreditation(ctx context.Context, a Accreditation) error
	GetAccreditation(ctx context.Context, ambitoID, id uuid.UUID) (Accreditation, error)
	UpdateAccreditation(ctx context.Context, a Accreditation, expectedVersion int64) (Accreditation, error)
	ListAccreditations(ctx context.Context, ambitoID uuid.UUID, coopID *uuid.UUID, st ServiceType, on Date, limit int, after string) ([]Accreditation, error)

	CreateClient(ctx context.Context, c Client) error
	GetClient(ctx context.Context, id uuid.UUID) (Client, error)
	ListClients(ctx context.Context, ambitoID uuid.UUID) ([]Client, error)
	UpdateClientSecret(ctx context.Context, id uuid.UUID, hash []byte) error
	SetClientActive(ctx context.Context, id uuid.UUID, active bool) error

	SaveRefreshToken(ctx context.Context, t RefreshToken) error
	// UseRefreshToken marks the token used and returns it as it was before.
	UseRefreshToken(ctx context.Context, hash []byte, now time.Time) (RefreshToken, error)
	RevokeFamily(ctx context.Context, familyID uuid.UUID, now time.Time) error
	RevokeOperatorTokens(ctx context.Context, operatorID uuid.UUID, now time.Time) error

	// SignInFailures returns failures and lock of a username.
	SignInFailures(ctx context.Context, username string) (failures int, lockedUntil *time.Time, err error)
	RecordSignInFailure(ctx context.Context, username string, now time.Time, lockedUntil *time.Time) (int, error)
	ClearSignInFailures(ctx context.Context, username string) error

	SaveSigningKey(ctx context.Context, kid string, public ed25519.PublicKey, sealedPrivate []byte, createdAt time.Time) error
	SigningKeys(ctx context.Context) ([]StoredKey, error)
	RetireSigningKeys(ctx context.Context, exceptKID string, now time.Time) error
	DeleteSigningKeysRetiredBefore(ctx context.Context, t time.Time) error
	// LockKeyRotation takes a transaction-level lock so only one replica rotates keys.
	LockKeyRotation(ctx context.Context) error
}

// StoredKey is a signing key as stored: the private part sealed.
type StoredKey struct {
	KID           string
	Public        ed25519.PublicKey
	SealedPrivate []byte
	CreatedAt     time.Time
	RetiredAt     *time.Time
}

// PasswordHash and SetPasswordHash give the store access to the unexported hash, which is never
// serialized in answers.
func PasswordHash(o Operator) string { return o.passwordHash }

// SetPasswordHash sets the stored hash on a loaded operator.
func SetPasswordHash(o *Operator, h string) { o.passwordHash, o.PasswordSet = h, h != "" }

// SecretHash returns a client's stored secret hash.
func SecretHash(c Client) []byte { return c.secretHash }

// SetSecretHash sets the stored secret hash on a loaded client.
func SetSecretHash(c *Client, h []byte) { c.secretHash = h }
