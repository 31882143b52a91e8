package interventions

import (
	"context"
	"regexp"
	"slices"
	"strconv"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// The scopes of the statements for machine clients: a cooperative's client reads and submits
// its cooperative's; a client of the ambito reads every cooperative's.
const (
	ScopeStatementsRead  = "statements:read"
	ScopeStatementsWrite = "statements:write"
)

// StatementStatus is the status of a monthly statement: open (computed live from the visits) →
// submitted (figures frozen) → approved (final, the month locked) or returned (computed live
// again, to be submitted again).
type StatementStatus string

// The statuses of a statement.
const (
	StatementOpen      StatementStatus = "open"
	StatementSubmitted StatementStatus = "submitted"
	StatementReturned  StatementStatus = "returned"
	StatementApproved  StatementStatus = "approved"
)

const maxReturnNotesLen = 2000

// StatementLine is an authorization's month in a statement. Minutes are whole minutes, money
// integer euro cents (README "Monthly statements" gives the rules).
type StatementLine struct {
	AuthorizationID   uuid.UUID `json:"authorization_id"`
	CaseID            uuid.UUID `json:"case_id"`
	CitizenID         uuid.UUID `json:"citizen_id"`
	ISTATCode         string    `json:"istat_code"`
	ServiceType       string    `json:"service_type"`
	INPSCode          string    `json:"inps_code"`
	HourlyTariffCents int64     `json:"hourly_tariff_cents"`
	// AuthorizedMinutes are the hours authorized for the month, prorated (authorizedMinutes).
	AuthorizedMinutes int64 `json:"authorized_minutes"`
	// DeliveredMinutes are the minutes of the valid visits the citizen was present at.
	DeliveredMinutes int64 `json:"delivered_minutes"`
	// MissedVisits counts the valid visits the citizen was absent from.
	MissedVisits int64 `json:"missed_visits"`
	// ExcessMinutes are the delivered minutes beyond the hours authorized (flagged on the visits).
	ExcessMinutes int64 `json:"excess_minutes"`
	// PayableMinutes are DeliveredMinutes − ExcessMinutes.
	PayableMinutes int64 `json:"payable_minutes"`
	// AmountCents is PayableMinutes × HourlyTariffCents / 60, rounded half up to the cent.
	AmountCents int64 `json:"amount_cents"`
	// ExcessAmountCents is what the excess would cost at the tariff, same rounding: shown apart,
	// not in AmountCents, for the comune to decide.
	ExcessAmountCents int64 `json:"excess_amount_cents"`
}

// ServiceTypeTotal sums a statement's lines of one service type.
type ServiceTypeTotal struct {
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

// StatementNote is a note of a service manager returning a statement.
type StatementNote struct {
	By   Operator  `json:"by"`
	At   time.Time `json:"at"`
	Text string    `json:"text"`
}

// Statement is a cooperative's month: its lines, totals by service type, the grand total and
// where it is in the workflow.
type Statement struct {
	AmbitoID       uuid.UUID          `json:"-"`
	CooperativeID  uuid.UUID          `json:"cooperative_id"`
	Month          string             `json:"month"` // YYYY-MM
	Status         StatementStatus    `json:"status"`
	Version        int64              `json:"version"`
	Lines          []StatementLine    `json:"lines"`
	ByServiceType  []ServiceTypeTotal `json:"by_service_type"`
	TotalAmount    int64              `json:"total_amount_cents"`
	TotalExcess    int64              `json:"total_excess_amount_cents"`
	Notes          []StatementNote    `json:"notes"`
	SubmittedBy    *Operator          `json:"submitted_by"`
	SubmittedAt    *time.Time         `json:"submitted_at"`
	ApprovedBy     *Operator          `json:"approved_by"`
	ApprovedAt     *time.Time         `json:"approved_at"`
	UpdatedAt      *time.Time         `json:"updated_at"`
	FiguresFrozen  bool               `json:"figures_frozen"` // submitted or approved: the figures as submitted
	ComunePartOnly bool               `json:"comune_part_only,omitempty"`
}

// StatementSummary is a statement in a list: no lines (no citizen), the totals.
type StatementSummary struct {
	CooperativeID uuid.UUID       `json:"cooperative_id"`
	Month         string          `json:"month"`
	Status        StatementStatus `json:"status"`
	Version       int64           `json:"version"`
	Lines         int             `json:"lines"`
	TotalAmount   int64           `json:"total_amount_cents"`
	TotalExcess   int64           `json:"total_excess_amount_cents"`
}

// StatementList is the answer of GET /v1/statements.
type StatementList struct {
	Items []StatementSummary `json:"items"`
}

// StatementReturn is the body of a return: the notes for the cooperative.
type StatementReturn struct {
	Notes string `json:"notes"`
}

// VisitTotal is what the statement reads of an authorization's valid visits in a month.
type VisitTotal struct {
	AuthorizationID  uuid.UUID
	DeliveredMinutes int64 // minutes of the visits the citizen was present at
	MissedVisits     int64 // visits the citizen was absent from
	ExcessMinutes    int64 // excess minutes of the visits the citizen was present at
}

// StatementStore is what the statements need of the database (embedded in Store).
type StatementStore interface {
	// VisitTotals sums the valid visits of a cooperative dated from from to to (both included),
	// by authorization.
	VisitTotals(ctx context.Context, ambitoID, coop uuid.UUID, from, to Date) ([]VisitTotal, error)
	// StatementAuthorizations returns the authorizations of coop that are not drafts and whose
	// period meets from..to, and those of ids (whatever their cooperative now).
	StatementAuthorizations(ctx context.Context, ambitoID, coop uuid.UUID, from, to Date, ids []uuid.UUID) ([]Authorization, error)
	// GetStatement returns the stored statement of a cooperative's month (NotFound while none).
	GetStatement(ctx context.Context, ambitoID, coop uuid.UUID, month string, forUpdate bool) (Statement, error)
	// SaveStatement stores st as the version after expected (the first row when expected is 1
	// and none is stored), keeping it among the versions with the action; PreconditionFailed
	// when expected is not the current version.
	SaveStatement(ctx context.Context, st Statement, expected int64, action string, by Operator) error
	// StatementsOf lists the stored statements of a month in the ambito.
	StatementsOf(ctx context.Context, ambitoID uuid.UUID, month string) ([]Statement, error)
	// CooperativesOf lists the cooperatives with authorizations (not drafts) meeting from..to.
	CooperativesOf(ctx context.Context, ambitoID uuid.UUID, from, to Date) ([]uuid.UUID, error)
}

// ErrStatementStatus answers a transition the statement's status does not allow (409, code
// statement_status).
func errStatementStatus(cur StatementStatus, action string) error {
	return &errs.Error{Kind: errs.FailedPrecondition, Message: "a statement " + string(cur) + " cannot be " + action,
		Extra: map[string]any{"code": "statement_status"}}
}

var monthPattern = regexp.MustCompile(`^[0-9]{4}-(0[1-9]|1[0-2])$`)

// month parses YYYY-MM into its first and last day.
func parseMonth(f *errs.Fields, field, m string) (first, last time.Time, ok bool) {
	if !monthPattern.MatchString(m) {
		f.Add(field, "must be a month YYYY-MM")
		return first, last, false
	}
	first, _ = time.Parse("2006-01", m)
	if first.Year() < 2000 || first.Year() > 2099 {
		f.Add(field, "must be a month from 2000-01 to 2099-12")
		return first, last, false
	}
	return first, first.AddDate(0, 1, -1), true
}

const day = "2006-01-02"

// StatementKey names a statement: a cooperative's month.
type StatementKey struct {
	CooperativeID uuid.UUID
	Month         string
}

func (k StatementKey) check() (first, last time.Time, err error) {
	var f errs.Fields
	first, last, _ = parseMonth(&f, "month", k.Month)
	return first, last, f.Err()
}

// ---- the rules of the figures ----

// authorizedMinutesIn are the minutes an authorization gives in first..last: per week, the
// weekly minutes × the days of the month inside the period / 7; in total, the total minutes ×
// the days of the month inside the period / the days of the period; both rounded down to the
// minute. Drafts authorize nothing.
func authorizedMinutesIn(a Authorization, first, last time.Time) int64 {
	if a.Status == StatusDraft {
		return 0
	}
	from, err1 := time.Parse(day, a.Period.From)
	to, err2 := time.Parse(day, a.Period.To)
	if err1 != nil || err2 != nil || to.Before(from) {
		return 0
	}
	lo, hi := maxTime(from, first), minTime(to, last)
	if hi.Before(lo) {
		return 0
	}
	days := int64(hi.Sub(lo).Hours()/24) + 1
	switch {
	case a.Hours.PerWeek != nil:
		return minutesOf(*a.Hours.PerWeek) * days / 7
	case a.Hours.Total != nil:
		period := int64(to.Sub(from).Hours()/24) + 1
		return minutesOf(*a.Hours.Total) * days / period
	}
	return 0
}

// minutesOf converts hours in quarters (as authorizations hold them) to minutes, exactly.
func minutesOf(hours float64) int64 { return int64(hours*4+0.5) * 15 }

// amountCents is minutes × tariff (cents an hour) / 60 rounded half up to the cent, in
// integer arithmetic (minutes and tariff are never negative).
func amountCents(minutes, tariffCents int64) int64 { return (minutes*tariffCents + 30) / 60 }

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// inpsCode is the national benefit code of a service type on a statement: its first (a type
// with one per place, ADH, is billed at its home code).
func inpsCode(serviceType string) string {
	for _, t := range serviceTypes {
		if t.Code == serviceType && len(t.BenefitCodes) > 0 {
			return t.BenefitCodes[0].Code
		}
	}
	return ""
}

// line computes an authorization's line of a month.
func line(a Authorization, coop uuid.UUID, first, last time.Time, v VisitTotal) StatementLine {
	l := StatementLine{AuthorizationID: a.ID, CaseID: a.CaseID, CitizenID: a.CitizenID, ISTATCode: a.ISTATCode, ServiceType: a.ServiceType,
		INPSCode: inpsCode(a.ServiceType), HourlyTariffCents: a.HourlyTariffCents,
		DeliveredMinutes: v.DeliveredMinutes, MissedVisits: v.MissedVisits, ExcessMinutes: v.ExcessMinutes}
	if a.CooperativeID == coop {
		l.AuthorizedMinutes = authorizedMinutesIn(a, first, last)
	}
	l.PayableMinutes = max(l.DeliveredMinutes-l.ExcessMinutes, 0)
	l.AmountCents = amountCents(l.PayableMinutes, l.HourlyTariffCents)
	l.ExcessAmountCents = amountCents(l.ExcessMinutes, l.HourlyTariffCents)
	return l
}

// totals sets the totals by service type (in the reference data's order) and the grand totals,
// sums of the lines' rounded amounts.
func totals(st *Statement) {
	st.ByServiceType = []ServiceTypeTotal{}
	st.TotalAmount, st.TotalExcess = 0, 0
	for _, t := range serviceTypes {
		tot := ServiceTypeTotal{ServiceType: t.Code, INPSCode: inpsCode(t.Code)}
		for _, l := range st.Lines {
			if l.ServiceType != t.Code {
				continue
			}
			tot.Lines++
			tot.AuthorizedMinutes += l.AuthorizedMinutes
			tot.DeliveredMinutes += l.DeliveredMinutes
			tot.MissedVisits += l.MissedVisits
			tot.ExcessMinutes += l.ExcessMinutes
			tot.PayableMinutes += l.PayableMinutes
			tot.AmountCents += l.AmountCents
			tot.ExcessAmountCents += l.ExcessAmountCents
		}
		if tot.Lines > 0 {
			st.ByServiceType = append(st.ByServiceType, tot)
			st.TotalAmount += tot.AmountCents
			st.TotalExcess += tot.ExcessAmountCents
		}
	}
}

// compute sets the statement's lines from the visits and authorizations (live figures).
func (s *Service) compute(ctx context.Context, store Store, st *Statement, first, last time.Time) error {
	from, to := first.Format(day), last.Format(day)
	vt, err := store.VisitTotals(ctx, st.AmbitoID, st.CooperativeID, from, to)
	if err != nil {
		return err
	}
	byAuth := make(map[uuid.UUID]VisitTotal, len(vt))
	ids := make([]uuid.UUID, 0, len(vt))
	for _, v := range vt {
		byAuth[v.AuthorizationID] = v
		ids = append(ids, v.AuthorizationID)
	}
	auths, err := store.StatementAuthorizations(ctx, st.AmbitoID, st.CooperativeID, from, to, ids)
	if err != nil {
		return err
	}
	st.Lines = make([]StatementLine, 0, len(auths))
	for _, a := range auths {
		l := line(a, st.CooperativeID, first, last, byAuth[a.ID])
		if l.AuthorizedMinutes == 0 && l.DeliveredMinutes == 0 && l.MissedVisits == 0 {
			continue
		}
		st.Lines = append(st.Lines, l)
	}
	slices.SortFunc(st.Lines, func(a, b StatementLine) int {
		if a.ServiceType != b.ServiceType {
			return serviceTypeOrder(a.ServiceType) - serviceTypeOrder(b.ServiceType)
		}
		return slices.Compare(a.AuthorizationID[:], b.AuthorizationID[:])
	})
	totals(st)
	return nil
}

func serviceTypeOrder(code string) int {
	return slices.IndexFunc(serviceTypes, func(t ServiceType) bool { return t.Code == code })
}

// load returns the statement of k as it stands: the stored one (or a new open one, version 1)
// with live figures unless submitted or approved.
func (s *Service) load(ctx context.Context, store Store, ambitoID uuid.UUID, k StatementKey, forUpdate bool) (Statement, error) {
	first, last, err := k.check()
	if err != nil {
		return Statement{}, err
	}
	st, err := store.GetStatement(ctx, ambitoID, k.CooperativeID, k.Month, forUpdate)
	stored := err == nil
	switch {
	case errs.KindOf(err) == errs.NotFound:
		st = Statement{AmbitoID: ambitoID, CooperativeID: k.CooperativeID, Month: k.Month, Status: StatementOpen, Version: 1}
	case err != nil:
		return Statement{}, err
	}
	st.Notes = nonNil(st.Notes)
	st.FiguresFrozen = st.Status == StatementSubmitted || st.Status == StatementApproved
	if !st.FiguresFrozen {
		if err := s.compute(ctx, store, &st, first, last); err != nil {
			return Statement{}, err
		}
	}
	if !stored && len(st.Lines) == 0 {
		// Nothing authorized nor delivered in the month, nothing stored: no statement.
		return Statement{}, errs.E(errs.NotFound, "statement not found: the cooperative has no authorization nor visit in this month")
	}
	return st, nil
}

// ---- scope ----

// seesStatements reports whether the caller may read the statements of coop: its own for a
// cooperative, any for the ambito's comuni and azienda (a comune's operators its comune's lines).
func (sc scope) seesStatements(coop uuid.UUID) bool {
	if sc.coop != uuid.Nil {
		return sc.coop == coop
	}
	return sc.wide || sc.istat != ""
}

// part keeps of st what the caller sees: a comune's operators the lines of their comune, with
// the totals of those lines.
func (sc scope) part(st Statement) Statement {
	if sc.coop != uuid.Nil || sc.wide {
		return st
	}
	var lines []StatementLine
	for _, l := range st.Lines {
		if l.ISTATCode == sc.istat {
			lines = append(lines, l)
		}
	}
	if len(lines) != len(st.Lines) {
		st.Lines, st.ComunePartOnly = lines, true
		totals(&st)
	}
	st.Lines = nonNil(st.Lines)
	return st
}

// approves reports whether the caller may approve or return st: a service manager of the
// azienda (the ambito), or of the comune when every line is its comune's.
func (sc scope) approves(st Statement) bool {
	if sc.claims.Kind != auth.KindOperator || sc.claims.Role != auth.RoleServiceManager || sc.coop != uuid.Nil {
		return false
	}
	if sc.wide {
		return true
	}
	return sc.istat != "" && !slices.ContainsFunc(st.Lines, func(l StatementLine) bool { return l.ISTATCode != sc.istat })
}

func statementResource(st Statement) string { return st.CooperativeID.String() + "/" + st.Month }

// statementRecords are the audit records of an action on st: one per line (its citizen), one
// without citizen for a statement with no line.
func statementRecords(sc scope, action string, st Statement, details map[string]any) []audit.Record {
	recs := make([]audit.Record, 0, max(len(st.Lines), 1))
	for _, l := range st.Lines {
		r := audit.By(sc.claims, action, "statement", statementResource(st))
		r.CitizenID = l.CitizenID.String()
		r.Details = details
		recs = append(recs, r)
	}
	if len(recs) == 0 {
		r := audit.By(sc.claims, action, "statement", statementResource(st))
		r.Details = details
		recs = append(recs, r)
	}
	return recs
}

// ---- the API ----

// GetStatement returns a cooperative's month as the caller may see it, audited.
func (s *Service) GetStatement(ctx context.Context, k StatementKey) (Statement, error) {
	return s.readStatement(ctx, k, "statement.read")
}

// ExportStatement is GetStatement for an export (audited as statement.export).
func (s *Service) ExportStatement(ctx context.Context, k StatementKey) (Statement, error) {
	return s.readStatement(ctx, k, "statement.export")
}

func (s *Service) readStatement(ctx context.Context, k StatementKey, action string) (Statement, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Statement{}, err
	}
	if _, _, err := k.check(); err != nil {
		return Statement{}, err
	}
	if !sc.seesStatements(k.CooperativeID) {
		return Statement{}, errs.E(errs.NotFound, "statement not found")
	}
	st, err := s.load(ctx, s.store, sc.ambitoID, k, false)
	if err != nil {
		return Statement{}, err
	}
	st = sc.part(st)
	return st, s.record(ctx, statementRecords(sc, action, st, map[string]any{"version": st.Version, "status": string(st.Status)})...)
}

// ListStatements lists the statements of a month the caller sees, without their lines: a
// cooperative's own; for the ambito's operators every cooperative with authorizations in the
// month or a stored statement (cooperative_id narrows it to one).
func (s *Service) ListStatements(ctx context.Context, month string, coop *uuid.UUID) (StatementList, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return StatementList{}, err
	}
	var f errs.Fields
	if month == "" {
		f.Add("month", "is required")
	}
	first, last, ok := parseMonth(&f, "month", month)
	if err := f.Err(); err != nil || !ok {
		return StatementList{}, err
	}
	var coops []uuid.UUID
	switch {
	case sc.coop != uuid.Nil:
		if coop != nil && *coop != sc.coop {
			return StatementList{}, errs.E(errs.Forbidden, "a cooperative lists only its own statements")
		}
		coops = []uuid.UUID{sc.coop}
	case coop != nil:
		coops = []uuid.UUID{*coop}
	default:
		if coops, err = s.store.CooperativesOf(ctx, sc.ambitoID, first.Format(day), last.Format(day)); err != nil {
			return StatementList{}, err
		}
		stored, err := s.store.StatementsOf(ctx, sc.ambitoID, month)
		if err != nil {
			return StatementList{}, err
		}
		for _, st := range stored {
			if !slices.Contains(coops, st.CooperativeID) {
				coops = append(coops, st.CooperativeID)
			}
		}
		slices.SortFunc(coops, func(a, b uuid.UUID) int { return slices.Compare(a[:], b[:]) })
	}
	out := StatementList{Items: []StatementSummary{}}
	for _, c := range coops {
		st, err := s.load(ctx, s.store, sc.ambitoID, StatementKey{CooperativeID: c, Month: month}, false)
		if errs.KindOf(err) == errs.NotFound {
			continue
		}
		if err != nil {
			return StatementList{}, err
		}
		st = sc.part(st)
		out.Items = append(out.Items, StatementSummary{CooperativeID: c, Month: month, Status: st.Status, Version: st.Version,
			Lines: len(st.Lines), TotalAmount: st.TotalAmount, TotalExcess: st.TotalExcess})
	}
	return out, nil
}

