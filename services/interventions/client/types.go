package client

import "time"

// Identifiers are UUIDs in their canonical text form; dates are YYYY-MM-DD (Europe/Rome);
// times of day HH:MM; months YYYY-MM; amounts integer euro cents.

// Operator is who did something: an operator of an organization, or a machine client.
type Operator struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	OrgID string `json:"org_id,omitempty"`
}

// Period is a validity, both days included.
type Period struct {
	From string `json:"from"`
	To   string `json:"to"`
}

// Hours are the hours authorized: per week or in total for the period, exactly one of them.
type Hours struct {
	PerWeek *float64 `json:"per_week,omitempty"`
	Total   *float64 `json:"total,omitempty"`
}

// Slot is a planned time range on a weekday (mon … sun).
type Slot struct {
	Weekday string `json:"weekday"`
	From    string `json:"from"`
	To      string `json:"to"`
}

// StatusChange is a row of an authorization's status history.
type StatusChange struct {
	From   string    `json:"from"`
	To     string    `json:"to"`
	Reason string    `json:"reason"`
	By     Operator  `json:"by"`
	At     time.Time `json:"at"`
}

// The statuses of an authorization. Visits are recorded against active ones.
const (
	AuthorizationDraft     = "draft"
	AuthorizationActive    = "active"
	AuthorizationSuspended = "suspended"
	AuthorizationClosed    = "closed"
)

// Authorization is an intervention a comune authorized for a case and assigned to the
// cooperative: service type, period, hours, hourly tariff and planned schedule.
type Authorization struct {
	ID                string         `json:"id"`
	AmbitoID          string         `json:"ambito_id"`
	ISTATCode         string         `json:"istat_code"` // the authorizing comune
	CaseID            string         `json:"case_id"`
	CitizenID         string         `json:"citizen_id"`
	ServiceType       string         `json:"service_type"` // SAD, SADH, ADH, ADM, AES
	CooperativeID     string         `json:"cooperative_id"`
	AccreditationID   string         `json:"accreditation_id"`
	Period            Period         `json:"period"`
	Hours             Hours          `json:"hours"`
	HourlyTariffCents int64          `json:"hourly_tariff_cents"`
	TariffOverridden  bool           `json:"tariff_overridden"`
	Schedule          []Slot         `json:"schedule"`
	Status            string         `json:"status"`
	StatusHistory     []StatusChange `json:"status_history"`
	CreatedBy         Operator       `json:"created_by"`
	AuthorizedBy      *Operator      `json:"authorized_by"`
	Version           int64          `json:"version"`
	CreatedAt         time.Time      `json:"created_at"`
	UpdatedAt         time.Time      `json:"updated_at"`
}

// AuthorizationFilter narrows ListAuthorizations; the zero value lists them all (a cooperative's
// client sees only its cooperative's).
type AuthorizationFilter struct {
	Status      string // draft, active, suspended, closed
	ServiceType string
	CitizenID   string
	CaseID      string
	// PageSize is how many authorizations each request asks for (1…200; 0: the service's
	// default). The iterator goes on to the next pages by itself.
	PageSize int
}

// Places of a visit.
const (
	PlaceHome      = "home"
	PlaceSchool    = "school"
	PlaceCommunity = "community"
)

// VisitInput records a visit: who made it (an educator, ASA or OSS of the cooperative), for
// which authorization, when, what was done and where. Absent records a missed visit: the
// citizen was not there.
type VisitInput struct {
	AuthorizationID string   `json:"authorization_id"`
	OperatorID      string   `json:"operator_id"`
	Date            string   `json:"date"`  // YYYY-MM-DD
	Start           string   `json:"start"` // HH:MM
	End             string   `json:"end"`   // HH:MM, after Start
	Activities      []string `json:"activities"`
	Place           string   `json:"place"`
	Notes           string   `json:"notes,omitempty"`
	Absent          bool     `json:"absent"`
}

// The statuses of a visit.
const (
	VisitValid  = "valid"
	VisitVoided = "voided"
)

// Voiding says why and by whom a visit was voided, and which visit replaced it.
type Voiding struct {
	Reason     string    `json:"reason"`
	By         Operator  `json:"by"`
	At         time.Time `json:"at"`
	ReplacedBy *string   `json:"replaced_by"`
}

// Visit is a visit as the service stored it. A voided visit stays, with Voided set.
type Visit struct {
	ID              string   `json:"id"`
	AuthorizationID string   `json:"authorization_id"`
	CooperativeID   string   `json:"cooperative_id"`
	ServiceType     string   `json:"service_type"`
	CitizenID       string   `json:"citizen_id"`
	OperatorID      string   `json:"operator_id"`
	Date            string   `json:"date"`
	Start           string   `json:"start"`
	End             string   `json:"end"`
	Minutes         int      `json:"minutes"`
	Activities      []string `json:"activities"`
	Place           string   `json:"place"`
	Notes           string   `json:"notes"`
	Absent          bool     `json:"absent"`
	// ExcessMinutes are the minutes beyond the hours authorized: accepted, and flagged.
	ExcessMinutes int       `json:"excess_minutes"`
	Status        string    `json:"status"`
	Replaces      *string   `json:"replaces"`
	Voided        *Voiding  `json:"voided"`
	RecordedBy    Operator  `json:"recorded_by"`
	RecordedAt    time.Time `json:"recorded_at"`
}

