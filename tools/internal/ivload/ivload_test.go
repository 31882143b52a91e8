package ivload

import (
	"testing"
	"time"
)

// The slots of a calendar never overlap: every visit is its operator's own quarter of an hour,
// and the calendars of the targets do not share a day.
func TestSlotsNeverOverlap(t *testing.T) {
	cals, err := Calendars(WriteOperators*SlotsPerDay, 7000, 300)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int64{}
	for c, cal := range cals {
		n := int64(cal.Days) * WriteOperators * SlotsPerDay
		for i := range n {
			op, date, start, end := slot(cal.First, WriteOperators, i)
			if start >= end || start < "06:00" || end > "22:00" {
				t.Fatalf("calendar %d visit %d: %s to %s", c, i, start, end)
			}
			k := string(rune(op)) + date + start
			if j, ok := seen[k]; ok {
				t.Fatalf("calendar %d visit %d: operator %d at %s %s again (visit %d)", c, i, op, date, start, j)
			}
			seen[k] = i
		}
	}
	if first, _ := time.Parse(time.DateOnly, writeFrom); !cals[0].First.Equal(first) || cals[1].First.Sub(cals[0].First) != 24*time.Hour {
		t.Errorf("calendars from %s and %s, want %s and the next day", cals[0].First, cals[1].First, writeFrom)
	}
	if _, err := Calendars(1 << 40); err == nil {
		t.Error("a calendar past the authorizations' period: no error")
	}
}
