package places

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

func TestDefaultLoads(t *testing.T) {
	c := Default()
	if got, want := c.Len(), 10063; got != want {
		t.Errorf("Len() = %d, want %d (rows of places.csv)", got, want)
	}
	if got, want := len(c.Current(Municipality)), 7896; got != want {
		t.Errorf("len(Current(Municipality)) = %d, want %d", got, want)
	}
	if got, want := len(c.Current(Country)), 216; got != want {
		t.Errorf("len(Current(Country)) = %d, want %d", got, want)
	}
	if Default() != c {
		t.Error("Default() returned a different catalog on the second call")
	}
}

func TestByBelfiore(t *testing.T) {
	milano := Place{
		Belfiore: "F205", ISTAT: "015146", Name: "Milano", Province: "MI", Region: "Lombardia",
		Kind: Municipality, ValidFrom: date(1873, 6, 23), ValidTo: date(9999, 12, 31),
	}
	cunevo := Place{
		Belfiore: "D206", Name: "Cunevo", Province: "TN",
		Kind: Municipality, ValidFrom: date(1920, 10, 16), ValidTo: date(2016, 1, 1),
	}
	usa := Place{
		Belfiore: "Z404", Name: "Stati Uniti d'America",
		Kind: Country, ValidFrom: date(1861, 1, 1), ValidTo: date(9999, 12, 31),
	}
	rome := time.FixedZone("CET", 3600)
	tests := []struct {
		name   string
		code   string
		on     time.Time
		want   Place
		wantOK bool
	}{
		{"Milano on liberation day", "F205", date(1945, 4, 25), milano, true},
		{"lower case and spaces", " f205 ", date(1945, 4, 25), milano, true},
		{"calendar date read in the time's location", "F205", time.Date(1945, 4, 25, 0, 30, 0, 0, rome), milano, true},
		{"Milano on its first day", "F205", date(1873, 6, 23), milano, true},
		{"Milano before valid_from", "F205", date(1873, 6, 22), Place{}, false},
		{"past municipality while valid", "D206", date(1990, 5, 1), cunevo, true},
		{"past municipality on its last day", "D206", date(2015, 12, 31), cunevo, true},
		{"past municipality on the day it ceased", "D206", date(2016, 1, 1), Place{}, false},
		{"past municipality after it ceased", "D206", date(2020, 1, 1), Place{}, false},
		{"country", "Z404", date(1980, 7, 4), usa, true},
		{"unknown code", "N999", date(1980, 1, 1), Place{}, false},
		{"empty code", "", date(1980, 1, 1), Place{}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Default().ByBelfiore(tt.code, tt.on)
			if ok != tt.wantOK {
				t.Fatalf("ByBelfiore(%q, %s) ok = %v, want %v", tt.code, tt.on, ok, tt.wantOK)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ByBelfiore(%q, %s) mismatch (-got +want):\n%s", tt.code, tt.on, diff)
			}
		})
	}
}

func TestBelfioreExists(t *testing.T) {
	tests := []struct {
		code string
		want bool
	}{
		{"F205", true},
		{"d206", true},
		{"Z404", true},
		{"N999", false},
		{"Z999", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := Default().BelfioreExists(tt.code); got != tt.want {
				t.Errorf("BelfioreExists(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestByISTAT(t *testing.T) {
	tests := []struct {
		name     string
		code     string
		wantName string
		wantOK   bool
	}{
		{"Milano", "015146", "Milano", true},
		{"Roma", "058091", "Roma", true},
		{"accented name", "013041", "Cantù", true},
		{"repaired name", "054012", "Città della Pieve", true},
		{"unknown", "999999", "", false},
		{"not a code", "F205", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := Default().ByISTAT(tt.code)
			if ok != tt.wantOK || got.Name != tt.wantName {
				t.Errorf("ByISTAT(%q) = %q, %v, want %q, %v", tt.code, got.Name, ok, tt.wantName, tt.wantOK)
			}
			if ok && !got.Current() {
				t.Errorf("ByISTAT(%q) returned %s, no longer valid", tt.code, got.Belfiore)
			}
		})
	}
}

func names(ps []Place) []string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return out
}

func TestSearch(t *testing.T) {
	tests := []struct {
		name        string
		q           string
		kind        Kind
		currentOnly bool
		limit       int
		want        []string
	}{
		{"exact", "milano", "", true, 0, []string{"Milano"}},
		{"upper case", "MILANO", Municipality, false, 1, []string{"Milano"}},
		{"accented name without accent", "cantu", "", true, 0, []string{"Cantù"}},
		{"accented name with accent", "Forlì", "", true, 0, []string{"Forlì", "Forlì del Sannio", "Forlimpopoli"}},
		{"accent in the query only", "fòrli", "", true, 0, []string{"Forlì", "Forlì del Sannio", "Forlimpopoli"}},
		{"repaired name", "citta della p", "", true, 0, []string{"Città della Pieve"}},
		{"apostrophe as space", "sant angelo lod", "", true, 0, []string{"Sant'Angelo Lodigiano"}},
		{"apostrophe dropped", "santangelo lod", "", true, 0, []string{"Sant'Angelo Lodigiano"}},
		{
			"prefix before word prefix, then by name", "milan", "", false, 4,
			[]string{"Milano", "Cusano Milanino", "Garbagnate Milanese", "Nova Milanese"},
		},
		{"current before past", "aosta", "", false, 0, []string{"Aosta", "Valdigna D'aosta"}},
		{"substring", "ovate", "", false, 0, []string{"Novate Mezzola", "Novate Milanese", "Novate Brianza", "Rovate"}},
		{"past included", "cunevo", "", false, 0, []string{"Cunevo"}},
		{"past left out", "cunevo", "", true, 0, nil},
		{"country", "stati uniti", Country, true, 0, []string{"Stati Uniti d'America"}},
		{"kind filter", "milano", Country, false, 0, nil},
		{"empty query", "  ", "", false, 0, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := names(Default().Search(tt.q, tt.kind, tt.currentOnly, tt.limit))
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Search(%q) mismatch (-got +want):\n%s", tt.q, diff)
			}
		})
	}
}