// SubmitStatement freezes the figures of an open or returned statement: its cooperative's
// coordinator or client. version, when not 0, must be the current one (If-Match).
func (s *Service) SubmitStatement(ctx context.Context, k StatementKey, version int64) (Statement, error) {
	return s.transition(ctx, k, version, "submitted", func(sc scope, st *Statement) error {
		if sc.coop == uuid.Nil {
			return errs.E(errs.Forbidden, "a statement is submitted by its cooperative")
		}
		if st.Status != StatementOpen && st.Status != StatementReturned {
			return errStatementStatus(st.Status, "submitted")
		}
		op, now := sc.operator(), s.now()
		st.Status, st.SubmittedBy, st.SubmittedAt = StatementSubmitted, &op, &now
		return nil
	})
}

// ApproveStatement approves a submitted statement (a service manager whose reach covers it):
// final, and the month's visits of the cooperative are locked.
func (s *Service) ApproveStatement(ctx context.Context, k StatementKey, version int64) (Statement, error) {
	return s.transition(ctx, k, version, "approved", func(sc scope, st *Statement) error {
		if !sc.approves(*st) {
			return errs.E(errs.Forbidden, "a statement is approved by a service manager of the azienda, or of the comune for its comune's lines only")
		}
		if st.Status != StatementSubmitted {
			return errStatementStatus(st.Status, "approved")
		}
		op, now := sc.operator(), s.now()
		st.Status, st.ApprovedBy, st.ApprovedAt = StatementApproved, &op, &now
		return nil
	})
}

