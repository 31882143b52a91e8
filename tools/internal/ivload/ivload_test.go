package ivload

import (
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
)

// The slots of a calendar never overlap: every visit is its operator's own quarter of an hour,
// and the calendars of the targets do not share a day.
func TestSlotsNeverOverlap(t *testing.T) {
	cals, err := Calendars(WriteOperators*SlotsPerDay, 7000, 300)
	if err != nil {
		t.Fatal(err)
	}
	st := Setup{Operators: make([]uuid.UUID, WriteOperators), WriteAuths: make([]AuthRef, 7)}
	for i := range st.Operators {
		st.Operators[i] = uuid.New()
	}
	seen := map[string]int64{}
	for c, cal := range cals {
		n := int64(cal.Days) * WriteOperators * SlotsPerDay
		for i := range n {
			op := int(i % WriteOperators)
			v, err := st.VisitInput(cal, i)
			if err != nil {
				t.Fatal(err)
			}
			date, start, end := v["date"].(string), v["start"].(string), v["end"].(string)
			if start >= end || start < "06:00" || end > "22:00" {
				t.Fatalf("calendar %d visit %d: %s to %s", c, i, start, end)
			}
			if v["operator_id"] != st.Operators[op] {
				t.Fatalf("visit %d: operator %v, want %v", i, v["operator_id"], st.Operators[op])
			}
			k := string(rune(op)) + date + start
			if j, ok := seen[k]; ok {
				t.Fatalf("calendar %d visit %d: operator %d at %s %s again (visit %d)", c, i, op, date, start, j)
			}
			seen[k] = i
		}
	}
	if first, _ := time.Parse(time.DateOnly, writeFrom); !cals[0].First.Equal(first) || cals[1].First.Sub(cals[0].First) != 3*24*time.Hour {
		t.Errorf("calendars from %s and %s, want %s and 3 days later (one of visits, two of margin)", cals[0].First, cals[1].First, writeFrom)
	}
	if _, err := st.VisitInput(cals[2], int64(cals[2].Days)*WriteOperators*SlotsPerDay); err == nil {
		t.Error("a visit past its calendar: no error")
	}
	if _, err := Calendars(1 << 40); err == nil {
		t.Error("a calendar past the authorizations' period: no error")
	}
}

func TestPartitaIVA(t *testing.T) {
	for _, base := range []string{"0990000001", "0990000002", "1234567890"} {
		if err := codicefiscale.ValidateNumeric(partitaIVA(base)); err != nil {
			t.Errorf("partitaIVA(%s) = %s: %v", base, partitaIVA(base), err)
		}
	}
}

// The visits of batches never share a slot, and consecutive batches share no operator.
func TestBatchSlots(t *testing.T) {
	seen := map[[2]int64]bool{}
	const size = 1000
	for b := range int64(3 * BatchGroups) {
		ops := map[int]bool{}
		for j := range size {
			op, n := BatchSlot(b, j, size, WriteOperators)
			if seen[[2]int64{int64(op), n}] {
				t.Fatalf("batch %d visit %d: operator %d slot %d again", b, j, op, n)
			}
			seen[[2]int64{int64(op), n}] = true
			ops[op] = true
		}
		if len(ops) != WriteOperators/BatchGroups {
			t.Errorf("batch %d: %d operators, want %d", b, len(ops), WriteOperators/BatchGroups)
		}
		if op, _ := BatchSlot(b+1, 0, size, WriteOperators); ops[op] {
			t.Errorf("batches %d and %d share operator %d", b, b+1, op)
		}
	}
}