func TestLoad(t *testing.T) {
	const header = "belfiore_code,istat_code,name,province,region,kind,valid_from,valid_to\n"
	tests := []struct {
		name    string
		csv     string
		wantErr string
	}{
		{"valid", header + "A001,001001,Abc,TO,Piemonte,municipality,1861-03-17,9999-12-31\n", ""},
		{"columns in another order", "name,kind,belfiore_code,istat_code,province,region,valid_to,valid_from\nAbc,country,Z100,,,,9999-12-31,1861-01-01\n", ""},
		{"missing column", "belfiore_code,name\nA001,Abc\n", `header has no "istat_code" column`},
		{"bad code", header + "A01,,Abc,TO,,municipality,1861-03-17,9999-12-31\n", `line 2: invalid belfiore_code "A01"`},
		{"bad kind", header + "A001,,Abc,TO,,town,1861-03-17,9999-12-31\n", `line 2: invalid kind "town"`},
		{"country with a municipal code", header + "A001,,Abc,,,country,1861-03-17,9999-12-31\n", "does not fit kind"},
		{"bad date", header + "A001,,Abc,TO,,municipality,17/03/1861,9999-12-31\n", "line 2: valid_from"},
		{"empty period", header + "A001,,Abc,TO,,municipality,1900-01-01,1900-01-01\n", "is not before valid_to"},
		{
			"overlapping periods",
			header + "A001,,Abc,TO,,municipality,1861-01-01,1930-01-01\nA001,,Abd,TO,,municipality,1929-01-01,9999-12-31\n",
			"belfiore_code A001: overlapping periods",
		},
		{
			"duplicate ISTAT code",
			header + "A001,001001,Abc,TO,,municipality,1861-01-01,9999-12-31\nA002,001001,Abd,TO,,municipality,1861-01-01,9999-12-31\n",
			"istat_code 001001: used by two current municipalities",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Load(strings.NewReader(tt.csv))
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("Load() error = %v, want nil", err)
				}
				if c.Len() != 1 {
					t.Errorf("Len() = %d, want 1", c.Len())
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Load() error = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadTwoPeriods(t *testing.T) {
	const data = "belfiore_code,istat_code,name,province,region,kind,valid_from,valid_to\n" +
		"A001,,Old Name,TO,,municipality,1861-01-01,1930-01-01\n" +
		"A001,001001,New Name,TO,Piemonte,municipality,1930-01-01,9999-12-31\n"
	c, err := Load(strings.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		on   time.Time
		want string
	}{
		{date(1920, 1, 1), "Old Name"},
		{date(1929, 12, 31), "Old Name"},
		{date(1930, 1, 1), "New Name"},
		{date(2020, 1, 1), "New Name"},
		{date(1860, 12, 31), ""},
	}
	if got, want := names(c.History("a001")), []string{"Old Name", "New Name"}; !cmp.Equal(got, want) {
		t.Errorf("History(a001) = %q, want %q", got, want)
	}
	if got := c.History("A002"); got != nil {
		t.Errorf("History(A002) = %v, want nil", got)
	}
	for _, tt := range tests {
		got, _ := c.ByBelfiore("A001", tt.on)
		if got.Name != tt.want {
			t.Errorf("ByBelfiore(A001, %s) = %q, want %q", tt.on.Format(time.DateOnly), got.Name, tt.want)
		}
	}
}

func TestRepairMojibake(t *testing.T) {
	tests := []struct{ in, want string }{
		{"MolliÃ¨res", "Mollières"},
		{"CittÃ\u00a0 della Pieve", "Città della Pieve"},
		{"ContÃ", "Contà"},
		{"Santa Maria la CaritĂ", "Santa Maria la Carità"},
		{"ChÃ¢tillon", "Châtillon"},
		{"Cantù", "Cantù"},
		{"Isole Fær Øer", "Isole Fær Øer"},
		{"Ã\u0100", "Ã\u0100"}, // not Latin-1: left alone
	}
	for _, tt := range tests {
		if got := repairMojibake(tt.in); got != tt.want {
			t.Errorf("repairMojibake(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func TestFold(t *testing.T) {
	tests := []struct{ in, want string }{
		{"Sant'Angelo Lodigiano", "sant angelo lodigiano"},
		{"  Antey-Saint-André ", "antey saint andre"},
		{"Isole Fær Øer", "isole faer oer"},
		{"FORLÌ", "forli"},
		{"'-", ""},
	}
	for _, tt := range tests {
		if got := fold(tt.in); got != tt.want {
			t.Errorf("fold(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

func BenchmarkSearch(b *testing.B) {
	c := Default()
	for b.Loop() {
		c.Search("sant angelo", Municipality, true, 20)
	}
}
