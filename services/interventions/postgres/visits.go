package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/interventions"
)

// rome is the time zone of the visits' dates and times.
var rome = func() *time.Location {
	loc, err := time.LoadLocation("Europe/Rome")
	if err != nil {
		return time.UTC
	}
	return loc
}()

// LockAuthorizations implements interventions.VisitStore: one query, the rows locked in id order
// so that concurrent requests on the same authorizations queue rather than deadlock.
func (s *Store) LockAuthorizations(ctx context.Context, ambitoID uuid.UUID, ids []uuid.UUID) (map[uuid.UUID]interventions.Authorization, error) {
	out := make(map[uuid.UUID]interventions.Authorization, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	rows, err := s.DB.Query(ctx, `SELECT `+cols+` FROM authorizations WHERE ambito_id = $1 AND id = ANY($2::uuid[])
		ORDER BY id FOR UPDATE`, ambitoID, ids)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	list, err := pgdb.Collect(rows, func(r pgx.Rows, a *interventions.Authorization) error { return scan(r, a) })
	if err != nil {
		return nil, err
	}
	for _, a := range list {
		out[a.ID] = a
	}
	return out, nil
}

// LockedMonths implements interventions.VisitStore.
func (s *Store) LockedMonths(ctx context.Context, ambitoID uuid.UUID, keys []interventions.MonthKey) (map[interventions.MonthKey]bool, error) {
	coops := make([]uuid.UUID, len(keys))
	months := make([]string, len(keys))
	for i, k := range keys {
		coops[i], months[i] = k.Cooperative, k.Month
	}
	// The months' locks, shared, in key order, held until the commit: a statement's transition
	// takes its month's exclusively (GetStatement for update), so a visit never slips into a
	// month while it is being submitted or approved.
	// (The key: hashtextextended of ambito/cooperative/month, as statements.go's.)
	if _, err := s.DB.Exec(ctx, `SELECT count(pg_advisory_xact_lock_shared(k)) FROM (
		SELECT DISTINCT hashtextextended($1::uuid::text || '/' || c::text || '/' || m::text, 1217) AS k
		FROM unnest($2::uuid[], $3::date[]) u(c, m) ORDER BY 1) keys`,
		ambitoID, coops, months); err != nil {
		return nil, pgdb.Translate(err)
	}
	rows, err := s.DB.Query(ctx, `SELECT cooperative_id, month::text FROM statements
		WHERE ambito_id = $1 AND status IN ('submitted', 'approved')
		  AND (cooperative_id, month) IN (SELECT * FROM unnest($2::uuid[], $3::date[]))`, ambitoID, coops, months)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	list, err := pgdb.Collect(rows, func(r pgx.Rows, k *interventions.MonthKey) error { return r.Scan(&k.Cooperative, &k.Month) })
	if err != nil {
		return nil, err
	}
	out := make(map[interventions.MonthKey]bool, len(list))
	for _, k := range list {
		out[k] = true
	}
	return out, nil
}

// Overlapping implements interventions.VisitStore: one query, on the exclusion constraint's index.
func (s *Store) Overlapping(ctx context.Context, _ uuid.UUID, slots []interventions.OperatorSlot) (map[int]bool, error) {
	ops := make([]pgtype.UUID, len(slots))
	starts := make([]time.Time, len(slots))
	ends := make([]time.Time, len(slots))
	for i, sl := range slots {
		ops[i], starts[i], ends[i] = pgID(sl.OperatorID), sl.StartsAt, sl.Ends
	}
	rows, err := s.DB.Query(ctx, `SELECT u.i - 1 FROM unnest($1::uuid[], $2::timestamptz[], $3::timestamptz[]) WITH ORDINALITY AS u(op, s, e, i)
		WHERE EXISTS (SELECT 1 FROM visits v WHERE v.operator_id = u.op AND v.status = 'valid'
		                AND tstzrange(v.starts_at, v.ends_at) && tstzrange(u.s, u.e))`, ops, starts, ends)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	list, err := pgdb.Collect(rows, func(r pgx.Rows, i *int) error { return r.Scan(i) })
	if err != nil {
		return nil, err
	}
	out := make(map[int]bool, len(list))
	for _, i := range list {
		out[i] = true
	}
	return out, nil
}

// MinutesUsed implements interventions.VisitStore: one query for every key.
func (s *Store) MinutesUsed(ctx context.Context, keys []interventions.UsageKey) (map[interventions.UsageKey]int, error) {
	auths := make([]pgtype.UUID, len(keys))
	weeks := make([]string, len(keys))
	for i, k := range keys {
		auths[i], weeks[i] = pgID(k.AuthorizationID), k.Week
	}
	// The week's bounds are range conditions on day (an OR would read every visit of the
	// authorization), answered by visits_authorization alone (00007: it includes the columns).
	rows, err := s.DB.Query(ctx, `SELECT k.a, k.w, coalesce(sum(v.minutes), 0)::int
		FROM unnest($1::uuid[], $2::text[]) AS k(a, w)
		LEFT JOIN visits v ON v.authorization_id = k.a AND v.status = 'valid' AND NOT v.absent
		     AND v.day >= coalesce(NULLIF(k.w, '')::date, '-infinity') AND v.day < coalesce(NULLIF(k.w, '')::date + 7, 'infinity')
		GROUP BY k.a, k.w`, auths, weeks)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	out := make(map[interventions.UsageKey]int, len(keys))
	defer rows.Close()
	for rows.Next() {
		var k interventions.UsageKey
		var n int
		if err := rows.Scan(&k.AuthorizationID, &k.Week, &n); err != nil {
			return nil, pgdb.Translate(err)
		}
		out[k] = n
	}
	return out, pgdb.Translate(rows.Err())
}

func pgID(id uuid.UUID) pgtype.UUID { return pgtype.UUID{Bytes: id, Valid: true} }

const (
	codeExclusionViolation = "23P01"
	codeDeadlock           = "40P01"
)

// InsertVisits implements interventions.VisitStore: one multi-row INSERT … SELECT FROM unnest,
// in a savepoint so that the exclusion constraint's refusal (a concurrent request stored an
// overlapping visit) undoes this insert only.
func (s *Store) InsertVisits(ctx context.Context, vs []interventions.Visit) error {
	if len(vs) == 0 {
		return nil
	}
	n := len(vs)
	// pgtype.UUID: binary, where uuid.UUID would go through its driver.Valuer (text)
	ids, auths, coops, cits, ops := make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n), make([]pgtype.UUID, n)
	types, days, places, acts, notes, reps := make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n), make([]string, n)
	starts, ends := make([]time.Time, n), make([]time.Time, n)
	mins, excess := make([]int32, n), make([]int32, n)
	absent := make([]bool, n)
	for i, v := range vs {
		ids[i], auths[i], coops[i], cits[i], ops[i] = pgID(v.ID), pgID(v.AuthorizationID), pgID(v.CooperativeID), pgID(v.CitizenID), pgID(v.OperatorID)
		types[i], days[i], places[i], acts[i], notes[i] = v.ServiceType, v.Date, v.Place, strings.Join(v.Activities, ","), v.Notes
		if v.Replaces != nil {
			reps[i] = v.Replaces.String()
		}
		starts[i], ends[i], mins[i], excess[i], absent[i] = v.StartsAt, v.EndsAt, int32(v.Minutes), int32(v.ExcessMinutes), v.Absent
	}
	by, err := json.Marshal(vs[0].RecordedBy)
	if err != nil {
		return err
	}
	if _, err := s.DB.Exec(ctx, `SAVEPOINT visits_insert`); err != nil {
		return pgdb.Translate(err)
	}
	_, err = s.DB.Exec(ctx, `INSERT INTO visits (id, ambito_id, authorization_id, cooperative_id, service_type, citizen_id, operator_id,
		day, starts_at, ends_at, minutes, absent, place, activities, notes, excess_minutes, status, replaces, recorded_by, recorded_at)
		SELECT u.id, $1, u.auth, u.coop, u.st, u.cit, u.op, u.day, u.s, u.e, u.m, u.ab, u.pl, string_to_array(u.act, ','), u.notes, u.ex,
		       'valid', NULLIF(u.rep, '')::uuid, $2, $3
		FROM unnest($4::uuid[], $5::uuid[], $6::uuid[], $7::text[], $8::uuid[], $9::uuid[], $10::date[], $11::timestamptz[],
		            $12::timestamptz[], $13::int[], $14::bool[], $15::text[], $16::text[], $17::text[], $18::int[], $19::text[])
		     AS u(id, auth, coop, st, cit, op, day, s, e, m, ab, pl, act, notes, ex, rep)`,
		vs[0].AmbitoID, by, vs[0].RecordedAt, ids, auths, coops, types, cits, ops, days, starts, ends, mins, absent, places, acts, notes, excess, reps)
	if err != nil {
		if _, rerr := s.DB.Exec(ctx, `ROLLBACK TO SAVEPOINT visits_insert`); rerr != nil {
			return pgdb.Translate(rerr)
		}
		var pg *pgconn.PgError
		// Two requests inserting overlapping visits at once may each wait on the other's
		// uncommitted row: PostgreSQL ends the wait of one (deadlock_detected), which is the
		// same race lost.
		if errors.As(err, &pg) && (pg.Code == codeExclusionViolation || pg.Code == codeDeadlock) {
			return interventions.ErrOverlapRace
		}
		return pgdb.Translate(err)
	}
	_, err = s.DB.Exec(ctx, `RELEASE SAVEPOINT visits_insert`)
	return pgdb.Translate(err)
}

