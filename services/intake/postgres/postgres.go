// Package postgres is the intake Store on PostgreSQL (pgx v5).
package postgres

import (
	"embed"
	"encoding/json"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgstore"
	"github.com/csi-lombardia/csi/services/intake"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the intake schema.
var Migrations = pgdb.Embedded("intake", migrationFiles, "migrations")

// Store implements intake.Store.
type Store struct{ pgstore.Store[intake.Store] }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pgstore.New(pool, wrap)} }

// wrap is the store of a transaction (pgstore.Store.InTx).
func wrap(s pgstore.Store[intake.Store]) intake.Store { return &Store{s} }

var _ intake.Store = (*Store)(nil)

// unmarshal reads a jsonb column into v.
func unmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
