// Package interventions is the service through which a comune authorizes an intervention for a
// case and assigns it to an accredited cooperative (DESIGN.md, "Services and what each owns"):
// the service types as reference data and the authorizations, versioned and never overwritten.
package interventions

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
)

// Date is a domain date, YYYY-MM-DD in Europe/Rome.
type Date = string

// Status is the status of an authorization.
type Status string

// The statuses of an authorization: a draft is completed and activated by the comune; an
// active one may be suspended and resumed; closed is final.
const (
	StatusDraft     Status = "draft"
	StatusActive    Status = "active"
	StatusSuspended Status = "suspended"
	StatusClosed    Status = "closed"
)

// transitions are the status changes allowed, from → to.
var transitions = map[Status][]Status{
	StatusDraft:     {StatusActive, StatusClosed},
	StatusActive:    {StatusSuspended, StatusClosed},
	StatusSuspended: {StatusActive, StatusClosed},
}

// Errors of the domain.
var (
	// ErrClosed answers every change of a closed authorization: closed is final. The problem
	// carries "code": "authorization_closed".
	ErrClosed = &errs.Error{Kind: errs.FailedPrecondition, Message: "the authorization is closed: it cannot change any more",
		Extra: map[string]any{"code": "authorization_closed"}}
)

// Operator is who did something: an operator or a machine client, in an organization.
type Operator struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	OrgID string `json:"org_id,omitempty"`
}

// Period is the validity of an authorization, both days included.
type Period struct {
	From Date `json:"from"`
	To   Date `json:"to"`
}

// Hours are the hours authorized: per week or in total for the period, exactly one of them, in
// quarters of an hour.
type Hours struct {
	PerWeek *float64 `json:"per_week,omitempty"`
	Total   *float64 `json:"total,omitempty"`
}

// Slot is a planned time range on a weekday.
type Slot struct {
	Weekday string `json:"weekday"` // mon, tue, wed, thu, fri, sat, sun
	From    string `json:"from"`    // HH:MM
	To      string `json:"to"`      // HH:MM, after From
}

// StatusChange is a row of an authorization's status history.
type StatusChange struct {
	From   Status    `json:"from"`
	To     Status    `json:"to"`
	Reason string    `json:"reason"`
	By     Operator  `json:"by"`
	At     time.Time `json:"at"`
}

