package floor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// interventions' statements, copied from services/interventions/postgres (visits.go,
// authorizations.go) and pkg/events: what the store runs, in one transaction, for the visits of
// a POST /v1/visits or /v1/visits:batch (Service.recordIn): the authorizations locked, the
// locked months (their advisory locks, shared), the overlaps with stored visits, the minutes already used, the insert in a
// savepoint, an outbox row per authorization.
const (
	// AuthorizationCols is the store's select list of an authorization (cols).
	AuthorizationCols = `data, version, created_at, updated_at`
	LockAuthSQL       = `SELECT ` + AuthorizationCols + ` FROM authorizations WHERE ambito_id = $1 AND id = ANY($2::uuid[])
		ORDER BY id FOR UPDATE`
	MonthLocksSQL = `SELECT count(pg_advisory_xact_lock_shared(k)) FROM (
		SELECT DISTINCT hashtextextended($1::uuid::text || '/' || c::text || '/' || m::text, 1217) AS k
		FROM unnest($2::uuid[], $3::date[]) u(c, m) ORDER BY 1) keys`
	LockedMonthsSQL = `SELECT cooperative_id, month::text FROM statements
		WHERE ambito_id = $1 AND status IN ('submitted', 'approved')
		  AND (cooperative_id, month) IN (SELECT * FROM unnest($2::uuid[], $3::date[]))`
	OverlappingSQL = `SELECT u.i - 1 FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS u(op, s, e, i)
		WHERE EXISTS (SELECT 1 FROM visits v WHERE v.operator_id = u.op AND v.status = 'valid'
		                AND tstzrange(v.starts_at, v.ends_at) && tstzrange(u.s, u.e))`
	MinutesUsedSQL = `SELECT k.a, k.w, coalesce(sum(v.minutes), 0)::int
		FROM unnest($1::uuid[], $2::text[]) AS k(a, w)
		LEFT JOIN visits v ON v.authorization_id = k.a AND v.status = 'valid' AND NOT v.absent
		     AND v.day >= coalesce(NULLIF(k.w, '')::date, '-infinity') AND v.day < coalesce(NULLIF(k.w, '')::date + 7, 'infinity')
		GROUP BY k.a, k.w`
	SavepointSQL    = `SAVEPOINT visits_insert`
	RollbackToSQL   = `ROLLBACK TO SAVEPOINT visits_insert`
	ReleaseSQL      = `RELEASE SAVEPOINT visits_insert`
	VisitsInsertSQL = `INSERT INTO visits (id, ambito_id, authorization_id, cooperative_id, service_type, citizen_id, operator_id,
		day, starts_at, ends_at, minutes, absent, place, activities, notes, excess_minutes, status, replaces, recorded_by, recorded_at)
		SELECT u.id, $1, u.auth, u.coop, u.st, u.cit, u.op, u.day, u.s, u.e, u.m, u.ab, u.pl, string_to_array(u.act, ','), u.notes, u.ex,
		       'valid', NULLIF(u.rep, '')::uuid, $2, $3
		FROM unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::uuid[], $9::uuid[], $10::date[], $11::timestamptz[],
		            $12::timestamptz[], $13::int[], $14::bool[], $15::text[], $16::text[], $17::text[], $18::int[], $19::text[])
		     AS u(id, auth, coop, st, cit, op, day, s, e, m, ab, pl, act, notes, ex, rep)`
)

// Visit is a visit as the floor stores it: the input (authorization, operator, date, start,
// end, activities, place, notes, absent) and the columns the service derives from the
// authorization and the caller (cooperative, service type, citizen, recorded_by).
type Visit struct {
	ID              uuid.UUID       `json:"id"`
	AuthorizationID uuid.UUID       `json:"authorization_id"`
	OperatorID      uuid.UUID       `json:"operator_id"`
	Date            string          `json:"date"`
	Start           string          `json:"start"`
	End             string          `json:"end"`
	Activities      []string        `json:"activities"`
	Place           string          `json:"place"`
	Notes           string          `json:"notes"`
	Absent          bool            `json:"absent"`
	CooperativeID   uuid.UUID       `json:"cooperative_id"`
	ServiceType     string          `json:"service_type"`
	CitizenID       uuid.UUID       `json:"citizen_id"`
	RecordedBy      json.RawMessage `json:"recorded_by"`
	RecordedAt      time.Time       `json:"recorded_at"`
	Minutes         int             `json:"minutes"`
	startsAt        time.Time
	endsAt          time.Time
}

