// Package postgres is the interventions Store on PostgreSQL (pgx v5).
package postgres

import (
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgstore"
	"github.com/csi-lombardia/csi/services/interventions"
)

// Store implements interventions.Store.
type Store struct {
	pgstore.Store[interventions.Store]
}

// New returns a store on pool.
func New(pool *pgxpool.Pool) *Store { return &Store{pgstore.New(pool, wrap)} }

// wrap is the store of a transaction (pgstore.Store.InTx); that it compiles proves *Store
// implements interventions.Store.
func wrap(s pgstore.Store[interventions.Store]) interventions.Store { return &Store{s} }
