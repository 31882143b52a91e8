package interventions

import (
	"bytes"
	"context"
	_ "embed"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// The scopes of the visits for machine clients: a client bound to a cooperative writes and
// reads that cooperative's visits; one bound to the ambito only, the ambito's.
const (
	ScopeVisitsWrite = "visits:write"
	ScopeVisitsRead  = "visits:read"
)

// Bounds of a visit and of a batch.
const (
	MaxBatch         = 1000
	maxNotesLen      = 500
	maxActivities    = 13
	maxOverlapRetry  = 3
	visitStatusValid = "valid"
	visitStatusVoid  = "voided"
)

// The codes of the visit rules, in the problem's "code" member.
const (
	CodeOutsidePeriod        = "outside_period"
	CodeNotActive            = "authorization_not_active"
	CodeOverlap              = "overlap"
	CodeNotOfCooperative     = "operator_not_of_cooperative"
	CodeMonthLocked          = "month_locked"
	CodeAlreadyVoided        = "already_voided"
	CodeNotOwnVisit          = "not_own_visit"
	CodeAuthorizationUnknown = "authorization_not_found"
)

// VisitInput is a visit as a cooperative's system sends it. Times are HH:MM, Europe/Rome, to
// the minute; end after start on the same day.
type VisitInput struct {
	AuthorizationID uuid.UUID `json:"authorization_id"`
	OperatorID      uuid.UUID `json:"operator_id"`
	Date            Date      `json:"date"`
	Start           string    `json:"start"`
	End             string    `json:"end"`
	Activities      []string  `json:"activities"`
	Place           string    `json:"place"`
	Notes           string    `json:"notes"`
	Absent          bool      `json:"absent"`
}

// VisitBatch is the body of POST /v1/visits:batch.
type VisitBatch struct {
	Visits []VisitInput `json:"visits"`
}

// VoidInput voids a visit with a reason, optionally with its replacement.
type VoidInput struct {
	Reason      string      `json:"reason"`
	Replacement *VisitInput `json:"replacement"`
}

// Voiding is how a visit was voided.
type Voiding struct {
	Reason     string     `json:"reason"`
	By         Operator   `json:"by"`
	At         time.Time  `json:"at"`
	ReplacedBy *uuid.UUID `json:"replaced_by"`
}

// Visit is a visit of a cooperative's operator for an authorization: never deleted, voided and
// replaced when it was wrong.
type Visit struct {
	ID              uuid.UUID  `json:"id"`
	AmbitoID        uuid.UUID  `json:"-"`
	AuthorizationID uuid.UUID  `json:"authorization_id"`
	CooperativeID   uuid.UUID  `json:"cooperative_id"`
	ServiceType     string     `json:"service_type"`
	CitizenID       uuid.UUID  `json:"citizen_id"`
	OperatorID      uuid.UUID  `json:"operator_id"`
	Date            Date       `json:"date"`
	Start           string     `json:"start"`
	End             string     `json:"end"`
	Minutes         int        `json:"minutes"`
	Activities      []string   `json:"activities"`
	Place           string     `json:"place"`
	Notes           string     `json:"notes"`
	Absent          bool       `json:"absent"`
	ExcessMinutes   int        `json:"excess_minutes"`
	Status          string     `json:"status"`
	Replaces        *uuid.UUID `json:"replaces"`
	Voided          *Voiding   `json:"voided"`
	RecordedBy      Operator   `json:"recorded_by"`
	RecordedAt      time.Time  `json:"recorded_at"`

	StartsAt time.Time `json:"-"`
	EndsAt   time.Time `json:"-"`
}

// VoidResult is the answer of a void.
type VoidResult struct {
	Voided      Visit  `json:"voided"`
	Replacement *Visit `json:"replacement"`
}

// VisitQuery filters a list of visits.
type VisitQuery struct {
	AuthorizationID *uuid.UUID
	OperatorID      *uuid.UUID
	Month           string // YYYY-MM
	Status          string
	Limit           int
	Cursor          string
}

// VisitFilter is what the store lists: newest first (by id), before Before.
type VisitFilter struct {
	AmbitoID        uuid.UUID
	ISTAT           string     // a comune's operators: the visits of its comune's authorizations
	Cooperative     *uuid.UUID // a cooperative's callers: its own
	AuthorizationID *uuid.UUID
	OperatorID      *uuid.UUID
	From, To        Date // the month, both included; "" for none
	Status          string
	Before          *uuid.UUID
	Limit           int
}

// Slot of an operator a visit would take, for the overlap query.
type OperatorSlot struct {
	OperatorID     uuid.UUID
	StartsAt, Ends time.Time
}

// MonthKey is a cooperative's month (its first day).
type MonthKey struct {
	Cooperative uuid.UUID
	Month       Date // YYYY-MM-01
}

// UsageKey is what the hours of an authorization are counted over: an ISO week (Week, its
// Monday) for per_week authorizations, the whole period (Week "") for total ones.
type UsageKey struct {
	AuthorizationID uuid.UUID
	Week            Date
}

// VisitStore is what the visits need of the database (embedded in Store).
type VisitStore interface {
	// LockAuthorizations reads the authorizations of ids in the ambito FOR UPDATE, in id order.
	LockAuthorizations(ctx context.Context, ambitoID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]Authorization, error)
	// LockedMonths returns those of keys whose statement is submitted or approved, holding
	// each month's lock (shared) until the transaction ends.
	LockedMonths(ctx context.Context, ambitoID uuid.UUID, keys []MonthKey) (map[MonthKey]bool, error)
	// Overlapping returns the indexes of slots that overlap a valid stored visit of their operator.
	Overlapping(ctx context.Context, ambitoID uuid.UUID, slots []OperatorSlot) (map[int]bool, error)
	// MinutesUsed sums the minutes of the valid visits the citizen was present at, per key.
	MinutesUsed(ctx context.Context, keys []UsageKey) (map[UsageKey]int, error)
	// InsertVisits stores visits at once, in a savepoint: ErrOverlapRace when the exclusion
	// constraint refused one of them (nothing of them is stored then).
	InsertVisits(ctx context.Context, visits []Visit) error
	GetVisit(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (Visit, error)
	// VoidVisit stores v's voiding (status voided, Voided set).
	VoidVisit(ctx context.Context, v Visit) error
	// UsageVisits returns the valid visits of an authorization from one day to another (both
	// included), in start order: what its hours are counted over.
	UsageVisits(ctx context.Context, ambitoID, authorizationID uuid.UUID, from, to Date) ([]Visit, error)
	// SetExcess stores the excess minutes of visits (by id).
	SetExcess(ctx context.Context, ambitoID uuid.UUID, excess map[uuid.UUID]int) error
	ListVisits(ctx context.Context, f VisitFilter) ([]Visit, error)
}

// beforeInsert, when set (tests), runs between a request's overlap query and its insert.
var beforeInsert func()

// ErrOverlapRace is the exclusion constraint's refusal: another request stored an overlapping
// visit of the operator after the overlap query.
var ErrOverlapRace = &errs.Error{Kind: errs.Conflict, Message: "an overlapping visit of the operator was stored meanwhile",
	Extra: map[string]any{"code": CodeOverlap}}

// ---- reference data ----

// Activity is a coded activity of a visit.
type Activity struct {
	Code  string `json:"code"`
	Label string `json:"label"`
}

//go:embed data/visit-activities.json
var activitiesJSON []byte

var activities = func() map[string]string {
	var list []Activity
	if err := json.Unmarshal(activitiesJSON, &list); err != nil {
		panic("interventions: data/visit-activities.json: " + err.Error())
	}
	m := map[string]string{}
	for _, a := range list {
		m[a.Code] = a.Label
	}
	return m
}()

var visitPlaces = []string{"home", "school", "community"}

// ---- identity: the operators ----

// OperatorProfile is a profile of an operator as identity holds it: a role in an organization
// from ValidFrom to ValidTo (nil: open-ended).
type OperatorProfile struct {
	OrganizationID uuid.UUID `json:"organization_id"`
	Role           auth.Role `json:"role"`
	ValidFrom      Date      `json:"valid_from"`
	ValidTo        *Date     `json:"valid_to"`
}

// visitRoles are the roles that make visits.
var visitRoles = []auth.Role{auth.RoleEducator, auth.RoleASA, auth.RoleOSS}

func operatorKey(ambitoID, id uuid.UUID) string {
	return "operator-profiles:" + ambitoID.String() + ":" + id.String()
}

// operatorProfiles asks identity for an operator's profiles through the cache (Config.OperatorTTL):
// identity down with an answer cached does not block; without one it is Unavailable. An
// operator identity does not know has no profiles.
func (s *Service) operatorProfiles(ctx context.Context, ambitoID, id uuid.UUID) ([]OperatorProfile, error) {
	list, err := cache.GetOrLoad(ctx, s.cache, operatorKey(ambitoID, id), s.operatorTTL(),
		func(ctx context.Context) ([]OperatorProfile, error) {
			l, err := s.identity.OperatorProfiles(ctx, id)
			if errs.Is(err, errs.NotFound) {
				return []OperatorProfile{}, nil
			}
			return nonNil(l), err
		})
	switch {
	case err == nil:
		return list, nil
	case errs.Is(err, errs.Unavailable):
		return nil, err
	}
	return nil, &errs.Error{Kind: errs.Unavailable, Message: "identity could not be asked about the operator; retry later",
		RetryAfter: 5 * time.Second, Err: err}
}

func (s *Service) operatorTTL() time.Duration {
	if s.cfg.OperatorTTL > 0 {
		return s.cfg.OperatorTTL
	}
	return 10 * time.Minute
}

// makesVisits reports whether profiles hold an educator, ASA or OSS profile of coop valid on day.
func makesVisits(profiles []OperatorProfile, coop uuid.UUID, day Date) bool {
	for _, p := range profiles {
		if p.OrganizationID == coop && slices.Contains(visitRoles, p.Role) && p.ValidFrom <= day && (p.ValidTo == nil || *p.ValidTo >= day) {
			return true
		}
	}
	return false
}

// ---- rules ----

// rule is a broken visit rule: 422 naming the field, with its code.
func rule(code, field, format string, args ...any) *errs.Error {
	e := errs.InvalidField(field, format, args...)
	e.Kind, e.Message, e.Extra = errs.Unprocessable, "the visit breaks a rule: "+strings.ReplaceAll(code, "_", " "), map[string]any{"code": code}
	return e
}

func monthLocked(field string) *errs.Error {
	e := errs.InvalidField(field, "is in a month whose statement is submitted or approved: its visits are locked")
	e.Kind, e.Message, e.Extra = errs.FailedPrecondition, "the month's statement is submitted or approved: its visits are locked (the comune returns it to reopen the month)", map[string]any{"code": CodeMonthLocked}
	return e
}

// parseClock reads HH:MM (00:00 to 23:59, or 24:00 for an end) into minutes of the day.
func parseClock(s string, end bool) (int, bool) {
	if end && s == "24:00" {
		return 24 * 60, true
	}
	if !clock.MatchString(s) {
		return 0, false
	}
	h, _ := strconv.Atoi(s[:2])
	m, _ := strconv.Atoi(s[3:])
	return h*60 + m, true
}

// item is a visit of a request on its way: its input, the visit built, and its error.
type item struct {
	in  VisitInput
	v   Visit
	err error
}

// prepare checks a visit's fields on their own and builds it.
func (s *Service) prepare(sc scope, in VisitInput, now time.Time) (Visit, error) {
	var f errs.Fields
	f.Check(in.AuthorizationID != uuid.Nil, "authorization_id", "is required")
	f.Check(in.OperatorID != uuid.Nil, "operator_id", "is required")
	_, okDay := valid.Date(&f, "date", in.Date, valid.Suite)
	start, okStart := parseClock(in.Start, false)
	end, okEnd := parseClock(in.End, true)
	f.Check(okStart, "start", "must be a time HH:MM (to the minute)")
	f.Check(okEnd, "end", "must be a time HH:MM (to the minute; 24:00 for midnight)")
	f.Check(!okStart || !okEnd || end > start, "end", "must be after start, on the same day")
	if len(in.Activities) == 0 {
		f.Add("activities", "give at least one activity")
	}
	f.Check(len(in.Activities) <= maxActivities, "activities", "must have at most %d activities", maxActivities)
	for i, a := range in.Activities {
		at := "activities[" + strconv.Itoa(i) + "]"
		if _, ok := activities[a]; !ok {
			f.Add(at, "is not a coded activity (data/visit-activities.json)")
		} else if slices.Contains(in.Activities[:i], a) {
			f.Add(at, "is given twice")
		}
	}
	f.Check(slices.Contains(visitPlaces, in.Place), "place", "must be one of home, school, community")
	valid.Text(&f, "notes", in.Notes, false, maxNotesLen)
	if err := f.Err(); err != nil {
		return Visit{}, err
	}
	if okDay && in.Date > now.In(s.cfg.Location).Format(time.DateOnly) {
		return Visit{}, errs.InvalidField("date", "is in the future: a visit is recorded once made")
	}
	loc := s.cfg.Location
	d, _ := time.ParseInLocation(time.DateOnly, in.Date, loc)
	startsAt := time.Date(d.Year(), d.Month(), d.Day(), 0, start, 0, 0, loc)
	endsAt := time.Date(d.Year(), d.Month(), d.Day(), 0, end, 0, 0, loc)
	if !endsAt.After(startsAt) {
		return Visit{}, errs.InvalidField("end", "must be after start (the clock changes that night)")
	}
	return Visit{ID: newID(), AmbitoID: sc.ambitoID, AuthorizationID: in.AuthorizationID, OperatorID: in.OperatorID, Date: in.Date,
		Start: in.Start, End: in.End, Minutes: end - start, Activities: slices.Clone(in.Activities), Place: in.Place, Notes: in.Notes,
		Absent: in.Absent, Status: visitStatusValid, RecordedBy: sc.operator(), RecordedAt: now, StartsAt: startsAt.UTC(), EndsAt: endsAt.UTC()}, nil
}

// mayWrite checks the caller may write the visit of operator for authorization a: an educator,
// ASA or OSS their own visits of their cooperative; a coordinator or a cooperative's client any
// of its cooperative; a client of the ambito (visits:write) any.
func (sc scope) writesFor(a Authorization, operator uuid.UUID) error {
	if sc.coop != uuid.Nil && a.CooperativeID != sc.coop {
		return errs.InvalidField("authorization_id", "is not an authorization of your cooperative")
	}
	if sc.coop == uuid.Nil && sc.claims.Kind != auth.KindClient {
		return errs.E(errs.Forbidden, "a comune's operators do not write visits")
	}
	if sc.claims.Kind == auth.KindOperator && slices.Contains(visitRoles, sc.claims.Role) && operator.String() != sc.claims.Subject {
		e := errs.InvalidField("operator_id", "must be you: an educator, ASA or OSS records their own visits")
		e.Kind, e.Message, e.Extra = errs.Forbidden, "an educator, ASA or OSS records their own visits", map[string]any{"code": CodeNotOwnVisit}
		return e
	}
	return nil
}

// weekOf is the Monday of the ISO week of day.
func weekOf(day Date) Date {
	t, _ := time.Parse(time.DateOnly, day)
	wd := (int(t.Weekday()) + 6) % 7 // Monday 0
	return t.AddDate(0, 0, -wd).Format(time.DateOnly)
}

func usageKey(a Authorization, day Date) UsageKey {
	if a.Hours.PerWeek != nil {
		return UsageKey{AuthorizationID: a.ID, Week: weekOf(day)}
	}
	return UsageKey{AuthorizationID: a.ID}
}

func authorizedMinutes(a Authorization) int {
	if a.Hours.PerWeek != nil {
		return int(*a.Hours.PerWeek*60 + 0.5)
	}
	if a.Hours.Total != nil {
		return int(*a.Hours.Total*60 + 0.5)
	}
	return 0
}

// RecordVisits applies the rules to every visit and stores the valid ones in one transaction:
// the result of each, in order (a stored visit, or the error naming its fields "visits[i]....").
// Identity down without a cached answer about one of the operators stores nothing
// (Unavailable). replaces, when set, is the voided visit the (single) visit replaces.
func (s *Service) RecordVisits(ctx context.Context, inputs []VisitInput) ([]Visit, []error, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return nil, nil, err
	}
	var out []Visit
	var errsOut []error
	err = s.store.InTx(ctx, func(tx Store) error {
		var err error
		out, errsOut, err = s.recordIn(ctx, tx, sc, inputs, nil)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	return out, errsOut, s.record(ctx, s.visitRecords(sc, "visit.record", out, nil)...)
}

// recordIn is RecordVisits in the transaction tx.
func (s *Service) recordIn(ctx context.Context, tx Store, sc scope, inputs []VisitInput, replaces *uuid.UUID) ([]Visit, []error, error) {
	now := s.now()
	items := make([]item, len(inputs))
	var authIDs []uuid.UUID
	var operators []uuid.UUID
	for i, in := range inputs {
		items[i].in = in
		items[i].v, items[i].err = s.prepare(sc, in, now)
		if items[i].err == nil {
			authIDs = append(authIDs, in.AuthorizationID)
			operators = append(operators, in.OperatorID)
		}
	}
	sortIDs(authIDs)
	authIDs = slices.Compact(authIDs)
	sortIDs(operators)
	operators = slices.Compact(operators)

	// Identity first (through the cache): down without an answer, nothing is stored.
	profiles := make(map[uuid.UUID][]OperatorProfile, len(operators))
	for _, op := range operators {
		p, err := s.operatorProfiles(ctx, sc.ambitoID, op)
		if err != nil {
			return nil, nil, err
		}
		profiles[op] = p
	}
	auths, err := tx.LockAuthorizations(ctx, sc.ambitoID, authIDs)
	if err != nil {
		return nil, nil, err
	}
	// The rules of each visit against its authorization and operator.
	months := map[MonthKey]bool{}
	for i := range items {
		it := &items[i]
		if it.err != nil {
			continue
		}
		a, ok := auths[it.in.AuthorizationID]
		if !ok || !sc.sees(a) {
			it.err = &errs.Error{Kind: errs.NotFound, Message: "authorization not found",
				Fields: []errs.FieldError{{Field: "authorization_id", Message: "is not an authorization you may record visits for"}},
				Extra:  map[string]any{"code": CodeAuthorizationUnknown}}
			continue
		}
		if it.err = sc.writesFor(a, it.in.OperatorID); it.err != nil {
			continue
		}
		switch {
		case a.Status != StatusActive:
			it.err = rule(CodeNotActive, "authorization_id", "is %s: visits are recorded for active authorizations only", a.Status)
		case it.in.Date < a.Period.From || it.in.Date > a.Period.To:
			it.err = rule(CodeOutsidePeriod, "date", "is outside the authorization's period (%s to %s)", a.Period.From, a.Period.To)
		case !makesVisits(profiles[it.in.OperatorID], a.CooperativeID, it.in.Date):
			it.err = rule(CodeNotOfCooperative, "operator_id", "is not an educator, ASA or OSS of the authorization's cooperative on that day")
		}
		if it.err != nil {
			continue
		}
		it.v.CooperativeID, it.v.ServiceType, it.v.CitizenID, it.v.Replaces = a.CooperativeID, a.ServiceType, a.CitizenID, replaces
		months[MonthKey{Cooperative: a.CooperativeID, Month: it.in.Date[:8] + "01"}] = true
	}
	// Locked months: one query.
	if len(months) > 0 {
		keys := make([]MonthKey, 0, len(months))
		for k := range months {
			keys = append(keys, k)
		}
		locked, err := tx.LockedMonths(ctx, sc.ambitoID, keys)
		if err != nil {
			return nil, nil, err
		}
		for i := range items {
			it := &items[i]
			if it.err == nil && locked[MonthKey{Cooperative: it.v.CooperativeID, Month: it.in.Date[:8] + "01"}] {
				it.err = monthLocked("date")
			}
		}
	}
	// Overlaps within the request: an operator's visits in start order.
	order := make([]int, 0, len(items))
	for i := range items {
		if items[i].err == nil {
			order = append(order, i)
		}
	}
	slices.SortStableFunc(order, func(x, y int) int {
		a, b := &items[x].v, &items[y].v
		if c := strings.Compare(a.OperatorID.String(), b.OperatorID.String()); c != 0 {
			return c
		}
		return a.StartsAt.Compare(b.StartsAt)
	})
	lastEnd := map[uuid.UUID]int{}
	for _, i := range order {
		v := &items[i].v
		if j, ok := lastEnd[v.OperatorID]; ok && items[j].v.EndsAt.After(v.StartsAt) {
			items[i].err = rule(CodeOverlap, "start", "overlaps visit visits[%d] of the same operator in this request", j)
			continue
		}
		lastEnd[v.OperatorID] = i
	}
	// Against the stored visits, then insert; a race lost to another request (the exclusion
	// constraint) is asked again.
	for attempt := 0; ; attempt++ {
		cand := make([]int, 0, len(items))
		slots := make([]OperatorSlot, 0, len(items))
		for i := range items {
			if items[i].err == nil {
				cand = append(cand, i)
				slots = append(slots, OperatorSlot{OperatorID: items[i].v.OperatorID, StartsAt: items[i].v.StartsAt, Ends: items[i].v.EndsAt})
			}
		}
		if len(cand) == 0 {
			break
		}
		over, err := tx.Overlapping(ctx, sc.ambitoID, slots)
		if err != nil {
			return nil, nil, err
		}
		for k, i := range cand {
			if over[k] {
				items[i].err = rule(CodeOverlap, "start", "overlaps a stored visit of the same operator")
			}
		}
		ok, err := s.excess(ctx, tx, items, auths)
		if err != nil {
			return nil, nil, err
		}
		if len(ok) == 0 {
			break
		}
		vs := make([]Visit, len(ok))
		for k, i := range ok {
			vs[k] = items[i].v
		}
		if beforeInsert != nil && attempt == 0 {
			beforeInsert()
		}
		err = tx.InsertVisits(ctx, vs)
		if err == ErrOverlapRace && attempt < maxOverlapRetry {
			continue
		}
		if err == ErrOverlapRace {
			return nil, nil, &errs.Error{Kind: errs.Unavailable, Message: "concurrent visits of the same operators, retry", RetryAfter: time.Second}
		}
		if err != nil {
			return nil, nil, err
		}
		if err := tx.AppendEvents(ctx, recordedEvents(sc.ambitoID, vs)...); err != nil {
			return nil, nil, err
		}
		break
	}
	out := make([]Visit, len(items))
	errsOut := make([]error, len(items))
	for i := range items {
		if items[i].err != nil {
			errsOut[i] = items[i].err
		} else {
			out[i] = items[i].v
		}
	}
	return out, errsOut, nil
}

// excess sets the excess minutes of the valid items (chronologically, after the minutes the
// stored visits used) and returns their indexes.
func (s *Service) excess(ctx context.Context, tx Store, items []item, auths map[uuid.UUID]Authorization) ([]int, error) {
	var ok []int
	keys := map[UsageKey]bool{}
	for i := range items {
		if items[i].err == nil {
			ok = append(ok, i)
			keys[usageKey(auths[items[i].v.AuthorizationID], items[i].v.Date)] = true
		}
	}
	if len(ok) == 0 {
		return nil, nil
	}
	list := make([]UsageKey, 0, len(keys))
	for k := range keys {
		list = append(list, k)
	}
	used, err := tx.MinutesUsed(ctx, list)
	if err != nil {
		return nil, err
	}
	chrono := slices.Clone(ok)
	slices.SortStableFunc(chrono, func(x, y int) int { return items[x].v.StartsAt.Compare(items[y].v.StartsAt) })
	for _, i := range chrono {
		v := &items[i].v
		v.ExcessMinutes = 0
		if v.Absent {
			continue
		}
		a := auths[v.AuthorizationID]
		k := usageKey(a, v.Date)
		left := max(0, authorizedMinutes(a)-used[k])
		v.ExcessMinutes = max(0, v.Minutes-left)
		used[k] += v.Minutes
	}
	return ok, nil
}

// visitsEvent is the payload of visits.recorded: ids and codes only, never the notes.
type visitsEvent struct {
	AuthorizationID uuid.UUID   `json:"authorization_id"`
	CooperativeID   uuid.UUID   `json:"cooperative_id"`
	CitizenID       uuid.UUID   `json:"citizen_id"`
	ServiceType     string      `json:"service_type"`
	VisitIDs        []uuid.UUID `json:"visit_ids"`
	Months          []string    `json:"months"`
}

type voidedEvent struct {
	ID              uuid.UUID  `json:"id"`
	AuthorizationID uuid.UUID  `json:"authorization_id"`
	CooperativeID   uuid.UUID  `json:"cooperative_id"`
	CitizenID       uuid.UUID  `json:"citizen_id"`
	Date            Date       `json:"date"`
	ReplacedBy      *uuid.UUID `json:"replaced_by"`
	// Recounted are the other visits whose excess the void changed, with their new excess.
	Recounted []recounted `json:"recounted"`
}

type recounted struct {
	ID            uuid.UUID `json:"id"`
	ExcessMinutes int       `json:"excess_minutes"`
}

// recountedOf lists changed (visit id → excess) in id order.
func recountedOf(changed map[uuid.UUID]int) []recounted {
	out := make([]recounted, 0, len(changed))
	for id, e := range changed {
		out = append(out, recounted{ID: id, ExcessMinutes: e})
	}
	slices.SortFunc(out, func(a, b recounted) int { return bytes.Compare(a.ID[:], b.ID[:]) })
	return out
}

// recordedEvents is one visits.recorded per authorization, in authorization order.
func recordedEvents(ambitoID uuid.UUID, vs []Visit) []events.Event {
	by := map[uuid.UUID]*visitsEvent{}
	var ids []uuid.UUID
	for _, v := range vs {
		e, ok := by[v.AuthorizationID]
		if !ok {
			e = &visitsEvent{AuthorizationID: v.AuthorizationID, CooperativeID: v.CooperativeID, CitizenID: v.CitizenID, ServiceType: v.ServiceType}
			by[v.AuthorizationID] = e
			ids = append(ids, v.AuthorizationID)
		}
		e.VisitIDs = append(e.VisitIDs, v.ID)
		if m := v.Date[:7]; !slices.Contains(e.Months, m) {
			e.Months = append(e.Months, m)
		}
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	evs := make([]events.Event, 0, len(ids))
	for _, id := range ids {
		slices.Sort(by[id].Months)
		evs = append(evs, events.Of(ambitoID, "visits.recorded", "authorization", id, by[id]))
	}
	return evs
}

// visitRecords is one audit record per authorization of vs (the zero visits skipped), with the
// citizen and the count of visits.
func (s *Service) visitRecords(sc scope, action string, vs []Visit, details map[string]any) []audit.Record {
	type agg struct {
		citizen uuid.UUID
		n       int
	}
	by := map[uuid.UUID]*agg{}
	var ids []uuid.UUID
	for _, v := range vs {
		if v.ID == uuid.Nil {
			continue
		}
		a, ok := by[v.AuthorizationID]
		if !ok {
			a = &agg{citizen: v.CitizenID}
			by[v.AuthorizationID] = a
			ids = append(ids, v.AuthorizationID)
		}
		a.n++
	}
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	recs := make([]audit.Record, 0, len(ids))
	for _, id := range ids {
		r := audit.By(sc.claims, action, "authorization", id.String())
		r.CitizenID = by[id].citizen.String()
		r.Details = map[string]any{"visits": by[id].n}
		for k, v := range details {
			r.Details[k] = v
		}
		recs = append(recs, r)
	}
	return recs
}

// RecordVisit records one visit (RecordVisits of one): its rule's error is the answer.
func (s *Service) RecordVisit(ctx context.Context, in VisitInput) (Visit, error) {
	vs, es, err := s.RecordVisits(ctx, []VisitInput{in})
	if err != nil {
		return Visit{}, err
	}
	if es[0] != nil {
		return Visit{}, es[0]
	}
	return vs[0], nil
}

// visibleVisit returns a visit the caller may see (otherwise NotFound).
func (sc scope) seesVisit(v Visit, istatOf func() string) bool {
	switch {
	case sc.coop != uuid.Nil:
		return v.CooperativeID == sc.coop
	case sc.wide:
		return true
	}
	return sc.istat != "" && istatOf() == sc.istat
}

func (s *Service) visibleVisit(ctx context.Context, tx Store, sc scope, id uuid.UUID, forUpdate bool) (Visit, Authorization, error) {
	v, err := tx.GetVisit(ctx, sc.ambitoID, id, forUpdate)
	if err != nil {
		return Visit{}, Authorization{}, err
	}
	a, err := tx.GetAuthorization(ctx, sc.ambitoID, v.AuthorizationID, false)
	if err != nil {
		return Visit{}, Authorization{}, err
	}
	if !sc.seesVisit(v, func() string { return a.ISTATCode }) {
		return Visit{}, Authorization{}, errs.E(errs.NotFound, "visit not found")
	}
	return v, a, nil
}

// GetVisit returns a visit the caller may see.
func (s *Service) GetVisit(ctx context.Context, id uuid.UUID) (Visit, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return Visit{}, err
	}
	v, _, err := s.visibleVisit(ctx, s.store, sc, id, false)
	if err != nil {
		return Visit{}, err
	}
	return v, s.record(ctx, s.visitRecords(sc, "visit.read", []Visit{v}, map[string]any{"visit_id": v.ID.String()})...)
}

// ListVisits lists the visits the caller may see, newest recorded first.
func (s *Service) ListVisits(ctx context.Context, q VisitQuery) (cursor.Page[Visit], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Visit]{}, err
	}
	var f errs.Fields
	f.Check(q.Status == "" || q.Status == visitStatusValid || q.Status == visitStatusVoid, "status", "must be one of valid, voided")
	filter := VisitFilter{AmbitoID: sc.ambitoID, AuthorizationID: q.AuthorizationID, OperatorID: q.OperatorID, Status: q.Status, Limit: q.Limit + 1}
	if q.Month != "" {
		if t, err := time.Parse("2006-01", q.Month); err != nil || len(q.Month) != 7 {
			f.Add("month", "must be a month YYYY-MM")
		} else {
			filter.From, filter.To = t.Format(time.DateOnly), t.AddDate(0, 1, -1).Format(time.DateOnly)
		}
	}
	if err := f.Err(); err != nil {
		return cursor.Page[Visit]{}, err
	}
	ids := func(id *uuid.UUID) string {
		if id == nil {
			return ""
		}
		return id.String()
	}
	list := cursor.For("visits", ids(q.AuthorizationID), ids(q.OperatorID), q.Month, q.Status)
	switch {
	case sc.coop != uuid.Nil:
		filter.Cooperative = &sc.coop
	case !sc.wide:
		filter.ISTAT = sc.istat
	}
	if filter.Before, err = list.DecodeID(q.Cursor); err != nil {
		return cursor.Page[Visit]{}, err
	}
	items, err := s.store.ListVisits(ctx, filter)
	if err != nil {
		return cursor.Page[Visit]{}, err
	}
	p := cursor.PageOf(items, q.Limit, list, func(v Visit) string { return v.ID.String() })
	return p, s.record(ctx, s.visitRecords(sc, "visit.list", p.Items, nil)...)
}