// InterventionsHandler serves the visits of one ambito on interventions' database.
type InterventionsHandler struct {
	Pool   *pgxpool.Pool
	Ambito uuid.UUID
}

// Routes returns the routes: POST /visits and POST /visits:batch.
func (h InterventionsHandler) Routes() http.Handler {
	mux := http.NewServeMux()
	h.register(mux)
	return mux
}

func (h InterventionsHandler) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /visits", h.createVisit)
	mux.HandleFunc("POST /visits:batch", h.createBatch)
}

var rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// times sets a visit's id, minutes and instants as the service does (day + start and end in
// Europe/Rome, "24:00" the next midnight); false when they are no times.
func (v *Visit) times(now time.Time) bool {
	day, err := time.ParseInLocation(time.DateOnly, v.Date, rome)
	if err != nil {
		return false
	}
	at := func(hm string) (time.Time, bool) {
		if hm == "24:00" {
			return day.AddDate(0, 0, 1), true
		}
		t, err := time.Parse("15:04", hm)
		if err != nil {
			return time.Time{}, false
		}
		return time.Date(day.Year(), day.Month(), day.Day(), t.Hour(), t.Minute(), 0, 0, rome), true
	}
	var ok1, ok2 bool
	v.startsAt, ok1 = at(v.Start)
	v.endsAt, ok2 = at(v.End)
	v.ID, v.RecordedAt, v.Minutes = uuid.Must(uuid.NewV7()), now, int(v.endsAt.Sub(v.startsAt)/time.Minute)
	if len(v.RecordedBy) == 0 {
		v.RecordedBy = json.RawMessage(`{}`)
	}
	return ok1 && ok2 && v.Minutes > 0
}

func (h InterventionsHandler) createVisit(w http.ResponseWriter, r *http.Request) {
	var v Visit
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&v); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	vs := []Visit{v}
	if status, err := h.store(r.Context(), vs); err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	writeJSON(w, http.StatusCreated, vs[0])
}

func (h InterventionsHandler) createBatch(w http.ResponseWriter, r *http.Request) {
	var in struct {
		Visits []Visit `json:"visits"`
	}
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 16<<20)).Decode(&in); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if len(in.Visits) == 0 || len(in.Visits) > 1000 {
		http.Error(w, "1 to 1000 visits", http.StatusBadRequest)
		return
	}
	if status, err := h.store(r.Context(), in.Visits); err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	results := make([]map[string]any, len(in.Visits))
	for i, v := range in.Visits {
		results[i] = map[string]any{"index": i, "status": http.StatusCreated, "visit": v}
	}
	writeJSON(w, http.StatusOK, map[string]any{"stored": len(in.Visits), "failed": 0, "results": results})
}

// week is the store's usage key of a visit of an authorization with weekly hours: the Monday
// of the visit's week (the floor's authorizations are the bench's, all weekly).
func week(day string) string {
	d, err := time.Parse(time.DateOnly, day)
	if err != nil {
		return ""
	}
	return d.AddDate(0, 0, -((int(d.Weekday()) + 6) % 7)).Format(time.DateOnly)
}

