// Package intake is the Segretariato Sociale's front door and the case file (DOMAIN.md, "The
// record: five phases"): access records with coded needs (phase A), the case opened by a presa
// in carico with its status history and transfers, assessments with ADL/IADL (phase B), the
// individual plan (PAI, phase C) in versions, the case diary, and the closure (phase E); the
// record of a case phase by phase with the regional element codes; the needs taxonomy in
// versions an ambito extends. The reference data (taxonomy, scales, coded lists, regional
// elements) is in taxonomy.go, scales.go, codes.go and regional.go.
package intake

import (
	"context"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
)

// Date is a calendar date of the domain (YYYY-MM-DD, Europe/Rome).
type Date = string

// Case statuses (the case_status code list).
const (
	StatusOpen      = "open"
	StatusSuspended = "suspended"
	StatusClosed    = "closed"
)

// Access outcomes (the outcome code list).
const (
	OutcomeInformation   = "information"
	OutcomeOrientation   = "orientation"
	OutcomeReferral      = "referral"
	OutcomeTakenIntoCare = "taken_into_care"
)

// Diary visibilities (the diary_visibility code list).
const (
	VisibilityTeam          = "team"
	VisibilitySocialService = "social_service"
	VisibilityCooperative   = "cooperative"
)

// ErrCaseClosed answers every change of a closed case but its reopening: a closed case is
// read-only until a status change to open. The problem carries "code": "case_closed".
var ErrCaseClosed = &errs.Error{Kind: errs.FailedPrecondition, Message: "the case is closed: reopen it (POST /v1/cases/{id}/status, status open) to change it",
	Extra: map[string]any{"code": "case_closed"}}

// Operator is the operator who did something, as their token named them: the operator's id
// (identity's), and the role and organization they acted in.
type Operator struct {
	ID    string `json:"id"`
	Role  string `json:"role"`
	OrgID string `json:"org_id"`
}

// ---- phase A: access ----

// Referrer is who sent the person: a referrer code, and the referring body's name.
type Referrer struct {
	Kind string `json:"kind"`
	Body string `json:"body,omitempty"`
}

// AnonymousContact is a person not (yet) in the registry: an alias and how to reach them.
type AnonymousContact struct {
	Alias string `json:"alias"`
	Phone string `json:"phone,omitempty"`
	Note  string `json:"note,omitempty"`
}

// HouseholdMember is one member of the household as the person describes it.
type HouseholdMember struct {
	Relationship string `json:"relationship"`
	Age          *int   `json:"age"`
}

// Household is the household composition declared at the access: a household type and size,
// and optionally its members.
type Household struct {
	Type        string            `json:"type,omitempty"`
	Size        *int              `json:"size,omitempty"`
	Composition []HouseholdMember `json:"composition,omitempty"`
}

// ISEE is the declared ISEE: its type, value (euro cents) and expiry.
type ISEE struct {
	Type       string `json:"type"`
	ValueCents *int64 `json:"value_cents"`
	ValidUntil *Date  `json:"valid_until,omitempty"`
}

// Outcome is how an access ended: information, orientation, referral elsewhere (referred_to
// names the service or body) or taken into care (case_id, set by opening the case).
type Outcome struct {
	Kind       string     `json:"kind"`
	ReferredTo string     `json:"referred_to,omitempty"`
	CaseID     *uuid.UUID `json:"case_id,omitempty"`
}

// Access is an access record (scheda di accesso e orientamento). Exactly one of CitizenID and
// AnonymousContact is set. Summary is reserved text.
type Access struct {
	ID               uuid.UUID         `json:"id"`
	AmbitoID         uuid.UUID         `json:"ambito_id"`
	OccurredAt       *time.Time        `json:"occurred_at,omitempty"`
	Date             Date              `json:"date"`
	ISTATCode        string            `json:"istat_code"`
	Desk             string            `json:"desk,omitempty"`
	Channel          string            `json:"channel"`
	Referrer         Referrer          `json:"referrer"`
	CitizenID        *uuid.UUID        `json:"citizen_id,omitempty"`
	AnonymousContact *AnonymousContact `json:"anonymous_contact,omitempty"`
	RequestType      string            `json:"request_type"`
	RequestedArea    string            `json:"requested_area"`
	Needs            []string          `json:"needs"`
	TaxonomyVersion  int               `json:"taxonomy_version"`
	Household        *Household        `json:"household,omitempty"`
	IncomeArea       string            `json:"income_area,omitempty"`
	ISEE             *ISEE             `json:"isee,omitempty"`
	Occupation       string            `json:"occupation,omitempty"`
	Summary          string            `json:"summary,omitempty"`
	Outcome          *Outcome          `json:"outcome,omitempty"`
	Operator         Operator          `json:"operator"`
	Version          int64             `json:"version"`
	CreatedAt        time.Time         `json:"created_at"`
	UpdatedAt        time.Time         `json:"updated_at"`
}