// VisitFilter narrows ListVisits.
type VisitFilter struct {
	AuthorizationID string
	OperatorID      string
	Month           string // YYYY-MM
	Status          string // valid, voided
	PageSize        int    // 0: the service's default
}

// VoidResult is a voided visit and the visit that replaces it, if one was given.
type VoidResult struct {
	Voided      Visit  `json:"voided"`
	Replacement *Visit `json:"replacement"`
}

// BatchItem is the result of one visit of a batch: Status 201 and the Visit stored, or the
// status and the Problem that refused it (its field names say visits[i].…, i the visit's
// position in the call that carried it).
type BatchItem struct {
	// Index is the visit's position in the slice given to PostVisits.
	Index   int      `json:"index"`
	Status  int      `json:"status"`
	Visit   *Visit   `json:"visit,omitempty"`
	Problem *Problem `json:"problem,omitempty"`
}

// OK reports whether the visit was stored.
func (b BatchItem) OK() bool { return b.Visit != nil && b.Status/100 == 2 }

// BatchResult is the outcome of PostVisits: how many visits were stored and refused, and a
// result per visit, in the order of the input.
type BatchResult struct {
	Stored  int         `json:"stored"`
	Failed  int         `json:"failed"`
	Results []BatchItem `json:"results"`
}

// The statuses of a statement.
const (
	StatementOpen      = "open"
	StatementSubmitted = "submitted"
	StatementReturned  = "returned"
	StatementApproved  = "approved"
)

// StatementLine is what a statement accounts for one authorization in the month. Minutes are
// whole minutes, money integer euro cents.
type StatementLine struct {
	AuthorizationID   string `json:"authorization_id"`
	CaseID            string `json:"case_id"`
	CitizenID         string `json:"citizen_id"`
	ISTATCode         string `json:"istat_code"`
	ServiceType       string `json:"service_type"`
	INPSCode          string `json:"inps_code"`
	HourlyTariffCents int64  `json:"hourly_tariff_cents"`
	// AuthorizedMinutes are the hours authorized for the month, prorated.
	AuthorizedMinutes int64 `json:"authorized_minutes"`
	// DeliveredMinutes are the minutes of the valid visits the citizen was present at.
	DeliveredMinutes int64 `json:"delivered_minutes"`
	// MissedVisits counts the valid visits the citizen was absent from.
	MissedVisits int64 `json:"missed_visits"`
	// ExcessMinutes are the delivered minutes beyond the hours authorized.
	ExcessMinutes int64 `json:"excess_minutes"`
	// PayableMinutes are DeliveredMinutes − ExcessMinutes.
	PayableMinutes int64 `json:"payable_minutes"`
	// AmountCents is PayableMinutes × HourlyTariffCents / 60, rounded half up to the cent.
	AmountCents int64 `json:"amount_cents"`
	// ExcessAmountCents is what the excess would cost at the tariff: shown apart, not in
	// AmountCents, for the comune to decide.
	ExcessAmountCents int64 `json:"excess_amount_cents"`
}

// StatementTotal sums a statement's lines of one service type.
type StatementTotal struct {
	ServiceType       string `json:"service_type"`
	INPSCode          string `json:"inps_code"`
	Lines             int    `json:"lines"`
	AuthorizedMinutes int64  `json:"authorized_minutes"`
	DeliveredMinutes  int64  `json:"delivered_minutes"`
	MissedVisits      int64  `json:"missed_visits"`
	ExcessMinutes     int64  `json:"excess_minutes"`
	PayableMinutes    int64  `json:"payable_minutes"`
	AmountCents       int64  `json:"amount_cents"`
	ExcessAmountCents int64  `json:"excess_amount_cents"`
}

// StatementNote is a note on a statement (the comune's, when it sends it back).
type StatementNote struct {
	By   Operator  `json:"by"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Statement is a cooperative's account of a month: hours delivered per authorization and
// service type against hours authorized, missed visits, excess and the amount due.
type Statement struct {
	CooperativeID string           `json:"cooperative_id"`
	Month         string           `json:"month"`
	Status        string           `json:"status"`
	Version       int64            `json:"version"`
	Lines         []StatementLine  `json:"lines"`
	ByServiceType []StatementTotal `json:"by_service_type"`
	// TotalAmountCents is the amount due; TotalExcessAmountCents the excess, shown apart.
	TotalAmountCents       int64           `json:"total_amount_cents"`
	TotalExcessAmountCents int64           `json:"total_excess_amount_cents"`
	Notes                  []StatementNote `json:"notes"`
	SubmittedBy            *Operator       `json:"submitted_by"`
	SubmittedAt            *time.Time      `json:"submitted_at"`
	ApprovedBy             *Operator       `json:"approved_by"`
	ApprovedAt             *time.Time      `json:"approved_at"`
	UpdatedAt              *time.Time      `json:"updated_at"`
	// FiguresFrozen: submitted or approved, the figures are those submitted.
	FiguresFrozen bool `json:"figures_frozen"`
	// ETag is the statement's entity tag as the service answered it: pass it to
	// SubmitStatement with IfMatch.
	ETag string `json:"-"`
}

// ExportFormat is a format of a statement's export.
type ExportFormat string

// The formats of a statement's export.
const (
	ExportCSV  ExportFormat = "csv"
	ExportXLSX ExportFormat = "xlsx"
	ExportPDF  ExportFormat = "pdf"
)
