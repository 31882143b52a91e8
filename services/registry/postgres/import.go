package postgres

import (
	"context"
	"iter"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/registry"
)

// CreateImport implements registry.Store.
func (s *Store) CreateImport(ctx context.Context, im registry.Import) error {
	_, err := s.DB.Exec(ctx, `INSERT INTO imports (id, ambito_id, istat_code, status, created_by, created_by_org, created_by_role, created_at, complete)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, im.ID, im.AmbitoID, im.ISTATCode, im.Status, im.CreatedBy, im.CreatedByOrg, im.CreatedByRole,
		im.CreatedAt, im.Complete)
	return pgdb.Translate(err)
}

// rowSource feeds CopyFrom from an iterator, one row at a time, and costs no allocation per
// row: its values, set once, are pointers into the current row, converted to types whose
// pgtype valuer methods hand pgx the value (a pointer in an interface is not boxed; a []any of
// boxed values per row was a third of an import's allocations, and plain pointers are
// dereferenced by pgx through reflect, boxing again).
type rowSource struct {
	next func() (registry.ImportRow, bool)
	id   uuid.UUID
	cur  registry.ImportRow
	vals []any
}

type (
	copyText string
	copyInt8 int64
	copyBool bool
	copyDate time.Time
	copyUUID [16]byte
)

func (v *copyText) TextValue() (pgtype.Text, error) {
	return pgtype.Text{String: string(*v), Valid: true}, nil
}
func (v *copyInt8) Int64Value() (pgtype.Int8, error) {
	return pgtype.Int8{Int64: int64(*v), Valid: true}, nil
}
func (v *copyBool) BoolValue() (pgtype.Bool, error) {
	return pgtype.Bool{Bool: bool(*v), Valid: true}, nil
}
func (v *copyDate) DateValue() (pgtype.Date, error) {
	return pgtype.Date{Time: time.Time(*v), Valid: true}, nil
}
func (v *copyUUID) UUIDValue() (pgtype.UUID, error) { return pgtype.UUID{Bytes: *v, Valid: true}, nil }

func newRowSource(id uuid.UUID, next func() (registry.ImportRow, bool)) *rowSource {
	r := &rowSource{next: next, id: id}
	c := &r.cur
	text := func(s *string) any { return (*copyText)(s) }
	r.vals = []any{(*copyUUID)(&r.id), (*copyInt8)(&c.Line), (*copyUUID)(&c.ID), text(&c.FiscalCode), text(&c.Canonical),
		text(&c.FamilyName), text(&c.GivenName), text(&c.Sex), (*copyDate)(&c.BirthDate), text(&c.BirthPlace), text(&c.BirthPlaceName),
		(*copyBool)(&c.Foreign), text(&c.Citizenship), text(&c.Address), text(&c.PostalCode), text(&c.FamilyNumber), text(&c.Relationship)}
	return r
}

func (r *rowSource) Next() bool {
	var ok bool
	r.cur, ok = r.next()
	return ok
}

func (r *rowSource) Values() ([]any, error) { return r.vals, nil }

func (r *rowSource) Err() error { return nil }

// StageRows implements registry.Store with COPY.
func (s *Store) StageRows(ctx context.Context, importID uuid.UUID, rows func(yield func(registry.ImportRow) bool), rowErrs []registry.RowError) (int64, error) {
	var n int64
	if rows != nil {
		next, stop := iter.Pull(iter.Seq[registry.ImportRow](rows))
		defer stop()
		var err error
		n, err = s.DB.CopyFrom(ctx, pgx.Identifier{"import_rows"}, []string{"import_id", "line", "id", "fiscal_code", "canonical",
			"family_name", "given_name", "sex", "birth_date", "birth_place", "birth_place_name", "foreign_birth", "citizenship",
			"address", "postal_code", "family_number", "relationship"}, newRowSource(importID, next))
		if err != nil {
			return 0, pgdb.Translate(err)
		}
	}
	if len(rowErrs) > 0 {
		_, err := s.DB.CopyFrom(ctx, pgx.Identifier{"import_errors"}, []string{"import_id", "line", "field", "message"},
			pgx.CopyFromSlice(len(rowErrs), func(i int) ([]any, error) {
				e := rowErrs[i]
				return []any{importID, e.Line, e.Field, e.Message}, nil
			}))
		if err != nil {
			return 0, pgdb.Translate(err)
		}
	}
	return n, nil
}

// SetImportTotals implements registry.Store.
func (s *Store) SetImportTotals(ctx context.Context, id uuid.UUID, total, invalid int64) error {
	_, err := s.DB.Exec(ctx, `UPDATE imports SET rows_total = $2, rows_invalid = $3 WHERE id = $1`, id, total, invalid)
	return pgdb.Translate(err)
}

// MaxStagedLine implements registry.Store.
func (s *Store) MaxStagedLine(ctx context.Context, id uuid.UUID) (int64, error) {
	var n int64
	err := s.DB.QueryRow(ctx, `SELECT coalesce(max(line), -1) FROM import_rows WHERE import_id = $1`, id).Scan(&n)
	return n, pgdb.Translate(err)
}

// upsert inserts or updates the citizens of a range of staged rows (matched on the codice
// fiscale among live records), writes their events in the outbox, and returns what it wrote.
// A row whose data is already there is left alone (no new version, no event).
const upsert = `
WITH src AS (
	SELECT r.*, jsonb_strip_nulls(jsonb_build_object(
		'birth_place', jsonb_build_object('belfiore_code', r.birth_place, 'name', r.birth_place_name, 'foreign', r.foreign_birth),
		'citizenship', nullif(r.citizenship, ''),
		'residence', jsonb_build_object('istat_code', $3::text, 'municipality', $4::text, 'address', r.address,
			'postal_code', nullif(r.postal_code, '')))) AS d
	FROM import_rows r WHERE r.import_id = $2 AND r.line BETWEEN $5 AND $6
), up AS (
	INSERT INTO citizens AS c (id, ambito_id, fiscal_code, fiscal_code_canonical, family_name, given_name, sex, birth_date,
		birth_belfiore, residence_istat, status, data, version, created_at, updated_at)
	SELECT src.id, $1, src.fiscal_code, src.canonical, src.family_name, src.given_name, src.sex, src.birth_date, src.birth_place,
		$3, 'alive', src.d || jsonb_build_object('status', 'alive', 'privacy', jsonb_build_object('consents', '[]'::jsonb)), 1, $7, $7
	FROM src
	ON CONFLICT (ambito_id, fiscal_code) WHERE merged_into IS NULL AND fiscal_code IS NOT NULL
	DO UPDATE SET family_name = excluded.family_name, given_name = excluded.given_name, sex = excluded.sex,
		birth_date = excluded.birth_date, birth_belfiore = excluded.birth_belfiore, residence_istat = excluded.residence_istat,
		status = CASE WHEN c.status = 'moved_away' THEN 'alive' ELSE c.status END,
		data = CASE WHEN c.status = 'moved_away' THEN (c.data - 'moved_on' - 'status_source') || (excluded.data - 'privacy')
			ELSE c.data || (excluded.data - 'status' - 'privacy') END,
		version = c.version + 1, updated_at = excluded.updated_at
	WHERE (c.family_name, c.given_name, c.sex, c.birth_date, c.birth_belfiore, c.residence_istat)
		IS DISTINCT FROM (excluded.family_name, excluded.given_name, excluded.sex, excluded.birth_date, excluded.birth_belfiore, excluded.residence_istat)
	   OR c.data->'residence' IS DISTINCT FROM excluded.data->'residence'
	   OR c.data->'citizenship' IS DISTINCT FROM excluded.data->'citizenship'
	   OR c.data->'birth_place' IS DISTINCT FROM excluded.data->'birth_place'
	   OR c.status = 'moved_away'
	RETURNING c.id, c.fiscal_code, c.created_at, (c.version = 1) AS inserted, c.sex, c.birth_date, c.status
), codes AS (
	INSERT INTO citizen_fiscal_codes (citizen_id, fiscal_code, reason, assigned_at)
	SELECT id, fiscal_code, 'import', $7 FROM up WHERE inserted
), ev AS (
	INSERT INTO outbox (id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload)
	SELECT registry_uuidv7(), $1::text, CASE WHEN inserted THEN 'citizen.created' ELSE 'citizen.updated' END, 'citizen', id::text, $7,
		jsonb_build_object('id', id, 'status', status, 'sex', sex, 'birth_year', to_char(birth_date, 'YYYY'),
			'residence_istat', $3::text, 'import_id', $2::uuid)
	FROM up
)
SELECT id, fiscal_code, inserted FROM up`

// markAbsent marks moved away the live residents of a comune that the staged rows of a complete
// extract do not name (neither by their code nor by its canonical form), writes their events,
// and records the count and the marking in the import.
const markAbsent = `
WITH gone AS (
	UPDATE citizens c SET status = 'moved_away', version = c.version + 1, updated_at = $5,
		data = c.data || jsonb_build_object('status', 'moved_away', 'moved_on', $4::text,
			'status_source', jsonb_build_object('kind', 'import', 'import_id', $2::uuid))
	WHERE c.ambito_id = $1 AND c.residence_istat = $3 AND c.status = 'alive' AND c.merged_into IS NULL
	  AND c.fiscal_code IS NOT NULL
	  AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.import_id = $2 AND r.fiscal_code = c.fiscal_code)
	  AND NOT EXISTS (SELECT 1 FROM import_rows r WHERE r.import_id = $2 AND r.canonical = c.fiscal_code_canonical)
	RETURNING c.id, c.fiscal_code, c.sex, c.birth_date
), ev AS (
	INSERT INTO outbox (id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload)
	SELECT registry_uuidv7(), $1::text, 'citizen.updated', 'citizen', id::text, $5,
		jsonb_build_object('id', id, 'status', 'moved_away', 'sex', sex, 'birth_year', to_char(birth_date, 'YYYY'),
			'residence_istat', $3::text, 'import_id', $2::uuid)
	FROM gone
), counted AS (
	UPDATE imports SET moved_away = (SELECT count(*) FROM gone), absent_marked = true WHERE id = $2
)
SELECT id, fiscal_code FROM gone`

// MarkAbsent implements registry.Store.
func (s *Store) MarkAbsent(ctx context.Context, im registry.Import, on registry.Date) (registry.ChunkResult, error) {
	var res registry.ChunkResult
	if _, err := s.DB.Exec(ctx, `SET LOCAL statement_timeout = '10min'`); err != nil {
		return res, pgdb.Translate(err)
	}
	if _, err := s.DB.Exec(ctx, `ANALYZE import_rows`); err != nil {
		return res, pgdb.Translate(err)
	}
	rows, err := s.DB.Query(ctx, markAbsent, im.AmbitoID, im.ID, im.ISTATCode, on, time.Now().UTC())
	if err != nil {
		return res, pgdb.Translate(err)
	}
	for rows.Next() {
		var id uuid.UUID
		var code string
		if err := rows.Scan(&id, &code); err != nil {
			rows.Close()
			return res, pgdb.Translate(err)
		}
		res.ChangedIDs = append(res.ChangedIDs, id)
		res.ChangedCodes = append(res.ChangedCodes, code)
	}
	rows.Close()
	return res, pgdb.Translate(rows.Err())
}

// ApplyChunk implements registry.Store.
func (s *Store) ApplyChunk(ctx context.Context, im registry.Import, municipality string, from, to int64, today registry.Date) (registry.ChunkResult, error) {
	var res registry.ChunkResult
	var staged int64
	if err := s.DB.QueryRow(ctx, `SELECT count(*) FROM import_rows WHERE import_id = $1 AND line BETWEEN $2 AND $3`, im.ID, from, to).Scan(&staged); err != nil {
		return res, pgdb.Translate(err)
	}
	if staged == 0 {
		return res, nil
	}
	// Statistics: without them the planner joins the staged rows to the citizens with nested
	// loops (autovacuum lags behind a bulk load). Once for the staged rows; once more after the
	// first chunk has filled the tables (later chunks only make them bigger).
	if from == 0 {
		if _, err := s.DB.Exec(ctx, `ANALYZE import_rows`); err != nil {
			return res, pgdb.Translate(err)
		}
	}
	// A chunk is a batch job: it may outlast the pool's statement timeout, and its statements
	// over 25,000 rows are where JIT compilation (off for the services' short statements) pays.
	if _, err := s.DB.Exec(ctx, `SET LOCAL statement_timeout = '10min'`); err != nil {
		return res, pgdb.Translate(err)
	}
	if _, err := s.DB.Exec(ctx, `SET LOCAL jit = on`); err != nil {
		return res, pgdb.Translate(err)
	}
	now := time.Now().UTC()
	rows, err := s.DB.Query(ctx, upsert, im.AmbitoID, im.ID, im.ISTATCode, municipality, from, to, now)
	if err != nil {
		return res, pgdb.Translate(err)
	}
	for rows.Next() {
		var id uuid.UUID
		var code string
		var inserted bool
		if err := rows.Scan(&id, &code, &inserted); err != nil {
			rows.Close()
			return res, pgdb.Translate(err)
		}
		if inserted {
			res.Created++
		} else {
			res.Updated++
			res.ChangedIDs = append(res.ChangedIDs, id)
		}
		res.ChangedCodes = append(res.ChangedCodes, code)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return res, pgdb.Translate(err)
	}
	res.Unchanged = staged - res.Created - res.Updated
	if from == 0 {
		if _, err := s.DB.Exec(ctx, `ANALYZE citizens, households, household_members`); err != nil {
			return res, pgdb.Translate(err)
		}
	}

	// Households from the register's family numbers: create the missing ones, end memberships
	// that moved, add or correct the current ones.
	// The batch is prepared before it runs: the temporary table must exist first.
	if _, err := s.DB.Exec(ctx, `CREATE TEMP TABLE IF NOT EXISTS import_members (citizen_id uuid, household_id uuid, relationship text) ON COMMIT DROP`); err != nil {
		return res, pgdb.Translate(err)
	}
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO households (id, ambito_id, residence_istat, family_number, created_at)
		SELECT registry_uuidv7(), $1, $3, fn, $6 FROM (SELECT DISTINCT family_number AS fn FROM import_rows
			WHERE import_id = $2 AND line BETWEEN $4 AND $5 AND family_number <> '') x
		ON CONFLICT (ambito_id, residence_istat, family_number) DO NOTHING`, im.AmbitoID, im.ID, im.ISTATCode, from, to, now)
	// Hash joins only: with statistics taken while the import grows the tables, the planner
	// once nested the whole households table around the chunk's rows (25,000 × 58,000 rows
	// compared, minutes); a hash join of the chunk is a fraction of a second at any size.
	b.Queue(`SET LOCAL enable_nestloop = off`)
	b.Queue(`INSERT INTO import_members
		SELECT c.id, h.id, r.relationship FROM import_rows r
		JOIN citizens c ON c.ambito_id = $1 AND c.fiscal_code = r.fiscal_code AND c.merged_into IS NULL
		JOIN households h ON h.ambito_id = $1 AND h.residence_istat = $3 AND h.family_number = r.family_number
		WHERE r.import_id = $2 AND r.line BETWEEN $4 AND $5 AND r.family_number <> ''`, im.AmbitoID, im.ID, im.ISTATCode, from, to)
	b.Queue(`SET LOCAL enable_nestloop = on`)
	b.Queue(`WITH ended AS (
			UPDATE household_members m SET valid_to = greatest(m.valid_from, $1::date) FROM import_members i
			WHERE m.citizen_id = i.citizen_id AND m.valid_to IS NULL AND m.household_id <> i.household_id RETURNING m.household_id),
		fixed AS (
			UPDATE household_members m SET relationship = i.relationship FROM import_members i
			WHERE m.citizen_id = i.citizen_id AND m.valid_to IS NULL AND m.household_id = i.household_id
			  AND m.relationship <> i.relationship RETURNING m.household_id)
		INSERT INTO import_members (household_id) SELECT household_id FROM ended UNION SELECT household_id FROM fixed`, today)
	b.Queue(`WITH added AS (
			INSERT INTO household_members (id, household_id, citizen_id, relationship, valid_from)
			SELECT registry_uuidv7(), i.household_id, i.citizen_id, i.relationship, $1::date FROM import_members i
			WHERE i.citizen_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM household_members m WHERE m.citizen_id = i.citizen_id AND m.valid_to IS NULL)
			RETURNING household_id)
		INSERT INTO import_members (household_id) SELECT household_id FROM added`, today)
	b.Queue(`WITH changed AS (SELECT DISTINCT household_id FROM import_members WHERE citizen_id IS NULL),
		ev AS (INSERT INTO outbox (id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload)
			SELECT registry_uuidv7(), $1::text, 'household.changed', 'household', household_id::text, $3,
				jsonb_build_object('household_id', household_id, 'import_id', $2::uuid) FROM changed)
		SELECT count(*) FROM changed`, im.AmbitoID, im.ID, now)
	b.Queue(`DROP TABLE import_members`)
	b.Queue(`DELETE FROM import_rows WHERE import_id = $1 AND line BETWEEN $2 AND $3`, im.ID, from, to)
	br := s.DB.SendBatch(ctx, b)
	for i := 0; i < 6; i++ {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return res, pgdb.Translate(err)
		}
	}
	if err := br.QueryRow().Scan(&res.Households); err != nil {
		_ = br.Close()
		return res, pgdb.Translate(err)
	}
	for i := 0; i < 2; i++ {
		if _, err := br.Exec(); err != nil {
			_ = br.Close()
			return res, pgdb.Translate(err)
		}
	}
	return res, pgdb.Translate(br.Close())
}