// VoidVisit voids a valid visit with a reason and stores its replacement, when given, in the
// same transaction; both stay visible. The caller must be one who may write the visit.
func (s *Service) VoidVisit(ctx context.Context, id uuid.UUID, in VoidInput) (VoidResult, error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return VoidResult{}, err
	}
	var f errs.Fields
	valid.Line(&f, "reason", in.Reason, true, maxReasonLen)
	if err := f.Err(); err != nil {
		return VoidResult{}, err
	}
	var res VoidResult
	err = s.store.InTx(ctx, func(tx Store) error {
		v, a, err := s.visibleVisit(ctx, tx, sc, id, true)
		if err != nil {
			return err
		}
		if err := sc.writesFor(a, v.OperatorID); err != nil {
			if errs.Is(err, errs.Invalid) {
				return errs.E(errs.NotFound, "visit not found")
			}
			return err
		}
		if v.Status != visitStatusValid {
			return &errs.Error{Kind: errs.FailedPrecondition, Message: "the visit is voided already", Extra: map[string]any{"code": CodeAlreadyVoided}}
		}
		if in.Replacement != nil && in.Replacement.AuthorizationID != v.AuthorizationID {
			return errs.InvalidField("replacement.authorization_id", "must be the voided visit's authorization")
		}
		locked, err := tx.LockAuthorizations(ctx, sc.ambitoID, []uuid.UUID{v.AuthorizationID})
		if err != nil {
			return err
		}
		a = locked[v.AuthorizationID]
		lockedMonths, err := tx.LockedMonths(ctx, sc.ambitoID, []MonthKey{{Cooperative: v.CooperativeID, Month: v.Date[:8] + "01"}})
		if err != nil {
			return err
		}
		if len(lockedMonths) > 0 {
			return monthLocked("id")
		}
		v.Status = visitStatusVoid
		v.Voided = &Voiding{Reason: in.Reason, By: sc.operator(), At: s.now()}
		// The void first, so that the replacement may take the voided visit's time.
		if err := tx.VoidVisit(ctx, v); err != nil {
			return err
		}
		if in.Replacement != nil {
			vs, es, err := s.recordIn(ctx, tx, sc, []VisitInput{*in.Replacement}, &v.ID)
			if err != nil {
				return err
			}
			if es[0] != nil {
				return prefixed(es[0], "replacement.")
			}
			r := vs[0]
			v.Voided.ReplacedBy = &r.ID
			if err := tx.VoidVisit(ctx, v); err != nil {
				return err
			}
			res.Replacement = &r
		}
		// The voided minutes no longer count against the hours: the excess of the visits of its
		// week (or period) is counted again.
		changed, err := s.recount(ctx, tx, sc.ambitoID, a, v.Date)
		if err != nil {
			return err
		}
		if res.Replacement != nil {
			if e, ok := changed[res.Replacement.ID]; ok {
				res.Replacement.ExcessMinutes = e
			}
		}
		res.Voided = v
		return tx.AppendEvents(ctx, events.Of(sc.ambitoID, "visit.voided", "visit", v.ID, voidedEvent{ID: v.ID, AuthorizationID: v.AuthorizationID,
			CooperativeID: v.CooperativeID, CitizenID: v.CitizenID, Date: v.Date, ReplacedBy: v.Voided.ReplacedBy,
			Recounted: recountedOf(changed)}))
	})
	if err != nil {
		return VoidResult{}, err
	}
	recs := s.visitRecords(sc, "visit.void", []Visit{res.Voided}, map[string]any{"visit_id": res.Voided.ID.String()})
	if res.Replacement != nil {
		recs = append(recs, s.visitRecords(sc, "visit.record", []Visit{*res.Replacement}, map[string]any{"replaces": res.Voided.ID.String()})...)
	}
	return res, s.record(ctx, recs...)
}

