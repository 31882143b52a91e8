// Package registry owns the citizen record (anagrafica) of an ambito: identity, codice fiscale
// and its history, birth, residence and domicile, contacts, identity document, status, legal
// representative, household (nucleo familiare) and privacy notice and consents; duplicate
// detection and merge; bulk import of a comune's population-register extract; per-purpose
// pseudonyms for statistical flows.
package registry

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
)

// Date is a calendar date of the domain (YYYY-MM-DD, Europe/Rome).
type Date = string

// Citizen statuses.
const (
	StatusAlive     = "alive"
	StatusDeceased  = "deceased"
	StatusMovedAway = "moved_away"
)

// Scopes of machine clients.
const (
	ScopeCitizensRead   = "citizens:read"
	ScopeCitizensWrite  = "citizens:write"
	ScopePseudonymsRead = "pseudonyms:read"
)

// Import statuses.
const (
	ImportProcessing = "processing"
	ImportCompleted  = "completed"
	ImportFailed     = "failed"
)

// BirthPlace is a municipality or a foreign country by its Belfiore code, valid on the birth date.
type BirthPlace struct {
	Belfiore string `json:"belfiore_code"`
	Name     string `json:"name"`
	Foreign  bool   `json:"foreign"`
}

// Address is a residence or domicile in a current comune (ISTAT code).
type Address struct {
	ISTATCode    string `json:"istat_code"`
	Municipality string `json:"municipality,omitempty"` // filled from pkg/places
	Address      string `json:"address"`
	PostalCode   string `json:"postal_code,omitempty"`
}

// Document is an identity document.
type Document struct {
	Type      string `json:"type"`
	Number    string `json:"number"`
	IssuedBy  string `json:"issued_by,omitempty"`
	ExpiresOn *Date  `json:"expires_on,omitempty"`
}

// LegalRepresentative is a guardian, support administrator, curator or parent who acts for a
// minor or an incapacitated adult: another citizen of the registry or a named person.
type LegalRepresentative struct {
	Kind      string     `json:"kind"`
	CitizenID *uuid.UUID `json:"citizen_id,omitempty"`
	Name      string     `json:"name,omitempty"`
	ValidFrom Date       `json:"valid_from"`
	ValidTo   *Date      `json:"valid_to,omitempty"`
}

// Consent is an optional consent (never the legal basis of core processing: DOMAIN.md).
type Consent struct {
	Kind        string `json:"kind"`
	GivenOn     Date   `json:"given_on"`
	WithdrawnOn *Date  `json:"withdrawn_on,omitempty"`
}

// Privacy records the information notice given and the optional consents.
type Privacy struct {
	NoticeGivenOn *Date     `json:"notice_given_on,omitempty"`
	NoticeGivenBy string    `json:"notice_given_by,omitempty"`
	Consents      []Consent `json:"consents"`
}

// FiscalCodeChange is one codice fiscale a citizen has had.
type FiscalCodeChange struct {
	FiscalCode string     `json:"fiscal_code"`
	Reason     string     `json:"reason"`
	AssignedAt time.Time  `json:"assigned_at"`
	ReplacedAt *time.Time `json:"replaced_at,omitempty"`
}

