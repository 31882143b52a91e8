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

// intake's statements, copied from services/intake/postgres: the access create (Taxonomy, the
// latest version of the ambito's needs taxonomy, read before the transaction; then CreateAccess
// and events.Append in one transaction) and the case read by id (GetCase).
const (
	TaxonomySQL = `SELECT data FROM needs_taxonomies WHERE ambito_id = $1 AND ($2 = 0 OR version = $2)
		ORDER BY version DESC LIMIT 1`
	AccessInsertSQL = `INSERT INTO accesses (id, ambito_id, istat_code, access_date, citizen_id, outcome, recorded_by, data, version,
		created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	// CaseCols is intake's select list of a case (caseCols): the record, the status history and
	// the transfers.
	CaseCols = `c.data, c.version, c.created_at, c.updated_at,
	coalesce((SELECT json_agg(json_build_object('status', h.status, 'reason', h.reason, 'on', h.on_date::text, 'by', h.by_operator, 'at', h.at)
		ORDER BY h.id) FROM case_status_history h WHERE h.case_id = c.id), '[]'),
	coalesce((SELECT json_agg(t.data ORDER BY t.at, t.id) FROM case_transfers t WHERE t.case_id = c.id), '[]')`
	CaseReadSQL = `SELECT ` + CaseCols + ` FROM cases c WHERE c.ambito_id = $1 AND c.id = $2`
)

// Access is an access as the floor writes it: the columns intake fills, and the record as
// intake stores it in data (the access without its version).
type Access struct {
	ID         uuid.UUID       `json:"id"`
	AmbitoID   uuid.UUID       `json:"ambito_id"`
	ISTATCode  string          `json:"istat_code"`
	Date       string          `json:"access_date"`
	CitizenID  *uuid.UUID      `json:"citizen_id,omitempty"`
	Outcome    *string         `json:"outcome,omitempty"`
	RecordedBy string          `json:"recorded_by"`
	Data       json.RawMessage `json:"data"`
	Version    int64           `json:"version"`
	CreatedAt  time.Time       `json:"created_at"`
	UpdatedAt  time.Time       `json:"updated_at"`
}

// Case is a case as the floor reads it: the record, its version and times, the status history
// and the transfers, as PostgreSQL returns them.
type Case struct {
	Data          json.RawMessage `json:"data"`
	Version       int64           `json:"version"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	StatusHistory json.RawMessage `json:"status_history"`
	Transfers     json.RawMessage `json:"transfers"`
}

// IntakeHandler serves the accesses and cases of one ambito on intake's database.
type IntakeHandler struct {
	Pool   *pgxpool.Pool
	Ambito uuid.UUID
}

// Routes returns the routes: POST /accesses and GET /cases/{id}.
func (h IntakeHandler) Routes() http.Handler {
	mux := http.NewServeMux()
	h.register(mux)
	return mux
}

func (h IntakeHandler) register(mux *http.ServeMux) {
	mux.HandleFunc("POST /accesses", h.createAccess)
	mux.HandleFunc("GET /cases/{id}", h.readCase)
}

func (h IntakeHandler) createAccess(w http.ResponseWriter, r *http.Request) {
	var a Access
	if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 1<<20)).Decode(&a); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	a.ID, a.AmbitoID, a.Version, a.CreatedAt, a.UpdatedAt = uuid.Must(uuid.NewV7()), h.Ambito, 1, now, now
	if len(a.Data) == 0 {
		a.Data = json.RawMessage("{}")
	}
	status, err := h.insertAccess(r.Context(), a)
	if err != nil {
		http.Error(w, err.Error(), status)
		return
	}
	writeJSON(w, http.StatusCreated, a)
}

// insertAccess runs what intake runs for an access create: the taxonomy read, then the
// access and its event in one transaction.
func (h IntakeHandler) insertAccess(ctx context.Context, a Access) (int, error) {
	var tax []byte
	if err := h.Pool.QueryRow(ctx, TaxonomySQL, a.AmbitoID, 0).Scan(&tax); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return http.StatusInternalServerError, err
	}
	tx, err := h.Pool.Begin(ctx)
	if err != nil {
		return http.StatusServiceUnavailable, err
	}
	defer tx.Rollback(context.WithoutCancel(ctx)) //nolint:errcheck // no-op after commit
	if _, err := tx.Exec(ctx, AccessInsertSQL, a.ID, a.AmbitoID, a.ISTATCode, a.Date, a.CitizenID, a.Outcome, a.RecordedBy, a.Data,
		a.Version, a.CreatedAt, a.UpdatedAt); err != nil {
		return http.StatusInternalServerError, err
	}
	payload, _ := json.Marshal(map[string]any{"id": a.ID, "date": a.Date, "istat_code": a.ISTATCode, "anonymous": a.CitizenID == nil,
		"citizen_id": a.CitizenID})
	if _, err := tx.Exec(ctx, InsertEventSQL, uuid.Must(uuid.NewV7()), a.AmbitoID.String(), "access.recorded", "access",
		a.ID.String(), now(), payload); err != nil {
		return http.StatusInternalServerError, err
	}
	if err := tx.Commit(ctx); err != nil {
		return http.StatusInternalServerError, err
	}
	return http.StatusCreated, nil
}

func (h IntakeHandler) readCase(w http.ResponseWriter, r *http.Request) {
	id, err := uuid.Parse(r.PathValue("id"))
	if err != nil {
		http.Error(w, "bad id", http.StatusBadRequest)
		return
	}
	var c Case
	err = h.Pool.QueryRow(r.Context(), CaseReadSQL, h.Ambito, id).Scan(&c.Data, &c.Version, &c.CreatedAt, &c.UpdatedAt,
		&c.StatusHistory, &c.Transfers)
	if errors.Is(err, pgx.ErrNoRows) {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	writeJSON(w, http.StatusOK, c)
}

// Mux serves the floors given (nil: not served) on one mux: the registry's /citizens routes,
// intake's /accesses and /cases routes and interventions' /visits routes.
func Mux(registry *Handler, intake *IntakeHandler, interventions *InterventionsHandler) http.Handler {
	mux := http.NewServeMux()
	if registry != nil {
		registry.register(mux)
	}
	if intake != nil {
		intake.register(mux)
	}
	if interventions != nil {
		interventions.register(mux)
	}
	return mux
}
