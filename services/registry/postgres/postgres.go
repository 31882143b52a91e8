// Package postgres is the registry Store on PostgreSQL (pgx v5).
package postgres

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgstore"
	"github.com/csi-lombardia/csi/services/registry"
)

// Store implements registry.Store.
type Store struct{ pgstore.Store[registry.Store] }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pgstore.New(pool, wrap)} }

// wrap is the store of a transaction (pgstore.Store.InTx); that it compiles proves *Store
// implements registry.Store.
func wrap(s pgstore.Store[registry.Store]) registry.Store { return &Store{s} }

// data is the jsonb form of a citizen: the record without what columns and tables hold.
func data(c registry.Citizen) ([]byte, error) {
	c.FiscalCodeHistory, c.MergedInto, c.Version = nil, nil, 0
	return json.Marshal(c)
}

func residence(c registry.Citizen) *string {
	if c.Residence == nil {
		return nil
	}
	return &c.Residence.ISTATCode
}

func birthplace(c registry.Citizen) *string {
	if c.BirthPlace == nil {
		return nil
	}
	return &c.BirthPlace.Belfiore
}

const citizenCols = `c.id, c.ambito_id, coalesce(c.fiscal_code, ''), coalesce(c.fiscal_code_canonical, ''), c.family_name, c.given_name,
	c.sex, c.birth_date::text, c.status, c.merged_into, c.data, c.version, c.created_at, c.updated_at,
	coalesce((SELECT json_agg(json_build_object('fiscal_code', h.fiscal_code, 'reason', h.reason, 'assigned_at', h.assigned_at,
		'replaced_at', h.replaced_at) ORDER BY h.assigned_at) FROM citizen_fiscal_codes h WHERE h.citizen_id = c.id), '[]')`

func scanCitizen(r pgx.Row, c *registry.Citizen, extra ...any) error {
	var raw []byte
	var id, ambito uuid.UUID
	var code, canonical, family, given, sex, birth, status string
	var merged *uuid.UUID
	var version int64
	var created, updated time.Time
	var history []registry.FiscalCodeChange
	dst := append([]any{&id, &ambito, &code, &canonical, &family, &given, &sex, &birth, &status, &merged, &raw, &version, &created, &updated, &history}, extra...)
	if err := r.Scan(dst...); err != nil {
		return err
	}
	*c = registry.Citizen{}
	if err := json.Unmarshal(raw, c); err != nil {
		return err
	}
	c.ID, c.AmbitoID, c.FiscalCode, c.FiscalCodeCanonical, c.FamilyName, c.GivenName = id, ambito, code, canonical, family, given
	c.Sex, c.BirthDate, c.Status, c.MergedInto, c.Version, c.CreatedAt, c.UpdatedAt = sex, birth, status, merged, version, created, updated
	c.FiscalCodeHistory = history
	if c.Privacy.Consents == nil {
		c.Privacy.Consents = []registry.Consent{}
	}
	return nil
}

