// Package postgres is the intake Store on PostgreSQL (pgx v5).
package postgres

import (
	"context"
	"embed"
	"encoding/json"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/services/intake"
)

//go:embed migrations/*.sql
var migrationFiles embed.FS

// Migrations is the intake schema.
var Migrations = pgdb.Embedded("intake", migrationFiles, "migrations")

// Store implements intake.Store.
type Store struct{ pgdb.Base }

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pgdb.NewBase(pool)} }

var _ intake.Store = (*Store)(nil)

// InTx implements intake.Store; nested calls join the outer transaction.
func (s *Store) InTx(ctx context.Context, fn func(intake.Store) error) error {
	return s.Base.InTx(ctx, func(b pgdb.Base) error { return fn(&Store{b}) })
}

// AppendEvents implements intake.Store.
func (s *Store) AppendEvents(ctx context.Context, evs ...events.Event) error {
	return events.Append(ctx, s.DB, evs...)
}

// unmarshal reads a jsonb column into v.
func unmarshal(raw []byte, v any) error { return json.Unmarshal(raw, v) }
