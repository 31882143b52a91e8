package pgtest

import (
	"context"
	"strconv"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
)

// Querier runs a query: a pool, a connection or a transaction.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// RowCounts returns the number of rows of every table of the public schema, by table name, in
// one statement. Tests take it before and after something that must not write (a request that
// is refused) and compare.
func RowCounts(tb testing.TB, q Querier) map[string]int64 {
	tb.Helper()
	ctx := context.Background()
	rows, err := q.Query(ctx, `SELECT table_name FROM information_schema.tables
		WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	names, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		tb.Fatalf("list tables: %v", err)
	}
	out := make(map[string]int64, len(names))
	if len(names) == 0 {
		return out
	}
	parts := make([]string, len(names))
	args := make([]any, len(names))
	for i, n := range names {
		args[i] = n
		parts[i] = "SELECT $" + strconv.Itoa(i+1) + "::text, count(*) FROM public." + pgx.Identifier{n}.Sanitize()
	}
	rows, err = q.Query(ctx, strings.Join(parts, " UNION ALL "), args...)
	if err != nil {
		tb.Fatalf("count rows: %v", err)
	}
	defer rows.Close()
	for rows.Next() {
		var name string
		var n int64
		if err := rows.Scan(&name, &n); err != nil {
			tb.Fatalf("count rows: %v", err)
		}
		out[name] = n
	}
	if err := rows.Err(); err != nil {
		tb.Fatalf("count rows: %v", err)
	}
	return out
}