// Citizen is a person of the registry. ID (UUIDv7) is the identity key: the codice fiscale may
// be missing (NoFiscalCodeReason says why), provisional, or change.
type Citizen struct {
	ID                  uuid.UUID            `json:"id"`
	AmbitoID            uuid.UUID            `json:"ambito_id"`
	FiscalCode          string               `json:"fiscal_code,omitempty"`
	FiscalCodeCanonical string               `json:"fiscal_code_canonical,omitempty"`
	NoFiscalCodeReason  string               `json:"no_fiscal_code_reason,omitempty"`
	FamilyName          string               `json:"family_name"`
	GivenName           string               `json:"given_name"`
	Sex                 string               `json:"sex"`
	BirthDate           Date                 `json:"birth_date"`
	BirthPlace          *BirthPlace          `json:"birth_place,omitempty"`
	Citizenship         string               `json:"citizenship,omitempty"`
	MaritalStatus       string               `json:"marital_status,omitempty"`
	EducationLevel      string               `json:"education_level,omitempty"`
	Document            *Document            `json:"document,omitempty"`
	Residence           *Address             `json:"residence,omitempty"`
	Domicile            *Address             `json:"domicile,omitempty"`
	Phone               string               `json:"phone,omitempty"`
	Email               string               `json:"email,omitempty"`
	PreferredLanguage   string               `json:"preferred_language,omitempty"`
	Status              string               `json:"status"`
	DeathDate           *Date                `json:"death_date,omitempty"`
	MovedOn             *Date                `json:"moved_on,omitempty"`
	StatusSource        *StatusSource        `json:"status_source,omitempty"`
	LegalRepresentative *LegalRepresentative `json:"legal_representative,omitempty"`
	Privacy             Privacy              `json:"privacy"`
	MergedInto          *uuid.UUID           `json:"merged_into,omitempty"`
	MergedFrom          []uuid.UUID          `json:"merged_from,omitempty"`
	FiscalCodeHistory   []FiscalCodeChange   `json:"fiscal_code_history"`
	Version             int64                `json:"version"`
	CreatedAt           time.Time            `json:"created_at"`
	UpdatedAt           time.Time            `json:"updated_at"`
}

// CitizenJSON is a citizen as the cache holds it and the API serves it: the JSON of its Citizen,
// and the few fields the rules read without decoding it. JSON is read-only: it may be the very
// bytes the cache holds.
type CitizenJSON struct {
	ID         uuid.UUID
	Version    int64
	ISTAT      string // of the residence; "" without one
	MergedInto *uuid.UUID
	FiscalCode string
	JSON       []byte
}

// StatusSource says what set a citizen's status when it was not an operator: a complete
// population-register extract that did not name a resident (kind "import", the import's id).
// An operator's change of the status or of moved_on clears it.
type StatusSource struct {
	Kind     string    `json:"kind"`
	ImportID uuid.UUID `json:"import_id"`
}

// StatusSourceImport is the kind of a status set by a complete extract.
const StatusSourceImport = "import"

// Match is a likely duplicate of a citizen being created: similar names, same birth date and
// place. Only the id and the similarity are given (the caller may not be allowed to read it).
type Match struct {
	ID         uuid.UUID `json:"id"`
	Similarity float64   `json:"similarity"`
}

// Hit is a search result: the citizen and its rank.
type Hit struct {
	Citizen
	Score float64 `json:"score"`

	// Encoded is the hit's JSON when it was read through the cache (by codice fiscale), served as
	// it is; Citizen then holds its ID only.
	Encoded []byte `json:"-"`
}

// Member is a member of a household.
type Member struct {
	CitizenID    uuid.UUID `json:"citizen_id"`
	FamilyName   string    `json:"family_name"`
	GivenName    string    `json:"given_name"`
	BirthDate    Date      `json:"birth_date"`
	Relationship string    `json:"relationship"`
	ValidFrom    Date      `json:"valid_from"`
	ValidTo      *Date     `json:"valid_to,omitempty"`
}

// Household is a nucleo familiare: the current members (and the former ones, with valid_to).
type Household struct {
	ID           *uuid.UUID `json:"id,omitempty"`
	FamilyNumber string     `json:"family_number,omitempty"`
	Members      []Member   `json:"members"`

	// What the scope rules read of the citizen it was read for: the comune of residence ("" for
	// none) and the survivor, if the record was merged.
	ResidenceISTAT string     `json:"-"`
	MergedInto     *uuid.UUID `json:"-"`
}

