// Package floor is the floor of the load bench: the services' own SQL behind plain net/http and
// a pgx pool, with no framework, no authentication, no validation, no audit, no cache and no
// call to another service. The registry's (Handler): the citizen read by id and the citizen
// create; intake's (IntakeHandler): the access create and the case read by id. What a service
// sustains is measured against what this sustains on the same database; csifloor serves it and
// csibench writes its statements into pgbench scripts, so the three run the very same SQL.
//
// The statements are copied from services/registry/postgres, services/intake/postgres and
// pkg/events (a tool may not import a service's adapter); tests fail when they drift apart.
package floor

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// CitizenCols is the registry's select list of a citizen (citizenCols in services/registry/postgres).
const CitizenCols = `c.id, c.ambito_id, coalesce(c.fiscal_code, ''), coalesce(c.fiscal_code_canonical, ''), c.family_name, c.given_name,
	c.sex, c.birth_date::text, c.status, c.merged_into, c.data, c.version, c.created_at, c.updated_at,
	coalesce((SELECT json_agg(json_build_object('fiscal_code', h.fiscal_code, 'reason', h.reason, 'assigned_at', h.assigned_at,
		'replaced_at', h.replaced_at) ORDER BY h.assigned_at) FROM citizen_fiscal_codes h WHERE h.citizen_id = c.id), '[]')`

// The registry's statements: the read by id (GetCitizen) and the create transaction
// (CitizenIDByFiscalCode, LikelyDuplicates, CreateCitizen, events.Append).
const (
	ReadSQL       = `SELECT ` + CitizenCols + ` FROM citizens c WHERE c.ambito_id = $1 AND c.id = $2`
	ByCodeSQL     = `SELECT id FROM citizens WHERE ambito_id = $1 AND fiscal_code = $2 AND merged_into IS NULL`
	DuplicatesSQL = `WITH q AS (SELECT registry_normalize($2 || ' ' || $3) AS name)
		SELECT c.id, similarity(c.name_norm, q.name) FROM citizens c, q
		WHERE c.ambito_id = $1 AND c.merged_into IS NULL AND c.birth_date = $4::date AND c.name_norm % q.name
		  AND ($5::text IS NULL OR c.birth_belfiore IS NULL OR c.birth_belfiore = $5)
		ORDER BY 2 DESC, c.id LIMIT 10`
	InsertSQL = `INSERT INTO citizens (id, ambito_id, fiscal_code, fiscal_code_canonical, family_name, given_name, sex, birth_date,
		birth_belfiore, residence_istat, status, data, version, created_at, updated_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)`
	InsertCodeSQL  = `INSERT INTO citizen_fiscal_codes (citizen_id, fiscal_code, reason, assigned_at) VALUES ($1, $2, $3, $4)`
	InsertEventSQL = `INSERT INTO outbox (id, ambito_id, type, aggregate_type, aggregate_id, occurred_at, payload)
			VALUES ($1, $2, $3, $4, $5, $6, $7)`
)

// Citizen is a citizen as the floor reads and writes it: the columns, and the record as the
// registry stores it in data.
type Citizen struct {
	ID                  uuid.UUID       `json:"id"`
	AmbitoID            uuid.UUID       `json:"ambito_id"`
	FiscalCode          string          `json:"fiscal_code"`
	FiscalCodeCanonical string          `json:"fiscal_code_canonical"`
	FamilyName          string          `json:"family_name"`
	GivenName           string          `json:"given_name"`
	Sex                 string          `json:"sex"`
	BirthDate           string          `json:"birth_date"`
	BirthBelfiore       *string         `json:"birth_belfiore,omitempty"`
	ResidenceISTAT      *string         `json:"residence_istat,omitempty"`
	Status              string          `json:"status"`
	MergedInto          *uuid.UUID      `json:"merged_into,omitempty"`
	Data                json.RawMessage `json:"data"`
	Version             int64           `json:"version"`
	CreatedAt           time.Time       `json:"created_at"`
	UpdatedAt           time.Time       `json:"updated_at"`
	FiscalCodeHistory   json.RawMessage `json:"fiscal_code_history"`
}