// LockImport implements registry.Store.
func (s *Store) LockImport(ctx context.Context, id uuid.UUID) (string, error) {
	var status string
	err := s.DB.QueryRow(ctx, `SELECT status FROM imports WHERE id = $1 FOR UPDATE`, id).Scan(&status)
	return status, pgdb.NotFound(err, "import")
}

// ProgressImport implements registry.Store.
func (s *Store) ProgressImport(ctx context.Context, id uuid.UUID, r registry.ChunkResult) error {
	_, err := s.DB.Exec(ctx, `UPDATE imports SET rows_processed = rows_processed + $3 + $4 + $5, created = created + $3,
		updated = updated + $4, unchanged = unchanged + $5, households = households + $6 WHERE id = $1 AND status = $2`,
		id, registry.ImportProcessing, r.Created, r.Updated, r.Unchanged, r.Households)
	return pgdb.Translate(err)
}

// FinishImport implements registry.Store.
func (s *Store) FinishImport(ctx context.Context, id uuid.UUID, failure string) (bool, error) {
	status := registry.ImportCompleted
	if failure != "" {
		status = registry.ImportFailed
	}
	tag, err := s.DB.Exec(ctx, `UPDATE imports SET status = $2, failure = $3, finished_at = now() WHERE id = $1 AND status = $4`,
		id, status, pgdb.Nullable(failure), registry.ImportProcessing)
	if err == nil && failure != "" {
		_, err = s.DB.Exec(ctx, `DELETE FROM import_rows WHERE import_id = $1`, id)
	}
	return err == nil && tag.RowsAffected() == 1, pgdb.Translate(err)
}