const visitCols = `id, ambito_id, authorization_id, cooperative_id, service_type, citizen_id, operator_id, day::text, starts_at, ends_at,
	minutes, absent, place, activities, notes, excess_minutes, status, coalesce(replaces::text, ''), void_reason, voided_by, voided_at,
	coalesce(replaced_by::text, ''), recorded_by, recorded_at`

func scanVisit(r pgx.Row, v *interventions.Visit) error {
	var replaces, replacedBy string
	var reason *string
	var voidedBy, recordedBy []byte
	var voidedAt *time.Time
	if err := r.Scan(&v.ID, &v.AmbitoID, &v.AuthorizationID, &v.CooperativeID, &v.ServiceType, &v.CitizenID, &v.OperatorID, &v.Date,
		&v.StartsAt, &v.EndsAt, &v.Minutes, &v.Absent, &v.Place, &v.Activities, &v.Notes, &v.ExcessMinutes, &v.Status, &replaces,
		&reason, &voidedBy, &voidedAt, &replacedBy, &recordedBy, &v.RecordedAt); err != nil {
		return err
	}
	v.Start = v.StartsAt.In(rome).Format("15:04")
	end := v.EndsAt.In(rome)
	v.End = end.Format("15:04")
	if end.Format(time.DateOnly) != v.Date {
		v.End = "24:00"
	}
	if replaces != "" {
		id := uuid.MustParse(replaces)
		v.Replaces = &id
	}
	if err := json.Unmarshal(recordedBy, &v.RecordedBy); err != nil {
		return err
	}
	if voidedAt != nil {
		v.Voided = &interventions.Voiding{At: *voidedAt}
		if reason != nil {
			v.Voided.Reason = *reason
		}
		if err := json.Unmarshal(voidedBy, &v.Voided.By); err != nil {
			return err
		}
		if replacedBy != "" {
			id := uuid.MustParse(replacedBy)
			v.Voided.ReplacedBy = &id
		}
	}
	if v.Activities == nil {
		v.Activities = []string{}
	}
	return nil
}