// AccessFilter selects accesses of an ambito. Scope restricts to one comune's accesses and
// those the operator Recorder recorded ("" = the whole ambito).
type AccessFilter struct {
	AmbitoID  uuid.UUID
	Scope     string
	Recorder  string
	ISTAT     string
	From, To  Date
	Outcome   string // an outcome kind, or "none": accesses without an outcome yet
	CitizenID *uuid.UUID
	Limit     int
	Before    *uuid.UUID // the page starts after this id (ids descending)
}

// ---- taxonomy versions ----

// TaxonomyVersion describes a version of an ambito's needs taxonomy.
type TaxonomyVersion struct {
	Version   int        `json:"version"`
	Base      bool       `json:"base"`
	Areas     int        `json:"areas"`
	Needs     int        `json:"needs"`
	CreatedAt *time.Time `json:"created_at,omitempty"`
	CreatedBy string     `json:"created_by,omitempty"`
}

// ---- phases B, C, E: the case ----

// StatusChange is one row of a case's status history.
type StatusChange struct {
	Status string    `json:"status"`
	Reason string    `json:"reason,omitempty"`
	On     Date      `json:"on"`
	By     Operator  `json:"by"`
	At     time.Time `json:"at"`
}

// Transfer moves a case to another social worker, another comune (the person moved), or both.
type Transfer struct {
	ID               uuid.UUID `json:"id"`
	FromISTAT        string    `json:"from_istat"`
	ToISTAT          string    `json:"to_istat"`
	FromSocialWorker uuid.UUID `json:"from_social_worker"`
	ToSocialWorker   uuid.UUID `json:"to_social_worker"`
	Reason           string    `json:"reason"`
	On               Date      `json:"on"`
	By               Operator  `json:"by"`
	At               time.Time `json:"at"`
	CaseID           uuid.UUID `json:"-"`
	AmbitoID         uuid.UUID `json:"-"`
}

// Closure is the final assessment of a case (phase E).
type Closure struct {
	ClosedOn          Date      `json:"closed_on"`
	ResultsReached    []string  `json:"results_reached"`
	ResultsNotReached []string  `json:"results_not_reached"`
	Reason            string    `json:"closure_reason"`
	NewProjectFollows bool      `json:"new_project_follows"`
	By                Operator  `json:"by"`
	At                time.Time `json:"at"`
}

// Case is the case file opened by a presa in carico. Notes is reserved text. A case is never
// deleted: its status history, transfers and closures are kept.
type Case struct {
	ID              uuid.UUID       `json:"id"`
	AmbitoID        uuid.UUID       `json:"ambito_id"`
	CitizenID       uuid.UUID       `json:"citizen_id"`
	ISTATCode       string          `json:"istat_code"`
	Area            string          `json:"area"`
	TaxonomyVersion int             `json:"taxonomy_version"`
	AccessID        *uuid.UUID      `json:"access_id,omitempty"`
	ResponsibleID   uuid.UUID       `json:"responsible_id"`
	CaseManagerID   uuid.UUID       `json:"case_manager_id"`
	OpenedOn        Date            `json:"opened_on"`
	OpenedBy        Operator        `json:"opened_by"`
	Status          string          `json:"status"`
	Notes           string          `json:"notes,omitempty"`
	Closure         *Closure        `json:"closure,omitempty"`
	StatusHistory   []StatusChange  `json:"status_history"`
	Transfers       []Transfer      `json:"transfers"`
	Citizen         *CitizenSummary `json:"citizen,omitempty"`
	Version         int64           `json:"version"`
	CreatedAt       time.Time       `json:"created_at"`
	UpdatedAt       time.Time       `json:"updated_at"`
}