// CreateCitizen implements registry.Store.
func (s *Store) CreateCitizen(ctx context.Context, c registry.Citizen, reason string) error {
	d, err := data(c)
	if err != nil {
		return err
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO citizens (id, ambito_id, fiscal_code, fiscal_code_canonical, family_name, given_name, sex, birth_date,
		birth_belfiore, residence_istat, status, data, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`,
		c.ID, c.AmbitoID, pgdb.Nullable(c.FiscalCode), pgdb.Nullable(c.FiscalCodeCanonical), c.FamilyName, c.GivenName, c.Sex, c.BirthDate,
		birthplace(c), residence(c), c.Status, d, c.Version, c.CreatedAt, c.UpdatedAt)
	if c.FiscalCode != "" {
		b.Queue(`INSERT INTO citizen_fiscal_codes (citizen_id, fiscal_code, reason, assigned_at) VALUES ($1, $2, $3, $4)`,
			c.ID, c.FiscalCode, reason, c.CreatedAt)
	}
	return pgdb.Translate(s.DB.SendBatch(ctx, b).Close())
}

// GetCitizen implements registry.Store.
func (s *Store) GetCitizen(ctx context.Context, ambitoID, id uuid.UUID, forUpdate bool) (registry.Citizen, error) {
	q := `SELECT ` + citizenCols + ` FROM citizens c WHERE c.ambito_id = $1 AND c.id = $2`
	if forUpdate {
		q += ` FOR UPDATE OF c`
	}
	var c registry.Citizen
	err := scanCitizen(s.DB.QueryRow(ctx, q, ambitoID, id), &c)
	return c, pgdb.NotFound(err, "citizen")
}

// CitizenIDByFiscalCode implements registry.Store.
func (s *Store) CitizenIDByFiscalCode(ctx context.Context, ambitoID uuid.UUID, code string) (uuid.UUID, error) {
	var id uuid.UUID
	err := s.DB.QueryRow(ctx, `SELECT id FROM citizens WHERE ambito_id = $1 AND fiscal_code = $2 AND merged_into IS NULL`, ambitoID, code).Scan(&id)
	return id, pgdb.NotFound(err, "citizen")
}

// CitizensByCanonical implements registry.Store.
func (s *Store) CitizensByCanonical(ctx context.Context, ambitoID uuid.UUID, canonical string) ([]registry.Citizen, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+citizenCols+` FROM citizens c
		WHERE c.ambito_id = $1 AND c.fiscal_code_canonical = $2 AND c.merged_into IS NULL ORDER BY c.id`, ambitoID, canonical)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, c *registry.Citizen) error { return scanCitizen(r, c) })
}

// UpdateCitizen implements registry.Store. A non-empty newCodeReason records the new code in
// the history and closes the former one.
func (s *Store) UpdateCitizen(ctx context.Context, c registry.Citizen, expected int64, newCodeReason string) (registry.Citizen, error) {
	d, err := data(c)
	if err != nil {
		return registry.Citizen{}, err
	}
	var now time.Time
	err = s.DB.QueryRow(ctx, `UPDATE citizens SET fiscal_code = $4, fiscal_code_canonical = $5, family_name = $6, given_name = $7,
		sex = $8, birth_date = $9, birth_belfiore = $10, residence_istat = $11, status = $12, data = $13, version = version + 1,
		updated_at = now() WHERE ambito_id = $1 AND id = $2 AND version = $3 RETURNING updated_at`,
		c.AmbitoID, c.ID, expected, pgdb.Nullable(c.FiscalCode), pgdb.Nullable(c.FiscalCodeCanonical), c.FamilyName, c.GivenName, c.Sex,
		c.BirthDate, birthplace(c), residence(c), c.Status, d).Scan(&now)
	if errors.Is(err, pgx.ErrNoRows) {
		var one int
		if e := s.DB.QueryRow(ctx, `SELECT 1 FROM citizens WHERE ambito_id = $1 AND id = $2`, c.AmbitoID, c.ID).Scan(&one); errors.Is(e, pgx.ErrNoRows) {
			return registry.Citizen{}, errs.E(errs.NotFound, "citizen not found")
		}
		return registry.Citizen{}, errs.E(errs.PreconditionFailed, "the citizen was changed by someone else; read it again")
	}
	if err != nil {
		return registry.Citizen{}, pgdb.Translate(err)
	}
	if newCodeReason != "" {
		if _, err := s.DB.Exec(ctx, `UPDATE citizen_fiscal_codes SET replaced_at = $2 WHERE citizen_id = $1 AND replaced_at IS NULL`, c.ID, now); err != nil {
			return registry.Citizen{}, pgdb.Translate(err)
		}
		if _, err := s.DB.Exec(ctx, `INSERT INTO citizen_fiscal_codes (citizen_id, fiscal_code, reason, assigned_at) VALUES ($1, $2, $3, $4)`,
			c.ID, c.FiscalCode, newCodeReason, now); err != nil {
			return registry.Citizen{}, pgdb.Translate(err)
		}
	}
	return s.GetCitizen(ctx, c.AmbitoID, c.ID, false)
}

// MarkMerged implements registry.Store.
func (s *Store) MarkMerged(ctx context.Context, ambitoID, mergedID, survivorID uuid.UUID) error {
	_, err := s.DB.Exec(ctx, `UPDATE citizens SET merged_into = $3, version = version + 1, updated_at = now()
		WHERE ambito_id = $1 AND id = $2`, ambitoID, mergedID, survivorID)
	return pgdb.Translate(err)
}

// TakeOverMembership implements registry.Store.
func (s *Store) TakeOverMembership(ctx context.Context, ambitoID, from, to, memberID uuid.UUID, on registry.Date) (*uuid.UUID, error) {
	var hid *uuid.UUID
	err := s.DB.QueryRow(ctx, `WITH ended AS (
			UPDATE household_members m SET valid_to = greatest(m.valid_from, $4::date)
			FROM households h
			WHERE h.id = m.household_id AND h.ambito_id = $1 AND m.citizen_id = $2 AND m.valid_to IS NULL
			RETURNING m.household_id, m.relationship),
		joined AS (
			INSERT INTO household_members (id, household_id, citizen_id, relationship, valid_from)
			SELECT $5, household_id, $3, relationship, $4::date FROM ended
			WHERE NOT EXISTS (SELECT 1 FROM household_members WHERE citizen_id = $3 AND valid_to IS NULL))
		SELECT household_id FROM ended`, ambitoID, from, to, on, memberID).Scan(&hid)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	return hid, pgdb.Translate(err)
}

// Search implements registry.Store. Without a name it filters by code, birth date and
// residence. With a name, see searchName.
func (s *Store) Search(ctx context.Context, f registry.SearchFilter) ([]registry.Hit, error) {
	var birth *string
	if f.BirthDate != "" {
		birth = &f.BirthDate
	}
	if f.Name != "" {
		return s.searchName(ctx, f, birth)
	}
	rows, err := s.DB.Query(ctx, `SELECT `+citizenCols+`,
			1 + CASE WHEN $2 <> '' AND c.fiscal_code = $2 THEN 1 ELSE 0 END AS score
		FROM citizens c
		WHERE c.ambito_id = $1 AND c.merged_into IS NULL
		  AND ($2 = '' OR c.fiscal_code_canonical = $3)
		  AND ($4::date IS NULL OR c.birth_date = $4::date)
		  AND ($5 = '' OR c.residence_istat = $5)
		ORDER BY score DESC, c.family_name, c.given_name, c.id
		LIMIT $6 OFFSET $7`, f.AmbitoID, f.FiscalCode, f.Canonical, birth, f.Residence, f.Limit, f.Offset)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, h *registry.Hit) error { return scanCitizen(r, &h.Citizen, &h.Score) })
}

// Name search tuning: a word given that is in the names dictionary is matched to itself and
// the nearest others, wordsPerKnownTerm in all (a real name may be a typo of another); a word
// that is not (a typo) to its wordsPerUnknownTerm nearest. At most maxTerms distinct words of
// a query count. With 3 and 8, a family name with a letter dropped finds the person in about
// 96% of cases on the synthetic population (3 for all: 88%). The postings of each dictionary
// word chosen are counted up to bearersCounted (an index-only scan of at most that many
// entries), to start from the rarest word given.
const (
	wordsPerKnownTerm   = 3
	wordsPerUnknownTerm = 8
	maxTerms            = 6
	bearersCounted      = 1000
)

// searchName finds the citizens whose name has, for every word given, one of the dictionary
// words nearest to it (so "Rosi Mario" finds Mario Rossi), ranked by the mean similarity of the
// words matched: exact words first, then near ones. Two statements: the dictionary lookup (with
// the postings of each word chosen counted, up to bearersCounted), then the postings
// (citizen_words, by primary key, index-only) of the word given whose chosen words have the
// fewest, kept when the name's words they carry match the other words given, joined to the
// citizens for the other filters and the page. A rare family name is not intersected with the
// tens of thousands of people sharing a common given name: only its few bearers are read.
func (s *Store) searchName(ctx context.Context, f registry.SearchFilter, birth *string) ([]registry.Hit, error) {
	type match struct {
		term    int
		word    string
		sim     float32
		bearers int
	}
	// pg_trgm's default similarity threshold (0.3) bounds the words near a word given.
	rows, err := s.DB.Query(ctx, `WITH t AS (
			SELECT w, min(i) AS i FROM unnest(string_to_array(registry_normalize($1), ' ')) WITH ORDINALITY AS t(w, i)
			WHERE w <> '' GROUP BY w ORDER BY 2 LIMIT $2)
		SELECT t.i::int, d.word, similarity(d.word, t.w), (SELECT count(*) FROM t)::int,
			(SELECT count(*) FROM (SELECT FROM citizen_words cw WHERE cw.ambito_id = $5 AND cw.word = d.word LIMIT $6) b)::int
		FROM t CROSS JOIN LATERAL (SELECT word FROM name_words WHERE word % t.w ORDER BY word <-> t.w, word
			LIMIT CASE WHEN EXISTS (SELECT 1 FROM name_words k WHERE k.word = t.w) THEN $3::int ELSE $4::int END) d
		ORDER BY 1, 3 DESC`, f.Name, maxTerms, wordsPerKnownTerm, wordsPerUnknownTerm, f.AmbitoID, bearersCounted)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	var given int
	matches, err := pgdb.Collect(rows, func(r pgx.Rows, m *match) error {
		return r.Scan(&m.term, &m.word, &m.sim, &given, &m.bearers)
	})
	if err != nil {
		return nil, err
	}
	var terms [][]match
	for _, m := range matches {
		if len(terms) == 0 || terms[len(terms)-1][0].term != m.term {
			terms = append(terms, nil)
		}
		terms[len(terms)-1] = append(terms[len(terms)-1], m)
	}
	if len(terms) == 0 || len(terms) < given {
		return nil, nil // a word given is near no name at all
	}

	// The word given whose postings are read: the fewest words counted to the cap (each may
	// have any number of bearers beyond it), then the fewest postings counted.
	driver := 0
	rank := func(t []match) (capped, bearers int) {
		for _, m := range t {
			bearers += m.bearers
			if m.bearers >= bearersCounted {
				capped++
			}
		}
		return capped, bearers
	}
	for i := range terms {
		ci, bi := rank(terms[i])
		cd, bd := rank(terms[driver])
		if ci < cd || ci == cd && bi < bd {
			driver = i
		}
	}

	// The driver's postings whose name has one of each other term's words, scored: the best
	// similarity of each term's words the name has, added in the order the words were given.
	args := []any{f.AmbitoID, f.FiscalCode, f.Canonical, birth, f.Residence, f.Limit, f.Offset}
	var lateral, filter, score strings.Builder
	for i, t := range terms {
		words, sims := make([]string, len(t)), make([]float32, len(t))
		for j, m := range t {
			words[j], sims[j] = m.word, m.sim
		}
		args = append(args, words, sims)
		w, sm := len(args)-1, len(args)
		if i > 0 {
			score.WriteString(" + ")
		}
		fmt.Fprintf(&score, "max(p%d.s)", i)
		if i == driver {
			fmt.Fprintf(&lateral, " unnest($%d::text[], $%d::real[]) AS p%d(w, s)\n\t\t\tJOIN citizen_words cw ON cw.ambito_id = $1 AND cw.word = p%[3]d.w", w, sm, i)
			continue
		}
		fmt.Fprintf(&filter, " AND cw.words && $%d::text[]", w)
	}
	for i := range terms {
		if i != driver {
			fmt.Fprintf(&lateral, "\n\t\t\tCROSS JOIN LATERAL (SELECT max(m.s) AS s FROM unnest($%d::text[], $%d::real[]) AS m(w, s) WHERE m.w = ANY (cw.words)) p%d",
				8+2*i, 9+2*i, i)
		}
	}
	// Without other filters the page can be cut before the citizens are read.
	inner := ""
	if f.FiscalCode == "" && birth == nil && f.Residence == "" {
		inner = " ORDER BY 2 DESC, 1 LIMIT $6::int + $7::int"
	}
	rows, err = s.DB.Query(ctx, `WITH hits AS (SELECT cw.citizen_id, (`+score.String()+fmt.Sprintf(`) / %d AS score
			FROM`, len(terms))+lateral.String()+`
			WHERE true`+filter.String()+`
			GROUP BY cw.citizen_id`+inner+`)
		SELECT `+citizenCols+`, hits.score + CASE WHEN $2 <> '' AND c.fiscal_code = $2 THEN 1 ELSE 0 END AS score
		FROM hits JOIN citizens c ON c.id = hits.citizen_id
		WHERE c.ambito_id = $1 AND c.merged_into IS NULL
		  AND ($2 = '' OR c.fiscal_code_canonical = $3)
		  AND ($4::date IS NULL OR c.birth_date = $4::date)
		  AND ($5 = '' OR c.residence_istat = $5)
		ORDER BY score DESC, c.id
		LIMIT $6 OFFSET $7`, args...)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, h *registry.Hit) error { return scanCitizen(r, &h.Citizen, &h.Score) })
}

// ListResidents implements registry.Store.
func (s *Store) ListResidents(ctx context.Context, f registry.ListFilter) ([]registry.Citizen, error) {
	var af, ag *string
	var aid *uuid.UUID
	if f.After != nil {
		af, ag, aid = &f.After.FamilyName, &f.After.GivenName, &f.After.ID
	}
	rows, err := s.DB.Query(ctx, `SELECT `+citizenCols+` FROM citizens c
		WHERE c.ambito_id = $1 AND c.residence_istat = $2 AND c.merged_into IS NULL
		  AND ($3::text IS NULL OR (c.family_name, c.given_name, c.id) > ($3, $4, $5))
		ORDER BY c.family_name, c.given_name, c.id LIMIT $6`, f.AmbitoID, f.Residence, af, ag, aid, f.Limit)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, c *registry.Citizen) error { return scanCitizen(r, c) })
}

// LikelyDuplicates implements registry.Store: similar names, the same birth date and, when
// both are known, the same birthplace.
func (s *Store) LikelyDuplicates(ctx context.Context, c registry.Citizen) ([]registry.Match, error) {
	rows, err := s.DB.Query(ctx, `WITH q AS (SELECT registry_normalize($2 || ' ' || $3) AS name)
		SELECT c.id, similarity(c.name_norm, q.name) FROM citizens c, q
		WHERE c.ambito_id = $1 AND c.merged_into IS NULL AND c.birth_date = $4::date AND c.name_norm % q.name
		  AND ($5::text IS NULL OR c.birth_belfiore IS NULL OR c.birth_belfiore = $5)
		ORDER BY 2 DESC, c.id LIMIT 10`, c.AmbitoID, c.FamilyName, c.GivenName, c.BirthDate, birthplace(c))
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, m *registry.Match) error { return r.Scan(&m.ID, &m.Similarity) })
}

// GetHousehold implements registry.Store: the citizen, its current household, the household's
// current members and the ones who left, in one statement (a row per member; one row with no
// household when there is none).
func (s *Store) GetHousehold(ctx context.Context, ambitoID, citizenID uuid.UUID) (registry.Household, error) {
	rows, err := s.DB.Query(ctx, `SELECT coalesce(c.residence_istat, ''), c.merged_into, h.id, h.family_number,
		m.citizen_id, mc.family_name, mc.given_name, mc.birth_date::text, m.relationship, m.valid_from::text, m.valid_to::text
		FROM citizens c
		LEFT JOIN household_members cm ON cm.citizen_id = c.id AND cm.valid_to IS NULL
		LEFT JOIN households h ON h.id = cm.household_id AND h.ambito_id = c.ambito_id
		LEFT JOIN (household_members m JOIN citizens mc ON mc.id = m.citizen_id) ON m.household_id = h.id
		WHERE c.ambito_id = $1 AND c.id = $2
		ORDER BY m.valid_to NULLS FIRST, m.relationship = 'head' DESC, mc.birth_date, mc.id`, ambitoID, citizenID)
	if err != nil {
		return registry.Household{}, pgdb.Translate(err)
	}
	defer rows.Close()
	h := registry.Household{Members: []registry.Member{}}
	found := false
	for rows.Next() {
		var hid, member *uuid.UUID
		var fn, family, given, birth, rel, from *string
		var to *string
		if err := rows.Scan(&h.ResidenceISTAT, &h.MergedInto, &hid, &fn, &member, &family, &given, &birth, &rel, &from, &to); err != nil {
			return registry.Household{}, pgdb.Translate(err)
		}
		found = true
		if hid == nil {
			continue
		}
		h.ID = hid
		if fn != nil {
			h.FamilyNumber = *fn
		}
		if member != nil {
			h.Members = append(h.Members, registry.Member{CitizenID: *member, FamilyName: *family, GivenName: *given, BirthDate: *birth,
				Relationship: *rel, ValidFrom: *from, ValidTo: to})
		}
	}
	if err := rows.Err(); err != nil {
		return registry.Household{}, pgdb.Translate(err)
	}
	if !found {
		return registry.Household{}, errs.E(errs.NotFound, "citizen not found")
	}
	return h, nil
}

// AddMember implements registry.Store.
func (s *Store) AddMember(ctx context.Context, ambitoID, citizenID, memberID uuid.UUID, relationship string, from registry.Date) (uuid.UUID, error) {
	var hid uuid.UUID
	err := s.DB.QueryRow(ctx, `SELECT m.household_id FROM household_members m JOIN households h ON h.id = m.household_id
		WHERE h.ambito_id = $1 AND m.citizen_id = $2 AND m.valid_to IS NULL`, ambitoID, citizenID).Scan(&hid)
	if errors.Is(err, pgx.ErrNoRows) {
		hid = uuid.Must(uuid.NewV7())
		b := &pgx.Batch{}
		b.Queue(`INSERT INTO households (id, ambito_id, residence_istat) SELECT $1, $2, coalesce(residence_istat, '') FROM citizens WHERE id = $3`,
			hid, ambitoID, citizenID)
		b.Queue(`INSERT INTO household_members (id, household_id, citizen_id, relationship, valid_from) VALUES ($1, $2, $3, 'head', $4)`,
			uuid.Must(uuid.NewV7()), hid, citizenID, from)
		if err := s.DB.SendBatch(ctx, b).Close(); err != nil {
			return uuid.Nil, pgdb.Translate(err)
		}
	} else if err != nil {
		return uuid.Nil, pgdb.Translate(err)
	}
	// The member's current household, locked so that two adds of one member queue up.
	var current uuid.UUID
	err = s.DB.QueryRow(ctx, `SELECT household_id FROM household_members WHERE citizen_id = $1 AND valid_to IS NULL FOR UPDATE`,
		memberID).Scan(&current)
	switch {
	case err == nil && current == hid:
		return uuid.Nil, registry.ErrAlreadyMember
	case err != nil && !errors.Is(err, pgx.ErrNoRows):
		return uuid.Nil, pgdb.Translate(err)
	}
	b := &pgx.Batch{}
	b.Queue(`UPDATE household_members SET valid_to = greatest(valid_from, $2::date) WHERE citizen_id = $1 AND valid_to IS NULL`, memberID, from)
	b.Queue(`INSERT INTO household_members (id, household_id, citizen_id, relationship, valid_from) VALUES ($1, $2, $3, $4, $5)`,
		uuid.Must(uuid.NewV7()), hid, memberID, relationship, from)
	return hid, pgdb.Translate(s.DB.SendBatch(ctx, b).Close())
}
