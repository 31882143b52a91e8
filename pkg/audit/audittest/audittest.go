// Package audittest helps tests tamper with an audit trail as someone holding the tables'
// owner rights could, to show that verification catches it.
package audittest

import (
	"context"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/csi-lombardia/csi/pkg/audit"
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

// CheckMarks fails tb unless every record of a served trail is marked ok, but broken's, which
// is marked broken with its problem.
func CheckMarks(tb testing.TB, trail []audit.Record, broken uuid.UUID) {
	tb.Helper()
	for _, r := range trail {
		want := audit.IntegrityOK
		if r.ID == broken {
			want = audit.IntegrityBroken
		}
		if r.Integrity != want || (want == audit.IntegrityBroken) != (r.IntegrityProblem != "") {
			tb.Errorf("record %s %s: integrity %q (%q), want %q", r.ID, r.Action, r.Integrity, r.IntegrityProblem, want)
		}
	}
}

// CheckNamed fails tb unless the verification found one problem: a hash mismatch of record
// broken, in the caller's ambito.
func CheckNamed(tb testing.TB, v audit.VerifyResponse, broken uuid.UUID) {
	tb.Helper()
	if v.OK || len(v.Problems) != 1 {
		tb.Fatalf("after tampering: %+v", v)
	}
	if p := v.Problems[0]; p.RecordID != broken.String() || p.What != audit.ProblemHashMismatch || p.Scope != audit.ScopeAmbito {
		tb.Errorf("problem %+v, want a hash mismatch of record %s in the caller's ambito", p, broken)
	}
}