// importCols is the select list of an import (scanImport).
const importCols = `id, ambito_id, istat_code, status, rows_total, rows_invalid, rows_processed, created, updated, unchanged,
	households, complete, moved_away, absent_marked, coalesce(failure, ''), created_by, created_by_org, created_by_role, created_at, finished_at`

func scanImport(r pgx.Row, im *registry.Import, more ...any) error {
	return r.Scan(append([]any{&im.ID, &im.AmbitoID, &im.ISTATCode, &im.Status, &im.RowsTotal, &im.RowsInvalid, &im.RowsProcessed,
		&im.Created, &im.Updated, &im.Unchanged, &im.Households, &im.Complete, &im.MovedAway, &im.AbsentMarked, &im.Failure, &im.CreatedBy, &im.CreatedByOrg, &im.CreatedByRole,
		&im.CreatedAt, &im.FinishedAt}, more...)...)
}

// ProcessingImports implements registry.Store.
func (s *Store) ProcessingImports(ctx context.Context) ([]registry.Import, error) {
	rows, err := s.DB.Query(ctx, `SELECT `+importCols+`, (SELECT count(*) FROM import_rows r WHERE r.import_id = imports.id)
		FROM imports WHERE status = $1 ORDER BY created_at`, registry.ImportProcessing)
	if err != nil {
		return nil, pgdb.Translate(err)
	}
	return pgdb.Collect(rows, func(r pgx.Rows, im *registry.Import) error { return scanImport(r, im, &im.Staged) })
}

// GetImport implements registry.Store.
func (s *Store) GetImport(ctx context.Context, ambitoID, id uuid.UUID) (registry.Import, error) {
	var im registry.Import
	err := scanImport(s.DB.QueryRow(ctx, `SELECT `+importCols+` FROM imports WHERE ambito_id = $1 AND id = $2`, ambitoID, id), &im)
	if err != nil {
		return im, pgdb.NotFound(err, "import")
	}
	rows, err := s.DB.Query(ctx, `SELECT line, field, message FROM import_errors WHERE import_id = $1 ORDER BY line, field LIMIT 1000`, id)
	if err != nil {
		return im, pgdb.Translate(err)
	}
	im.Errors, err = pgdb.Collect(rows, func(r pgx.Rows, e *registry.RowError) error { return r.Scan(&e.Line, &e.Field, &e.Message) })
	return im, err
}