// CaseFilter selects cases of an ambito. Scope restricts to one comune's cases and those
// assigned to Assignee ("" = the whole ambito); AssignedTo keeps only the cases of which the
// operator is responsible or case manager.
type CaseFilter struct {
	AmbitoID   uuid.UUID
	Scope      string
	Assignee   string
	ISTAT      string
	Status     string
	AssignedTo string
	CitizenID  *uuid.UUID
	Limit      int
	Before     *uuid.UUID
}

// Invalidity is the civil invalidity status and percentage.
type Invalidity struct {
	Status  string `json:"status"`
	Percent *int   `json:"percent,omitempty"`
}

// InterventionNeeds are the needs for health, socio-health and social interventions.
type InterventionNeeds struct {
	Health      []string `json:"health"`
	SocioHealth []string `json:"socio_health"`
	Social      []string `json:"social"`
}

// ScaleAnswers are the answers to an ADL or IADL scale, the version scored, and the result
// computed from them.
type ScaleAnswers struct {
	Version int               `json:"version,omitempty"`
	Answers map[string]string `json:"answers"`
	Result  *ScaleResult      `json:"result,omitempty"`
}

// Assessment is an assessment of need (phase B). CurrentCondition is reserved text.
type Assessment struct {
	ID               uuid.UUID         `json:"id"`
	AmbitoID         uuid.UUID         `json:"ambito_id"`
	CaseID           uuid.UUID         `json:"case_id"`
	CitizenID        uuid.UUID         `json:"citizen_id"`
	AssessedOn       Date              `json:"assessed_on"`
	Assessor         Operator          `json:"assessor"`
	CaseManagerID    uuid.UUID         `json:"case_manager_id"`
	TaxonomyVersion  int               `json:"taxonomy_version"`
	Areas            []string          `json:"areas"`
	Invalidity       *Invalidity       `json:"invalidity,omitempty"`
	Disability       string            `json:"disability,omitempty"`
	BenefitsReceived []string          `json:"benefits_received"`
	CurrentCondition string            `json:"current_condition,omitempty"`
	Aids             []string          `json:"aids"`
	Needs            InterventionNeeds `json:"needs"`
	ADL              *ScaleAnswers     `json:"adl,omitempty"`
	IADL             *ScaleAnswers     `json:"iadl,omitempty"`
	CreatedAt        time.Time         `json:"created_at"`
}

// PlannedService is a service the plan provides for.
type PlannedService struct {
	ServiceType          string     `json:"service_type"`
	Frequency            string     `json:"frequency"`
	HoursPerWeek         float64    `json:"hours_per_week"`
	PreferredCooperative *uuid.UUID `json:"preferred_cooperative,omitempty"`
	StartOn              *Date      `json:"start_on,omitempty"`
	EndOn                *Date      `json:"end_on,omitempty"`
}

// Plan is one version of a case's individual plan (PAI, phase C); every change is a new
// version and all are kept.
type Plan struct {
	CaseID             uuid.UUID        `json:"case_id"`
	Version            int64            `json:"version"`
	Goals              []string         `json:"goals"`
	PlannedServices    []PlannedService `json:"planned_services"`
	ProjectValueCents  int64            `json:"project_value_cents"`
	UserCopaymentCents int64            `json:"user_copayment_cents"`
	ProjectLead        uuid.UUID        `json:"project_lead"`
	MonitoringLead     uuid.UUID        `json:"monitoring_lead"`
	ReviewOn           Date             `json:"review_on"`
	CreatedBy          Operator         `json:"created_by"`
	CreatedAt          time.Time        `json:"created_at"`
	AmbitoID           uuid.UUID        `json:"-"`
}

// PlanVersion describes a version of a plan in the list of versions.
type PlanVersion struct {
	Version   int64     `json:"version"`
	CreatedBy Operator  `json:"created_by"`
	CreatedAt time.Time `json:"created_at"`
	ReviewOn  Date      `json:"review_on"`
}

// DiaryEntry is an entry of a case's diary. Append-only. Text is reserved text, shown to the
// cooperative named by CooperativeID when the visibility is cooperative.
type DiaryEntry struct {
	ID            uuid.UUID  `json:"id"`
	CaseID        uuid.UUID  `json:"case_id"`
	EntryOn       Date       `json:"entry_on"`
	Text          string     `json:"text,omitempty"`
	Visibility    string     `json:"visibility"`
	CooperativeID *uuid.UUID `json:"cooperative_id,omitempty"`
	Author        Operator   `json:"author"`
	CreatedAt     time.Time  `json:"created_at"`
	AmbitoID      uuid.UUID  `json:"-"`
}