// ReturnStatement sends a submitted statement back to its cooperative with notes: its figures
// are computed live again until it is submitted again.
func (s *Service) ReturnStatement(ctx context.Context, k StatementKey, version int64, in StatementReturn) (Statement, error) {
	var f errs.Fields
	valid.Text(&f, "notes", in.Notes, true, maxReturnNotesLen)
	if err := f.Err(); err != nil {
		return Statement{}, err
	}
	return s.transition(ctx, k, version, "returned", func(sc scope, st *Statement) error {
		if !sc.approves(*st) {
			return errs.E(errs.Forbidden, "a statement is returned by a service manager of the azienda, or of the comune for its comune's lines only")
		}
		if st.Status != StatementSubmitted {
			return errStatementStatus(st.Status, "returned")
		}
		st.Status = StatementReturned
		st.Notes = append(slices.Clone(st.Notes), StatementNote{By: sc.operator(), At: s.now(), Text: in.Notes})
		return nil
	})
}

// transition applies change to the statement of k in a transaction, at the expected version:
// a new version, its event and the audit records.
func (s *Service) transition(ctx context.Context, k StatementKey, version int64, action string, change func(scope, *Statement) error) (Statement, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Statement{}, err
	}
	first, last, err := k.check()
	if err != nil {
		return Statement{}, err
	}
	if !sc.seesStatements(k.CooperativeID) {
		return Statement{}, errs.E(errs.NotFound, "statement not found")
	}
	var out Statement
	err = s.store.InTx(ctx, func(tx Store) error {
		st, err := s.load(ctx, tx, sc.ambitoID, k, true)
		if err != nil {
			return err
		}
		if version != 0 && version != st.Version {
			return errs.E(errs.PreconditionFailed, "the statement changed: read it again (ETag %s)", strconv.FormatInt(st.Version, 10))
		}
		if err := change(sc, &st); err != nil {
			return err
		}
		if st.Status == StatementReturned {
			// computed live again: the frozen figures are not kept as current
			if err := s.compute(ctx, tx, &st, first, last); err != nil {
				return err
			}
		}
		expected := st.Version
		now := s.now()
		st.Version, st.UpdatedAt = expected+1, &now
		st.FiguresFrozen = st.Status == StatementSubmitted || st.Status == StatementApproved
		if err := tx.SaveStatement(ctx, st, expected, action, sc.operator()); err != nil {
			return err
		}
		out = st
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "statement."+action, "statement", statementID(st), statementEventOf(st)))
	})
	if err != nil {
		return Statement{}, err
	}
	out = sc.part(out)
	return out, s.record(ctx, statementRecords(sc, "statement."+action, out, map[string]any{"version": out.Version, "status": string(out.Status)})...)
}