// recount counts the excess of a's valid visits again over the ISO week of day (the period for
// hours in total) in start order, as recording does: each visit's minutes beyond what the
// visits before it left of the hours. Visits of a month whose statement is submitted or
// approved keep theirs (their minutes still count). It stores and returns the changed ones.
func (s *Service) recount(ctx context.Context, tx Store, ambitoID uuid.UUID, a Authorization, day Date) (map[uuid.UUID]int, error) {
	from, to := a.Period.From, a.Period.To
	if a.Hours.PerWeek != nil {
		w, _ := time.Parse(time.DateOnly, weekOf(day))
		from, to = w.Format(time.DateOnly), w.AddDate(0, 0, 6).Format(time.DateOnly)
	}
	vs, err := tx.UsageVisits(ctx, ambitoID, a.ID, from, to)
	if err != nil || len(vs) == 0 {
		return nil, err
	}
	var months []MonthKey
	for _, v := range vs {
		if k := (MonthKey{Cooperative: v.CooperativeID, Month: v.Date[:8] + "01"}); !slices.Contains(months, k) {
			months = append(months, k)
		}
	}
	locked, err := tx.LockedMonths(ctx, ambitoID, months)
	if err != nil {
		return nil, err
	}
	changed := map[uuid.UUID]int{}
	used, hours := 0, authorizedMinutes(a)
	for _, v := range vs {
		if v.Absent {
			continue
		}
		want := max(0, v.Minutes-max(0, hours-used))
		used += v.Minutes
		if want != v.ExcessMinutes && !locked[MonthKey{Cooperative: v.CooperativeID, Month: v.Date[:8] + "01"}] {
			changed[v.ID] = want
		}
	}
	if len(changed) == 0 {
		return nil, nil
	}
	return changed, tx.SetExcess(ctx, ambitoID, changed)
}

// prefixed returns err with its fields prefixed by p ("visits[3]." + "start").
func prefixed(err error, p string) error {
	var e *errs.Error
	if !errors.As(err, &e) || len(e.Fields) == 0 {
		return err
	}
	c := *e
	c.Fields = errs.Fields(e.Fields).Prefix(p)
	return &c
}

// sortIDs sorts ids in their text order (the order of PostgreSQL's uuid comparison).
func sortIDs(ids []uuid.UUID) {
	slices.SortFunc(ids, func(a, b uuid.UUID) int { return bytes.Compare(a[:], b[:]) })
}
