// Package postgres is the intake Store on PostgreSQL (pgx v5).
package postgres

import (
	"encoding/json"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgstore"
	"github.com/csi-lombardia/csi/services/intake"
)

// Store implements intake.Store.
type Store struct{ pgstore.Store[intake.Store] }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pgstore.New(pool, wrap)} }

// wrap is the store of a transaction (pgstore.Store.InTx); that it compiles proves *Store
// implements intake.Store.
func wrap(s pgstore.Store[intake.Store]) intake.Store { return &Store{s} }

// unmarshal reads a jsonb column into v.
func unmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
