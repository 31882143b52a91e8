package synth_test

import (
	"bytes"
	"encoding/csv"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/tools/internal/synth"
)

var today = time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC)

func generate(t *testing.T, seed uint64, total int) [][]synth.Person {
	t.Helper()
	cat := places.Default()
	comuni, err := synth.DemoComuni(cat)
	if err != nil {
		t.Fatal(err)
	}
	g := synth.New(seed, cat, today)
	g.OmocodicShare = 0.01
	out, err := g.Ambito(comuni, total)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func TestSameSeedSameData(t *testing.T) {
	a, b := generate(t, 7, 3000), generate(t, 7, 3000)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Fatalf("two runs with seed 7 differ (-first +second):\n%s", diff)
	}
	if c := generate(t, 8, 3000); cmp.Equal(a, c) {
		t.Fatal("seeds 7 and 8 made the same data")
	}
}

// TestPeopleAreValid checks every generated person the way the registry will: a code that
// parses, agrees with the birth date, sex and birthplace, and is nobody else's.
func TestPeopleAreValid(t *testing.T) {
	const total = 20_000
	cat := places.Default()
	comuni := generate(t, 1, total)
	codes := map[string]bool{}
	surnames := map[string]int{}
	var n, omocodic, foreign, children int
	households := map[string]int{}
	for i, people := range comuni {
		if got, want := len(people), synth.Apportion(total, weights(t))[i]; got != want {
			t.Errorf("comune %d has %d people, want %d", i, got, want)
		}
		for _, p := range people {
			n++
			if codes[p.FiscalCode] {
				t.Fatalf("%s given twice", p.FiscalCode)
			}
			codes[p.FiscalCode] = true
			c, err := codicefiscale.Parse(p.FiscalCode, cat)
			if err != nil {
				t.Fatalf("%+v: %v", p, err)
			}
			birth, err := time.Parse(time.DateOnly, p.BirthDate)
			if err != nil {
				t.Fatal(err)
			}
			if m := c.Matches(birth, codicefiscale.Sex(p.Sex[0]), p.BirthPlace); len(m) > 0 {
				t.Fatalf("%+v: the code disagrees on %v", p, m)
			}
			if !birth.Before(today) {
				t.Fatalf("%+v is born in the future", p)
			}
			if c.Value != c.Canonical {
				omocodic++
			}
			if p.Citizenship != "IT" {
				foreign++
			}
			if today.Sub(birth) < 18*365*24*time.Hour {
				children++
			}
			surnames[p.FamilyName]++
			if p.FamilyNumber != "" {
				households[people[0].PostalCode+p.FamilyNumber]++
			}
			if p.Address == "" || len(p.PostalCode) != 5 {
				t.Fatalf("%+v has no address", p)
			}
		}
	}
	// Loose bounds on the shape of the population: they fail if a distribution breaks.
	for _, c := range []struct {
		what          string
		got, min, max int
	}{
		{"omocodic codes (1% asked)", omocodic, total / 200, total / 50},
		{"foreign citizens", foreign, total / 20, total / 4},
		{"minors", children, total / 10, total / 3},
		{"distinct surnames", len(surnames), total / 5, total},
		{"households", len(households), total / 4, total / 2},
	} {
		if c.got < c.min || c.got > c.max {
			t.Errorf("%s: %d, want %d–%d", c.what, c.got, c.min, c.max)
		}
	}
	top := 0
	for _, k := range surnames {
		top = max(top, k)
	}
	if top > total/50 {
		t.Errorf("the commonest surname has %d people of %d: too common", top, total)
	}
}

func weights(t *testing.T) []float64 {
	comuni, err := synth.DemoComuni(places.Default())
	if err != nil {
		t.Fatal(err)
	}
	var w []float64
	for _, c := range comuni {
		w = append(w, float64(c.Inhabitants))
	}
	return w
}

func TestWriteCSV(t *testing.T) {
	people := generate(t, 3, 50)[0]
	var b bytes.Buffer
	if err := synth.WriteCSV(&b, people); err != nil {
		t.Fatal(err)
	}
	recs, err := csv.NewReader(&b).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(recs[0], synth.Columns); diff != "" {
		t.Errorf("header (-got +want):\n%s", diff)
	}
	if len(recs) != len(people)+1 || recs[1][0] != people[0].FiscalCode || recs[1][9] != people[0].FamilyNumber {
		t.Errorf("got %d records starting %q, want %d starting %s", len(recs), recs[1], len(people)+1, people[0].FiscalCode)
	}
}

func TestLombard(t *testing.T) {
	cs, err := synth.Lombard(places.Default(), 720)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.ISTAT] || c.Belfiore == "" || len(c.PostalCode) != 5 {
			t.Fatalf("bad or repeated comune %+v", c)
		}
		seen[c.ISTAT] = true
	}
}