// store runs the store's statements for vs in one transaction, in the order the service runs
// them, each statement once for the whole request.
func (h InterventionsHandler) store(ctx context.Context, vs []Visit) (int, error) {
	now := time.Now().UTC().Truncate(time.Microsecond)
	n := len(vs)
	ids, auths, coops, cits, ops := make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n), make([]uuid.UUID, n)
	types, days, places, acts, notes, reps := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	mins, excess := make([]int32, n), make([]int32, n)
	absent := make([]bool, n)
	var authIDs []uuid.UUID
	months := map[[2]string]bool{}
	usage := map[[2]string]bool{}
	for i := range vs {
		v := &vs[i]
		if !v.times(now) {
			return http.StatusBadRequest, errors.New("a visit's date, start or end is not a time")
		}
		ids[i], auths[i], coops[i], cits[i], ops[i] = v.ID, v.AuthorizationID, v.CooperativeID, v.CitizenID, v.OperatorID
		types[i], days[i], places[i], acts[i], notes[i] = v.ServiceType, v.Date, v.Place, strings.Join(v.Activities, ","), v.Notes
		starts[i], ends[i], mins[i], absent[i] = v.startsAt, v.endsAt, int32(v.Minutes), v.Absent
		authIDs = append(authIDs, v.AuthorizationID)
		months[[2]string{v.CooperativeID.String(), v.Date[:8] + "01"}] = true
		usage[[2]string{v.AuthorizationID.String(), week(v.Date)}] = true
	}
	slices.SortFunc(authIDs, func(a, b uuid.UUID) int { return strings.Compare(a.String(), b.String()) })
	authIDs = slices.Compact(authIDs)

	tx, err := h.Pool.Begin(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	rows, err := tx.Query(ctx, LockAuthSQL, h.Ambito, authIDs)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	found := 0
	for rows.Next() {
		var data []byte
		var version int64
		var created, updated time.Time
		if err := rows.Scan(&data, &version, &created, &updated); err != nil {
			rows.Close()
			return http.StatusInternalServerError, err
		}
		found++
	}
	if rows.Close(); rows.Err() != nil {
		return http.StatusInternalServerError, rows.Err()
	}
	if found != len(authIDs) {
		return http.StatusNotFound, errors.New("an authorization of the ambito is not there")
	}
	var mc []uuid.UUID
	var mm []string
	for k := range months {
		mc, mm = append(mc, uuid.MustParse(k[0])), append(mm, k[1])
	}
	if _, err := tx.Exec(ctx, MonthLocksSQL, h.Ambito, mc, mm); err != nil {
		return http.StatusInternalServerError, err
	}
	if err := drain(tx.Query(ctx, LockedMonthsSQL, h.Ambito, mc, mm)); err != nil {
		return http.StatusInternalServerError, err
	}
	var overlapping int
	rows, err = tx.Query(ctx, OverlappingSQL, ops, starts, ends)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	for rows.Next() {
		overlapping++
	}
	if rows.Close(); rows.Err() != nil {
		return http.StatusInternalServerError, rows.Err()
	}
	if overlapping > 0 {
		return http.StatusConflict, errors.New("a visit overlaps a stored visit of the same operator")
	}
	var ua []uuid.UUID
	var uw []string
	for k := range usage {
		ua, uw = append(ua, uuid.MustParse(k[0])), append(uw, k[1])
	}
	if err := drain(tx.Query(ctx, MinutesUsedSQL, ua, uw)); err != nil {
		return http.StatusInternalServerError, err
	}
	if _, err := tx.Exec(ctx, SavepointSQL); err != nil {
		return http.StatusInternalServerError, err
	}
	if _, err := tx.Exec(ctx, VisitsInsertSQL, h.Ambito, []byte(vs[0].RecordedBy), now, ids, auths, coops, types, cits, ops, days, starts, ends,
		mins, absent, places, acts, notes, excess, reps); err != nil {
		var pg *pgconn.PgError
		if errors.As(err, &pg) && pg.Code == "23P01" {
			return http.StatusConflict, err
		}
		return http.StatusInternalServerError, err
	}
	if _, err := tx.Exec(ctx, ReleaseSQL); err != nil {
		return http.StatusInternalServerError, err
	}
	// An event per authorization, with its visits (the service's visits.recorded).
	byAuth := map[uuid.UUID][]uuid.UUID{}
	for _, v := range vs {
		byAuth[v.AuthorizationID] = append(byAuth[v.AuthorizationID], v.ID)
	}
	for _, a := range authIDs {
		payload, _ := json.Marshal(map[string]any{"authorization_id": a, "visit_ids": byAuth[a]})
		if _, err := tx.Exec(ctx, InsertEventSQL, uuid.Must(uuid.NewV7()), h.Ambito.String(), "visits.recorded", "authorization",
			a.String(), now, payload); err != nil {
			return http.StatusInternalServerError, err
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return http.StatusInternalServerError, err
	}
	return http.StatusCreated, nil
}

// drain reads a query's rows to their end.
func drain(rows interface {
	Next() bool
	Close()
	Err() error
}, err error) error {
	if err != nil {
		return err
	}
	for rows.Next() {
	}
	rows.Close()
	return rows.Err()
}