// DiaryFilter selects the entries of a case a caller may read.
type DiaryFilter struct {
	AmbitoID, CaseID uuid.UUID
	// Team: the caller sees every team entry; Author: the caller sees the team entries they
	// wrote; Cooperative: only the cooperative entries shared with this organization.
	Team        bool
	Author      string
	Cooperative string
	Limit       int
	Before      *uuid.UUID
}

// ---- the record ----

// RecordElement is one element of a case's record: the regional element code, the internal
// field, the value and, for coded fields, the regional value.
type RecordElement struct {
	Code          string `json:"code"`
	Field         string `json:"field"`
	Label         string `json:"label"`
	Value         any    `json:"value"`
	RegionalValue any    `json:"regional_value,omitempty"`
}

// RecordPhase is one phase of the record.
type RecordPhase struct {
	Phase    string          `json:"phase"`
	Sources  []string        `json:"sources"`
	Note     string          `json:"note,omitempty"`
	Elements []RecordElement `json:"elements"`
}

// CaseRecord is the minimum data set of a case, phase by phase (A to E).
type CaseRecord struct {
	CaseID    uuid.UUID     `json:"case_id"`
	CitizenID uuid.UUID     `json:"citizen_id"`
	Phases    []RecordPhase `json:"phases"`
}

// ---- the inputs of the service ----

// OutcomeInput is the outcome of an access as the operator gives it. taken_into_care is not
// given: opening a case with the access's id sets it, with the case's id.
type OutcomeInput struct {
	Kind       string `json:"kind"`
	ReferredTo string `json:"referred_to,omitempty"`
}

// AccessInput records an access. occurred_at (a timestamp) or date (the day) says when; without
// either, now. Exactly one of citizen_id and anonymous_contact. taxonomy_version is the version
// of the needs taxonomy the needs are coded with (default the ambito's latest).
type AccessInput struct {
	OccurredAt       *string           `json:"occurred_at,omitempty"`
	Date             *Date             `json:"date,omitempty"`
	ISTATCode        string            `json:"istat_code"`
	Desk             string            `json:"desk,omitempty"`
	Channel          string            `json:"channel"`
	Referrer         *Referrer         `json:"referrer"`
	CitizenID        *uuid.UUID        `json:"citizen_id,omitempty"`
	AnonymousContact *AnonymousContact `json:"anonymous_contact,omitempty"`
	RequestType      string            `json:"request_type"`
	RequestedArea    string            `json:"requested_area"`
	Needs            []string          `json:"needs"`
	TaxonomyVersion  int               `json:"taxonomy_version,omitempty"`
	Household        *Household        `json:"household,omitempty"`
	IncomeArea       string            `json:"income_area,omitempty"`
	ISEE             *ISEE             `json:"isee,omitempty"`
	Occupation       string            `json:"occupation,omitempty"`
	Summary          string            `json:"summary,omitempty"`
	Outcome          *OutcomeInput     `json:"outcome,omitempty"`
}

// AccessPatch changes an access; absent fields stay. citizen_id links an anonymous contact to
// a registry citizen (the anonymous contact is then dropped); the needs stay coded with the
// access's taxonomy version.
type AccessPatch struct {
	Desk          *string       `json:"desk,omitempty"`
	Channel       *string       `json:"channel,omitempty"`
	Referrer      *Referrer     `json:"referrer,omitempty"`
	CitizenID     *uuid.UUID    `json:"citizen_id,omitempty"`
	RequestType   *string       `json:"request_type,omitempty"`
	RequestedArea *string       `json:"requested_area,omitempty"`
	Needs         []string      `json:"needs,omitempty"`
	Household     *Household    `json:"household,omitempty"`
	IncomeArea    *string       `json:"income_area,omitempty"`
	ISEE          *ISEE         `json:"isee,omitempty"`
	Occupation    *string       `json:"occupation,omitempty"`
	Summary       *string       `json:"summary,omitempty"`
	Outcome       *OutcomeInput `json:"outcome,omitempty"`
}

