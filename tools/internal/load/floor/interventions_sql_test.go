package floor

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// The interventions floor is only a floor if it runs the store's statements: each must appear,
// up to white space, in the store or in pkg/events.
func TestStatementsAreInterventions(t *testing.T) {
	var src string
	for _, p := range []string{"services/interventions/postgres/visits.go", "services/interventions/postgres/authorizations.go",
		"pkg/events/events.go"} {
		b, err := os.ReadFile(filepath.Join(root(t), p))
		if err != nil {
			t.Fatal(err)
		}
		src += squash(string(b))
	}
	tests := []struct{ name, sql string }{
		{"authorization columns", "const cols = `" + AuthorizationCols + "`"},
		{"lock authorizations tail", ` FROM authorizations WHERE ambito_id = $1 AND id = ANY($2::uuid[]) ORDER BY id FOR UPDATE`},
		{"month locks", MonthLocksSQL},
		{"locked months", LockedMonthsSQL},
		{"overlapping", OverlappingSQL},
		{"minutes used", MinutesUsedSQL},
		{"savepoint", SavepointSQL},
		{"rollback to savepoint", RollbackToSQL},
		{"release", ReleaseSQL},
		{"insert", VisitsInsertSQL},
		{"insert event", InsertEventSQL},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if !strings.Contains(src, squash(tc.sql)) {
				t.Errorf("interventions no longer runs %q: copy its statement here again", squash(tc.sql))
			}
		})
	}
}

// What a visits request runs in the service's transaction (recordIn): the authorizations
// locked, the approved months, the overlaps, the minutes used (excess), the insert, the events.
// A change there (another statement, one fewer) must reach the floor too.
func TestTransactionIsInterventions(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "services/interventions/visits.go"))
	if err != nil {
		t.Fatal(err)
	}
	src := string(b)
	_, rec, ok := strings.Cut(src, "func (s *Service) recordIn(")
	if !ok {
		t.Fatal("no recordIn in services/interventions/visits.go")
	}
	rec, _, _ = strings.Cut(rec, "\n}\n")
	_, exc, ok := strings.Cut(src, "func (s *Service) excess(")
	if !ok {
		t.Fatal("no excess in services/interventions/visits.go")
	}
	exc, _, _ = strings.Cut(exc, "\n}\n")
	want := []string{"tx.LockAuthorizations(", "tx.LockedMonths(", "tx.Overlapping(", "s.excess(ctx, tx,", "tx.InsertVisits(", "tx.AppendEvents("}
	for _, call := range want {
		if !strings.Contains(rec, call) {
			t.Errorf("recordIn no longer calls %s: update the floor's visits transaction", call)
		}
	}
	if n := strings.Count(rec, "tx."); n != len(want)-1 {
		t.Errorf("recordIn calls the store %d times, the floor %d: update the floor", n, len(want)-1)
	}
	if n := strings.Count(exc, "tx."); n != 1 || !strings.Contains(exc, "tx.MinutesUsed(") {
		t.Errorf("excess calls the store %d times, or no longer MinutesUsed: update the floor", n)
	}
}