// Handler serves the citizens of one ambito.
type Handler struct {
	Pool   *pgxpool.Pool
	Ambito uuid.UUID
}

// Routes returns the floor's routes: GET /citizens/{id} and POST /citizens.
func (h Handler) Routes() http.Handler {
	mux := http.NewServeMux()
	h.register(mux)
	return mux
}

func (h Handler) register(mux *http.ServeMux) {
	mux.HandleFunc("GET /citizens/{id}", h.read)
	mux.HandleFunc("POST /citizens", h.create)
}

func (h Handler) read(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	var c Citizen
	var birth string
	err = h.Pool.QueryRow(r.Context(), ReadSQL, h.Ambito, id).Scan(&c.ID, &c.AmbitoID, &c.FiscalCode, &c.FiscalCodeCanonical,
		&c.FamilyName, &c.GivenName, &c.Sex, &birth, &c.Status, &c.MergedInto, &c.Data, &c.Version, &c.CreatedAt, &c.UpdatedAt,
		&c.FiscalCodeHistory)
	if errors.Is(err, pgx.ErrNoRows) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	c.BirthDate = birth
	writeJSON(w, http.StatusOK, c)
}

func (h Handler) create(w http.ResponseWriter, r *http.Request) {
	var c Citizen
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&c); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	c.ID, c.AmbitoID, c.Status, c.Version, c.CreatedAt, c.UpdatedAt = uuid.Must(uuid.NewV7()), h.Ambito, "alive", 1, now, now
	if len(c.Data) == 0 {
		c.Data = json.RawMessage("{}")
	}
	status, err := h.insert(r.Context(), c)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	writeJSON(w, http.StatusCreated, c)
}

// insert runs the registry's create transaction.
func (h Handler) insert(ctx context.Context, c Citizen) (int, error) {
	tx, err := h.Pool.Begin(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	var existing uuid.UUID
	switch err := tx.QueryRow(ctx, ByCodeSQL, c.AmbitoID, c.FiscalCode).Scan(&existing); {
	case err == nil:
		return http.StatusConflict, errors.New("a citizen with this fiscal_code exists already")
	case !errors.Is(err, pgx.ErrNoRows):
		return http.StatusInternalServerError, err
	}
	rows, err := tx.Query(ctx, DuplicatesSQL, c.AmbitoID, c.FamilyName, c.GivenName, c.BirthDate, c.BirthBelfiore)
	if err != nil {
		return http.StatusInternalServerError, err
	}
	for rows.Next() {
	}
	if rows.Close(); rows.Err() != nil {
		return http.StatusInternalServerError, rows.Err()
	}
	b := &pgx.Batch{}
	b.Queue(InsertSQL, c.ID, c.AmbitoID, c.FiscalCode, c.FiscalCodeCanonical, c.FamilyName, c.GivenName, c.Sex, c.BirthDate,
		c.BirthBelfiore, c.ResidenceISTAT, c.Status, c.Data, c.Version, c.CreatedAt, c.UpdatedAt)
	b.Queue(InsertCodeSQL, c.ID, c.FiscalCode, "assigned", c.CreatedAt)
	if err := tx.SendBatch(ctx, b).Close(); err != nil {
		return http.StatusInternalServerError, err
	}
	payload, _ := json.Marshal(map[string]any{"id": c.ID, "status": c.Status, "sex": c.Sex, "birth_year": c.BirthDate[:min(4, len(c.BirthDate))]})
	if _, err := tx.Exec(ctx, InsertEventSQL, uuid.Must(uuid.NewV7()), c.AmbitoID.String(), "citizen.created", "citizen",
		c.ID.String(), now(), payload); err != nil {
		return http.StatusInternalServerError, err
	}
	if err := tx.Commit(ctx); err != nil {
		return http.StatusInternalServerError, err
	}
	return http.StatusCreated, nil
}

func now() time.Time { return time.Now().UTC() }

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_, _ = w.Write(b)
}