// GetVisit implements interventions.VisitStore.
func (s *Store) GetVisit(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (interventions.Visit, error) {
	q := `SELECT ` + visitCols + ` FROM visits WHERE ambito_id = $1 AND id = $2`
	if forUpdate {
		q += ` FOR UPDATE`
	}
	var v interventions.Visit
	err := scanVisit(s.DB.QueryRow(ctx, q, ambitoID, id), &v)
	return v, pgdb.NotFound(err, "visit")
}

// VoidVisit implements interventions.VisitStore.
func (s *Store) VoidVisit(ctx context.Context, v interventions.Visit) error {
	by, err := json.Marshal(v.Voided.By)
	if err != nil {
		return err
	}
	_, err = s.DB.Exec(ctx, `UPDATE visits SET status = 'voided', void_reason = $3, voided_by = $4, voided_at = $5, replaced_by = $6
		WHERE ambito_id = $1 AND id = $2`, v.AmbitoID, v.ID, v.Voided.Reason, by, v.Voided.At, v.Voided.ReplacedBy)
	return pgdb.Translate(err)
}

// UsageVisits implements interventions.VisitStore (visits_authorization: by authorization and day).
func (s *Store) UsageVisits(ctx context.Context, ambitoID, authorizationID uuid.UUID, from, to interventions.Date) ([]interventions.Visit, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+visitCols+` FROM visits
		WHERE authorization_id = $2 AND ambito_id = $1 AND status = 'valid' AND day BETWEEN $3::date AND $4::date
		ORDER BY starts_at, id`, ambitoID, authorizationID, from, to)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, v *interventions.Visit) error { return scanVisit(r, v) })
}

// SetExcess implements interventions.VisitStore.
func (s *Store) SetExcess(ctx context.Context, ambitoID uuid.UUID, excess map[uuid.UUID]int) error {
	ids := make([]uuid.UUID, 0, len(excess))
	mins := make([]int32, 0, len(excess))
	for id, m := range excess {
		ids, mins = append(ids, id), append(mins, int32(m))
	}
	_, err := s.DB.Exec(ctx, `UPDATE visits v SET excess_minutes = u.e
		FROM unnest($2::uuid[], $3::int[]) AS u(id, e) WHERE v.ambito_id = $1 AND v.id = u.id`, ambitoID, ids, mins)
	return pgdb.Translate(err)
}

// ListVisits implements interventions.VisitStore.
func (s *Store) ListVisits(ctx context.Context, f interventions.VisitFilter) ([]interventions.Visit, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+visitCols+` FROM visits
		WHERE ambito_id = $1
		  AND ($2 = '' OR authorization_id IN (SELECT id FROM authorizations WHERE ambito_id = $1 AND istat_code = $2))
		  AND ($3::uuid IS NULL OR cooperative_id = $3)
		  AND ($4::uuid IS NULL OR authorization_id = $4)
		  AND ($5::uuid IS NULL OR operator_id = $5)
		  AND ($6 = '' OR day BETWEEN NULLIF($6, '')::date AND NULLIF($7, '')::date)
		  AND ($8 = '' OR status = $8)
		  AND ($9::uuid IS NULL OR id < $9)
		ORDER BY id DESC LIMIT $10`,
		f.AmbitoID, f.ISTAT, f.Cooperative, f.AuthorizationID, f.OperatorID, f.From, f.To, f.Status, f.Before, f.Limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, v *interventions.Visit) error { return scanVisit(r, v) })
}