// CitizenInput creates a citizen. birth_place is given by its Belfiore code (derived from the
// codice fiscale when absent).
type CitizenInput struct {
	FiscalCode          string               `json:"fiscal_code,omitempty"`
	NoFiscalCodeReason  string               `json:"no_fiscal_code_reason,omitempty"`
	FamilyName          string               `json:"family_name"`
	GivenName           string               `json:"given_name"`
	Sex                 string               `json:"sex"`
	BirthDate           Date                 `json:"birth_date"`
	BirthPlace          *PlaceRef            `json:"birth_place,omitempty"`
	Citizenship         string               `json:"citizenship,omitempty"`
	MaritalStatus       string               `json:"marital_status,omitempty"`
	EducationLevel      string               `json:"education_level,omitempty"`
	Document            *Document            `json:"document,omitempty"`
	Residence           *Address             `json:"residence,omitempty"`
	Domicile            *Address             `json:"domicile,omitempty"`
	Phone               string               `json:"phone,omitempty"`
	Email               string               `json:"email,omitempty"`
	PreferredLanguage   string               `json:"preferred_language,omitempty"`
	LegalRepresentative *LegalRepresentative `json:"legal_representative,omitempty"`
	Privacy             *Privacy             `json:"privacy,omitempty"`
}

// PlaceRef names a birthplace by its Belfiore code.
type PlaceRef struct {
	Belfiore string `json:"belfiore_code"`
}

func (p *PlaceRef) place() *BirthPlace {
	if p == nil {
		return nil
	}
	return &BirthPlace{Belfiore: p.Belfiore}
}

// CreateResult is the answer to a create: the citizen and its likely duplicates.
type CreateResult struct {
	Citizen
	PossibleDuplicates []Match `json:"possible_duplicates"`
}

// CitizenPatch changes a citizen; absent or null fields stay. A new fiscal_code needs
// fiscal_code_reason (correction, omocodic_replacement, provisional_replaced); the former code
// stays in the history.
type CitizenPatch struct {
	FiscalCode          *string              `json:"fiscal_code,omitempty"`
	FiscalCodeReason    string               `json:"fiscal_code_reason,omitempty"`
	NoFiscalCodeReason  *string              `json:"no_fiscal_code_reason,omitempty"`
	FamilyName          *string              `json:"family_name,omitempty"`
	GivenName           *string              `json:"given_name,omitempty"`
	Sex                 *string              `json:"sex,omitempty"`
	BirthDate           *Date                `json:"birth_date,omitempty"`
	BirthPlace          *PlaceRef            `json:"birth_place,omitempty"`
	Citizenship         *string              `json:"citizenship,omitempty"`
	MaritalStatus       *string              `json:"marital_status,omitempty"`
	EducationLevel      *string              `json:"education_level,omitempty"`
	Document            *Document            `json:"document,omitempty"`
	Residence           *Address             `json:"residence,omitempty"`
	Domicile            *Address             `json:"domicile,omitempty"`
	Phone               *string              `json:"phone,omitempty"`
	Email               *string              `json:"email,omitempty"`
	PreferredLanguage   *string              `json:"preferred_language,omitempty"`
	Status              *string              `json:"status,omitempty"`
	DeathDate           *Date                `json:"death_date,omitempty"`
	MovedOn             *Date                `json:"moved_on,omitempty"`
	LegalRepresentative *LegalRepresentative `json:"legal_representative,omitempty"`
	Privacy             *Privacy             `json:"privacy,omitempty"`
}

// SearchQuery looks citizens up by exact codice fiscale, by name (accent- and case-insensitive,
// typos tolerated), by birth date, or by a combination.
type SearchQuery struct {
	FiscalCode string `json:"fiscal_code,omitempty"`
	Name       string `json:"name,omitempty"`
	BirthDate  Date   `json:"birth_date,omitempty"`
	Purpose    string `json:"purpose,omitempty"`
	Limit      int    `json:"limit,omitempty"`
	Cursor     string `json:"cursor,omitempty"`
}

// MergeInput names the record merged into the one of the path.
type MergeInput struct {
	OtherID uuid.UUID `json:"other_id"`
	Reason  string    `json:"reason,omitempty"`
}

// MemberInput adds a citizen to another's household.
type MemberInput struct {
	CitizenID    uuid.UUID `json:"citizen_id"`
	Relationship string    `json:"relationship"`
	ValidFrom    Date      `json:"valid_from,omitempty"`
}

