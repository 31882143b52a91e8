package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// Two other ways of sending a batch, which BenchmarkSend and BenchmarkAppend compare with send's
// pipeline of two statements: sendStatement in one statement, sendCopy with COPY.

// recordColumns are the columns of audit_records in the order sendCopy gives them.
var recordColumns = []string{"chain_id", "seq", "id", "occurred_at", "request_id", "actor_id", "actor_org",
	"actor_role", "ambito_id", "action", "resource_type", "resource_id", "citizen_id", "purpose", "outcome",
	"details", "prev_hash", "hash"}

// sendCopy is send with COPY, in an explicit transaction.
func (l *Log) sendCopy(ctx context.Context, rows []row, to head) error {
	tx, err := l.pool.Begin(ctx)
	if err != nil {
		return err
	}
	defer tx.Rollback(ctx) //nolint:errcheck // after Commit it does nothing
	src := pgx.CopyFromSlice(len(rows), func(i int) ([]any, error) {
		r := &rows[i]
		null := func(s string) any {
			if s == "" {
				return nil
			}
			return s
		}
		return []any{l.chainID, r.seq, r.id, r.occurredAt, r.requestID, r.actorID, r.actorOrg, r.actorRole,
			r.ambitoID, r.action, r.resourceType, r.resourceID, null(r.citizenID), null(r.purpose), r.outcome,
			null(r.details), r.prevHash, r.hash}, nil
	})
	n, err := tx.CopyFrom(ctx, pgx.Identifier{"audit_records"}, recordColumns, src)
	if err != nil {
		return err
	}
	if n != int64(len(rows)) {
		return fmt.Errorf("copied %d audit records instead of %d", n, len(rows))
	}
	if _, err := tx.Exec(ctx, upsertHead, l.chainID, l.started, to.seq, to.hash); err != nil {
		return err
	}
	return tx.Commit(ctx)
}

// appendBatch inserts a batch's records and moves the chain head, in one statement: the records
// come as one array per column (unnest), and the head (created with the chain's first batch) is
// written by the outer INSERT, which returns how many records the inner one inserted. One
// statement in autocommit is one implicit transaction: the records and the head commit together.
const appendBatch = `WITH ins AS (` + insertRecords + `
	RETURNING 1
)
INSERT INTO audit_chains (chain_id, started_at, head_seq, head_hash) VALUES ($1, $19, $20, $21)
ON CONFLICT (chain_id) DO UPDATE SET head_seq = EXCLUDED.head_seq, head_hash = EXCLUDED.head_hash
RETURNING (SELECT count(*) FROM ins)`

// sendStatement is send in one statement: appendBatch.
func (l *Log) sendStatement(ctx context.Context, rows []row, to head) error {
	args := append(l.columns(rows), l.started, to.seq, to.hash)
	var inserted int64
	err := l.pool.QueryRow(ctx, appendBatch, args...).Scan(&inserted)
	if err == nil && inserted != int64(len(rows)) {
		err = fmt.Errorf("inserted %d audit records instead of %d", inserted, len(rows))
	}
	return err
}

// BenchmarkSend measures one batch's round trip to the real PostgreSQL, commit included, for
// each way of sending it and several batch sizes, in records per second of one committer.
func BenchmarkSend(b *testing.B) {
	for _, mode := range []struct {
		name string
		mode string
	}{{"statement", "statement"}, {"pipeline", "pipeline"}, {"copy", "copy"}} {
		b.Run("send="+mode.name, func(b *testing.B) {
			pool := pgtest.New(b, Migrations)
			for _, n := range []int{1, 32, 256, 1024} {
				b.Run(fmt.Sprintf("records=%d", n), func(b *testing.B) {
					ctx := context.Background()
					l := New(pool, WithSendMode(mode.mode))
					defer l.Close(ctx) //nolint:errcheck // nothing queued
					recs := make([]Record, n)
					for i := range recs {
						recs[i] = Record{RequestID: fmt.Sprintf("req-%d", i), ActorID: "op-1", ActorOrg: "comune-bergamo",
							ActorRole: "social_worker", AmbitoID: "ambito-1", Action: "read", ResourceType: "citizen",
							ResourceID: fmt.Sprintf("citizen-%d", i), CitizenID: fmt.Sprintf("citizen-%d", i),
							Purpose: "presa in carico", Outcome: OutcomeSuccess, Details: map[string]any{"fields": []string{"residence"}}}
					}
					rows, err := prepare(recs)
					if err != nil {
						b.Fatal(err)
					}
					start := time.Now()
					for b.Loop() {
						to := chain(l.chainID, l.head, rows)
						if err := l.send(ctx, rows, to); err != nil {
							b.Fatal(err)
						}
						l.head = to
					}
					b.ReportMetric(float64(b.N*n)/time.Since(start).Seconds(), "records/s")
				})
			}
			rep, err := Verify(context.Background(), pool)
			if err != nil || !rep.OK() {
				b.Fatalf("verify after %s: %+v, %v", mode.name, rep.Problems, err)
			}
		})
	}
}