// AccessQuery lists accesses.
type AccessQuery struct {
	ISTAT     string
	From, To  Date
	Outcome   string
	CitizenID *uuid.UUID
	Limit     int
	Cursor    string
}

// TaxonomyExtension is the body of a new taxonomy version: the areas and needs to add
// (Taxonomy.Extend).
type TaxonomyExtension struct {
	Areas []Area `json:"areas"`
}

// CaseInput opens a case (presa in carico). The responsible social worker defaults to the
// caller, the case manager to the responsible, opened_on to today, the taxonomy version of the
// area to the ambito's latest. access_id names the access taken into care: its outcome becomes
// taken_into_care with the case's id (and an anonymous access is linked to the citizen).
type CaseInput struct {
	CitizenID       uuid.UUID  `json:"citizen_id"`
	ISTATCode       string     `json:"istat_code"`
	Area            string     `json:"area"`
	TaxonomyVersion int        `json:"taxonomy_version,omitempty"`
	AccessID        *uuid.UUID `json:"access_id,omitempty"`
	ResponsibleID   *uuid.UUID `json:"responsible_id,omitempty"`
	CaseManagerID   *uuid.UUID `json:"case_manager_id,omitempty"`
	OpenedOn        *Date      `json:"opened_on,omitempty"`
	Notes           string     `json:"notes,omitempty"`
}

// CasePatch changes a case; absent fields stay. A change of the responsible social worker or
// of the case manager is a service manager's, of the case's comune (a move to another comune
// is a transfer).
type CasePatch struct {
	Area          *string    `json:"area,omitempty"`
	ResponsibleID *uuid.UUID `json:"responsible_id,omitempty"`
	CaseManagerID *uuid.UUID `json:"case_manager_id,omitempty"`
	Notes         *string    `json:"notes,omitempty"`
}

// StatusInput changes a case's status: suspended (from open, with a suspension_reason code),
// open (resuming a suspended case, or reopening a closed one; reason optional text). A case is
// closed through its closure.
type StatusInput struct {
	Status string `json:"status"`
	Reason string `json:"reason,omitempty"`
	On     *Date  `json:"on,omitempty"`
}

// ClosureInput closes a case (phase E).
type ClosureInput struct {
	ClosedOn          Date     `json:"closed_on"`
	ResultsReached    []string `json:"results_reached"`
	ResultsNotReached []string `json:"results_not_reached"`
	ClosureReason     string   `json:"closure_reason"`
	NewProjectFollows *bool    `json:"new_project_follows"`
}

// TransferInput moves a case to another social worker, to another comune (the person moved), or
// both.
type TransferInput struct {
	ToSocialWorker *uuid.UUID `json:"to_social_worker,omitempty"`
	ToComune       string     `json:"to_comune,omitempty"`
	Reason         string     `json:"reason"`
	On             *Date      `json:"on,omitempty"`
}

// CaseQuery lists cases.
type CaseQuery struct {
	ISTAT     string
	Status    string
	Assigned  string // "me"
	CitizenID *uuid.UUID
	Limit     int
	Cursor    string
}

// AuditQuery pages a case's audit trail.
type AuditQuery struct {
	CaseID uuid.UUID
	Limit  int
	Cursor string
}

// ScaleInput are the answers to an ADL or IADL scale: item code → option code, scored with the
// given version of the scale (default: the latest, LatestScale).
type ScaleInput struct {
	Version int               `json:"version,omitempty"`
	Answers map[string]string `json:"answers"`
}

// AssessmentInput records an assessment of need (phase B). The assessor is the caller; the case
// manager defaults to the case's; the areas are coded with the ambito's latest taxonomy unless
// taxonomy_version says otherwise.
type AssessmentInput struct {
	AssessedOn       Date               `json:"assessed_on"`
	CaseManagerID    *uuid.UUID         `json:"case_manager_id,omitempty"`
	TaxonomyVersion  int                `json:"taxonomy_version,omitempty"`
	Areas            []string           `json:"areas"`
	Invalidity       *Invalidity        `json:"invalidity,omitempty"`
	Disability       string             `json:"disability,omitempty"`
	BenefitsReceived []string           `json:"benefits_received,omitempty"`
	CurrentCondition string             `json:"current_condition,omitempty"`
	Aids             []string           `json:"aids,omitempty"`
	Needs            *InterventionNeeds `json:"needs,omitempty"`
	ADL              *ScaleInput        `json:"adl,omitempty"`
	IADL             *ScaleInput        `json:"iadl,omitempty"`
}

