// Package audittest helps tests tamper with an audit trail as someone holding the tables'
// owner rights could, to show that verification catches it.
package audittest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// Tamper runs script (several statements allowed) on the audit tables with their append-only
// triggers disabled, and enables them again.
func Tamper(tb testing.TB, pool *pgxpool.Pool, script string) {
	tb.Helper()
	ctx := context.Background()
	full := `ALTER TABLE audit_records DISABLE TRIGGER USER; ALTER TABLE audit_chains DISABLE TRIGGER USER;` + script +
		`; ALTER TABLE audit_records ENABLE TRIGGER USER; ALTER TABLE audit_chains ENABLE TRIGGER USER;`
	if _, err := pool.Exec(ctx, full, pgx.QueryExecModeSimpleProtocol); err != nil {
		tb.Fatalf("tamper with the audit trail: %v", err)
	}
}