// Pseudonym is a citizen's pseudonym for one purpose.
type Pseudonym struct {
	Purpose   string `json:"purpose"`
	Pseudonym string `json:"pseudonym"`
}

// AuditQuery pages a citizen's audit trail.
type AuditQuery struct {
	CitizenID uuid.UUID
	Limit     int
	Cursor    string
}

// Municipality is a place for pickers.
type Municipality struct {
	Belfiore  string `json:"belfiore_code"`
	ISTATCode string `json:"istat_code,omitempty"`
	Name      string `json:"name"`
	Province  string `json:"province,omitempty"`
	Kind      string `json:"kind"`
	ValidFrom Date   `json:"valid_from"`
	ValidTo   *Date  `json:"valid_to,omitempty"`
}

// MergedError answers a read of a merged record: it points to the surviving one.
type MergedError struct{ ID, MergedInto uuid.UUID }

func (e *MergedError) Error() string {
	return fmt.Sprintf("citizen %s was merged into %s", e.ID, e.MergedInto)
}

// ErrAlreadyMember is adding a citizen to the household they belong to.
var ErrAlreadyMember = errs.E(errs.Conflict, "the citizen is already a member of this household")

// SearchFilter selects citizens of an ambito. Empty fields do not filter; Residence restricts
// to the residents of a comune (the caller's scope), unless AlsoFiscalCode lets an exact code
// through.
type SearchFilter struct {
	AmbitoID   uuid.UUID
	FiscalCode string // exact, or canonical of an omocodic code
	Canonical  string
	Name       string // normalized by the database
	BirthDate  Date
	Residence  string // "" = the whole ambito
	Limit      int
	Offset     int
}

// ListFilter lists the residents of a comune by name.
type ListFilter struct {
	AmbitoID  uuid.UUID
	Residence string
	Limit     int
	After     *cursor.Name
}

// ImportRow is a valid row of an import, ready for the staging table.
type ImportRow struct {
	Line                             int64
	ID                               uuid.UUID
	FiscalCode, Canonical            string
	FamilyName, GivenName, Sex       string
	BirthDate                        time.Time
	BirthPlace, BirthPlaceName       string
	Foreign                          bool
	Citizenship, Address, PostalCode string
	FamilyNumber, Relationship       string
}