// PlanInput is a new version of a case's plan (PAI), whole.
type PlanInput struct {
	Goals              []string         `json:"goals"`
	PlannedServices    []PlannedService `json:"planned_services"`
	ProjectValueCents  *int64           `json:"project_value_cents"`
	UserCopaymentCents *int64           `json:"user_copayment_cents"`
	ProjectLead        uuid.UUID        `json:"project_lead"`
	MonitoringLead     uuid.UUID        `json:"monitoring_lead"`
	ReviewOn           Date             `json:"review_on"`
}

// Precondition is what a PUT of a plan expects: IfMatch the version the change applies to (the
// ETag of GET .../plan; 0 when not given), or, with IfNoneMatch (If-None-Match: *), that there
// is no plan yet.
type Precondition struct {
	IfMatch     int64
	IfNoneMatch bool
}

// DiaryInput is a new entry of a case's diary. visibility: team (the case's responsible
// social worker and case manager, the comune's service managers, the author), social_service
// (every social service operator who sees the case), cooperative (also the cooperative
// cooperative_id, which must be named in the case's current plan).
type DiaryInput struct {
	EntryOn       Date       `json:"entry_on"`
	Text          string     `json:"text"`
	Visibility    string     `json:"visibility"`
	CooperativeID *uuid.UUID `json:"cooperative_id,omitempty"`
}

// Store is the persistence the service needs; postgres.Store implements it.
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	AppendEvents(ctx context.Context, evs ...events.Event) error

	CreateAccess(ctx context.Context, a Access) error
	GetAccess(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (Access, error)
	UpdateAccess(ctx context.Context, a Access, expected int64) (Access, error)
	ListAccesses(ctx context.Context, f AccessFilter) ([]Access, error)

	// TaxonomyVersions lists the versions an ambito made (2, 3, ...), ascending.
	TaxonomyVersions(ctx context.Context, ambitoID uuid.UUID) ([]TaxonomyVersion, error)
	// Taxonomy returns a version an ambito made; version 0 is its latest (NotFound when the
	// ambito made none).
	Taxonomy(ctx context.Context, ambitoID uuid.UUID, version int) (Taxonomy, error)
	// CreateTaxonomy stores a new version; a version taken meanwhile is a Conflict.
	CreateTaxonomy(ctx context.Context, ambitoID uuid.UUID, t Taxonomy, by string) error

	CreateCase(ctx context.Context, c Case) error
	// GetCase returns a case with its status history and transfers; forUpdate locks it.
	GetCase(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (Case, error)
	// UpdateCase writes the case's columns and data at the expected version.
	UpdateCase(ctx context.Context, c Case, expected int64) (Case, error)
	ListCases(ctx context.Context, f CaseFilter) ([]Case, error)
	AddStatusChange(ctx context.Context, ambitoID, caseID uuid.UUID, ch StatusChange) error
	AddTransfer(ctx context.Context, t Transfer) error
	AddClosure(ctx context.Context, ambitoID, caseID uuid.UUID, c Closure) error

	CreateAssessment(ctx context.Context, a Assessment) error
	GetAssessment(ctx context.Context, ambitoID, caseID, id uuid.UUID) (Assessment, error)
	// ListAssessments lists a case's assessments, newest first; limit 0 is all.
	ListAssessments(ctx context.Context, ambitoID, caseID uuid.UUID, limit int, before *uuid.UUID) ([]Assessment, error)

	// CreatePlan stores a new version of a plan; a version taken meanwhile is a Conflict.
	CreatePlan(ctx context.Context, p Plan) error
	// GetPlan returns a version of a case's plan; version 0 is the current one.
	GetPlan(ctx context.Context, ambitoID, caseID uuid.UUID, version int64) (Plan, error)
	// ListPlans lists the versions of a case's plan, newest first, before version before (0: from
	// the current one).
	ListPlans(ctx context.Context, ambitoID, caseID uuid.UUID, limit int, before int64) ([]PlanVersion, error)

	CreateDiaryEntry(ctx context.Context, e DiaryEntry) error
	ListDiary(ctx context.Context, f DiaryFilter) ([]DiaryEntry, error)
}