// statementID is the id of a statement on the event feed: a name-based UUID of cooperative and
// month (the same every time).
func statementID(st Statement) uuid.UUID { return uuid.NewSHA1(st.CooperativeID, []byte(st.Month)) }

// statementEvent is the payload of the statement events: ids and figures, never a person's
// data (no citizen).
type statementEvent struct {
	CooperativeID uuid.UUID          `json:"cooperative_id"`
	Month         string             `json:"month"`
	Status        StatementStatus    `json:"status"`
	Version       int64              `json:"version"`
	TotalAmount   int64              `json:"total_amount_cents"`
	TotalExcess   int64              `json:"total_excess_amount_cents"`
	ByServiceType []ServiceTypeTotal `json:"by_service_type"`
	Lines         []statementEventLn `json:"lines"`
}

type statementEventLn struct {
	AuthorizationID  uuid.UUID `json:"authorization_id"`
	ServiceType      string    `json:"service_type"`
	DeliveredMinutes int64     `json:"delivered_minutes"`
	ExcessMinutes    int64     `json:"excess_minutes"`
	AmountCents      int64     `json:"amount_cents"`
}

func statementEventOf(st Statement) statementEvent {
	ev := statementEvent{CooperativeID: st.CooperativeID, Month: st.Month, Status: st.Status, Version: st.Version,
		TotalAmount: st.TotalAmount, TotalExcess: st.TotalExcess, ByServiceType: st.ByServiceType, Lines: []statementEventLn{}}
	for _, l := range st.Lines {
		ev.Lines = append(ev.Lines, statementEventLn{AuthorizationID: l.AuthorizationID, ServiceType: l.ServiceType,
			DeliveredMinutes: l.DeliveredMinutes, ExcessMinutes: l.ExcessMinutes, AmountCents: l.AmountCents})
	}
	return ev
}