// RowError is a refused row of an import.
type RowError struct {
	Line    int64  `json:"line"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

// Import is an import job. A complete extract (Complete) names every resident of the comune:
// the residents it does not name are marked moved away (MovedAway counts them).
type Import struct {
	ID            uuid.UUID  `json:"id"`
	ISTATCode     string     `json:"istat_code"`
	Status        string     `json:"status"`
	RowsTotal     int64      `json:"rows_total"`
	RowsInvalid   int64      `json:"rows_invalid"`
	RowsProcessed int64      `json:"rows_processed"`
	Created       int64      `json:"created"`
	Updated       int64      `json:"updated"`
	Unchanged     int64      `json:"unchanged"`
	Households    int64      `json:"households"`
	Complete      bool       `json:"complete"`
	MovedAway     int64      `json:"moved_away"`
	Failure       string     `json:"failure,omitempty"`
	Errors        []RowError `json:"errors"`
	CreatedAt     time.Time  `json:"created_at"`
	FinishedAt    *time.Time `json:"finished_at,omitempty"`

	// Who started the import: the subject, in which organization and role.
	AmbitoID                               uuid.UUID `json:"-"`
	CreatedBy, CreatedByOrg, CreatedByRole string    `json:"-"`
	// Staged is the number of rows still staged (ProcessingImports).
	Staged int64 `json:"-"`
	// AbsentMarked: the residents a complete extract does not name have been marked.
	AbsentMarked bool `json:"-"`
}

// ChunkResult is what applying a range of staged rows did.
type ChunkResult struct {
	Created, Updated, Unchanged, Households int64
	// Changed lists the ids and codes of the citizens written, for cache invalidation.
	ChangedIDs   []uuid.UUID
	ChangedCodes []string
}

// Store is the persistence the service needs; postgres.Store implements it.
type Store interface {
	InTx(ctx context.Context, fn func(Store) error) error
	AppendEvents(ctx context.Context, evs ...events.Event) error
	// AfterCommit runs fn once the change of ctx is committed (at once, or after the request's
	// transaction commits with its Idempotency-Key answer).
	AfterCommit(ctx context.Context, fn func(context.Context))

	CreateCitizen(ctx context.Context, c Citizen, reason string) error
	// GetCitizen returns a citizen of the ambito, merged or not; forUpdate locks the row.
	GetCitizen(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (Citizen, error)
	// CitizenIDByFiscalCode finds the live citizen with exactly this code.
	CitizenIDByFiscalCode(ctx context.Context, ambitoID uuid.UUID, code string) (uuid.UUID, error)
	// CitizensByCanonical returns the live citizens whose code has this canonical form, by id.
	CitizensByCanonical(ctx context.Context, ambitoID uuid.UUID, canonical string) ([]Citizen, error)
	UpdateCitizen(ctx context.Context, c Citizen, expectedVersion int64, newCodeReason string) (Citizen, error)
	MarkMerged(ctx context.Context, ambitoID, mergedID, survivorID uuid.UUID) error
	// TakeOverMembership ends the current household membership of from and, when to has none,
	// gives to the same place in that household from on; it returns the household, if any.
	TakeOverMembership(ctx context.Context, ambitoID, from, to, memberID uuid.UUID, on Date) (*uuid.UUID, error)
	Search(ctx context.Context, f SearchFilter) ([]Hit, error)
	ListResidents(ctx context.Context, f ListFilter) ([]Citizen, error)
	LikelyDuplicates(ctx context.Context, c Citizen) ([]Match, error)

	// GetHousehold returns the current household of a citizen of the ambito (none: no ID, no
	// members), with the citizen's residence and merge; a citizen the ambito does not have is
	// NotFound.
	GetHousehold(ctx context.Context, ambitoID, citizenID uuid.UUID) (Household, error)
	// AddMember puts member in citizen's current household (creating it with citizen as its
	// head when there is none), ending member's current membership elsewhere; it returns the
	// household id. A member already in that household is ErrAlreadyMember, and nothing is
	// written.
	AddMember(ctx context.Context, ambitoID, citizenID, memberID uuid.UUID, relationship string, from Date) (uuid.UUID, error)

	CreateImport(ctx context.Context, im Import) error
	// StageRows copies the valid rows and the errors of an import (COPY).
	StageRows(ctx context.Context, importID uuid.UUID, rows func(yield func(ImportRow) bool), errors []RowError) (int64, error)
	SetImportTotals(ctx context.Context, id uuid.UUID, total, invalid int64) error
	// ApplyChunk upserts the staged rows with lines in [from, to] and builds their households.
	ApplyChunk(ctx context.Context, im Import, municipality string, from, to int64, today Date) (ChunkResult, error)
	// MarkAbsent marks moved away, on the date on, the live residents of the import's comune
	// whose codice fiscale none of its staged rows carries (a complete extract, before its
	// first chunk), writes their events, and records the count in the import; it returns the
	// ids and codes of the citizens marked.
	MarkAbsent(ctx context.Context, im Import, on Date) (ChunkResult, error)
	// LockImport locks an import's row until the end of the transaction (two workers of one
	// import, on two replicas, apply its chunks one at a time) and returns its status.
	LockImport(ctx context.Context, id uuid.UUID) (string, error)
	// ProgressImport adds what a chunk did to the import's counts.
	ProgressImport(ctx context.Context, id uuid.UUID, r ChunkResult) error
	// FinishImport ends a processing import, completed (failure "") or failed; it reports
	// whether this call ended it.
	FinishImport(ctx context.Context, id uuid.UUID, failure string) (bool, error)
	GetImport(ctx context.Context, ambitoID, id uuid.UUID) (Import, error)
	MaxStagedLine(ctx context.Context, id uuid.UUID) (int64, error)
	// ProcessingImports are the imports of every ambito still processing, each with the number
	// of its rows still staged, read together.
	ProcessingImports(ctx context.Context) ([]Import, error)
}