// Authorization assigns a case's intervention of a service type to an accredited cooperative,
// for a period, with hours, tariff and a planned schedule.
type Authorization struct {
	ID          uuid.UUID `json:"id"`
	AmbitoID    uuid.UUID `json:"ambito_id"`
	ISTATCode   string    `json:"istat_code"` // the authorizing comune
	CaseID      uuid.UUID `json:"case_id"`
	CitizenID   uuid.UUID `json:"citizen_id"`
	ServiceType string    `json:"service_type"`
	// CooperativeID, AccreditationID, Period, Hours and HourlyTariffCents are absent only on a
	// draft from an intake PAI (Plan) that the service manager has not completed yet; activation
	// requires them.
	CooperativeID   uuid.UUID `json:"cooperative_id,omitzero"`
	AccreditationID uuid.UUID `json:"accreditation_id,omitzero"`
	Period          Period    `json:"period,omitzero"`
	Hours           Hours     `json:"hours,omitzero"`
	// HourlyTariffCents is the accreditation's tariff unless TariffOverridden.
	HourlyTariffCents int64          `json:"hourly_tariff_cents,omitzero"`
	TariffOverridden  bool           `json:"tariff_overridden"`
	Schedule          []Slot         `json:"schedule"`
	Status            Status         `json:"status"`
	StatusHistory     []StatusChange `json:"status_history"`
	CreatedBy         Operator       `json:"created_by"`
	// AuthorizedBy is who activated it first; nil while it is a draft.
	AuthorizedBy *Operator `json:"authorized_by"`
	Version      int64     `json:"version"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	// Plan is the planned service of an intake PAI the draft was made from (plandrafts.go).
	Plan *PlanSource `json:"plan,omitempty"`
	// Citizen is the citizen's card, for a cooperative's reads only (citizencard.go);
	// CitizenUnavailable marks a read whose card registry could not give. Neither is stored.
	Citizen            *CitizenCard `json:"citizen,omitempty"`
	CitizenUnavailable bool         `json:"citizen_unavailable,omitempty"`
}

// Version is one kept version of an authorization: what it was from that version on.
type Version struct {
	Version       int64         `json:"version"`
	Change        string        `json:"change"` // created, updated, status_changed
	ChangedBy     Operator      `json:"changed_by"`
	ChangedAt     time.Time     `json:"changed_at"`
	Authorization Authorization `json:"authorization"`
}

// ---- the public API of the Service ----

// AuthorizationInput creates an authorization (status draft).
type AuthorizationInput struct {
	ISTATCode     string    `json:"istat_code"`
	CaseID        uuid.UUID `json:"case_id"`
	CitizenID     uuid.UUID `json:"citizen_id"`
	ServiceType   string    `json:"service_type"`
	CooperativeID uuid.UUID `json:"cooperative_id"`
	Period        *Period   `json:"period"`
	Hours         *Hours    `json:"hours"`
	// HourlyTariffCents overrides the accreditation's tariff when given.
	HourlyTariffCents *int64 `json:"hourly_tariff_cents"`
	Schedule          []Slot `json:"schedule"`
}

// AuthorizationPatch changes an authorization that is not closed; absent members stay. Each
// change is a new version.
type AuthorizationPatch struct {
	ServiceType   *string    `json:"service_type"`
	CooperativeID *uuid.UUID `json:"cooperative_id"`
	Period        *Period    `json:"period"`
	Hours         *Hours     `json:"hours"`
	// HourlyTariffCents overrides the tariff; 0 goes back to the accreditation's.
	HourlyTariffCents *int64  `json:"hourly_tariff_cents"`
	Schedule          *[]Slot `json:"schedule"`
}

// StatusInput changes the status of an authorization, with a reason.
type StatusInput struct {
	Status Status `json:"status"`
	Reason string `json:"reason"`
}

// AuthorizationQuery filters a list of authorizations.
type AuthorizationQuery struct {
	Status        string
	CooperativeID *uuid.UUID
	ServiceType   string
	CitizenID     *uuid.UUID
	CaseID        *uuid.UUID
	Limit         int
	Cursor        string
}

// ---- the store ----

// AuthorizationFilter is what the store lists: newest first, before Before.
type AuthorizationFilter struct {
	AmbitoID    uuid.UUID
	ISTAT       string     // a comune's operators: only this comune's
	Cooperative *uuid.UUID // a cooperative: only its own; or the cooperative_id filter
	NoDrafts    bool       // a cooperative: drafts are not yet assigned to it
	Status      string
	ServiceType string
	CitizenID   *uuid.UUID
	CaseID      *uuid.UUID
	Before      *uuid.UUID
	Limit       int
}

// Store is what the service needs of its database.
type Store interface {
	StatementStore
	InTx(ctx context.Context, fn func(Store) error) error
	AppendEvents(ctx context.Context, evs ...events.Event) error

	// CreateAuthorization stores a new authorization and its version 1 (v).
	CreateAuthorization(ctx context.Context, a Authorization, v Version) error
	GetAuthorization(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (Authorization, error)
	// UpdateAuthorization stores a new version of a at the expected version (PreconditionFailed
	// when it is not the current one), keeping v among the versions; it returns the stored
	// authorization.
	UpdateAuthorization(ctx context.Context, a Authorization, expected int64, v Version) (Authorization, error)
	ListAuthorizations(ctx context.Context, f AuthorizationFilter) ([]Authorization, error)
	// Versions lists the versions of an authorization after version after, ascending; with
	// cooperative, only those that assigned it to that cooperative.
	Versions(ctx context.Context, ambitoID, id uuid.UUID, cooperative *uuid.UUID, after int64, limit int) ([]Version, error)

	VisitStore // visits.go
	PlanDraftStore
	DocumentStore
	DiaryStore
}

// ---- identity ----

// Accreditation is what interventions reads of identity's accreditations: a cooperative may
// deliver a service type in an ambito from ValidFrom to ValidTo (nil: open-ended) at a tariff.
type Accreditation struct {
	ID                uuid.UUID `json:"id"`
	AmbitoID          uuid.UUID `json:"ambito_id"`
	CooperativeID     uuid.UUID `json:"cooperative_id"`
	ServiceType       string    `json:"service_type"`
	ValidFrom         Date      `json:"valid_from"`
	ValidTo           *Date     `json:"valid_to"`
	HourlyTariffCents int64     `json:"hourly_tariff_cents"`
}

// Identity is what interventions needs of the identity service (implemented by identityhttp).
type Identity interface {
	// Accreditations returns the accreditations of a cooperative for a service type.
	// errs.Unavailable when identity cannot answer.
	Accreditations(ctx context.Context, cooperativeID uuid.UUID, serviceType string) ([]Accreditation, error)
	// OperatorProfiles returns the profiles of an operator of the caller's ambito (visits.go);
	// errs.NotFound for an operator identity does not know, errs.Unavailable when it cannot answer.
	OperatorProfiles(ctx context.Context, operatorID uuid.UUID) ([]OperatorProfile, error)
}
