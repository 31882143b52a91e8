// Package synth generates synthetic but realistic citizens for the demo and the proof harness:
// households of an Italian comune near Milan with plausible names (a few hundred real surnames
// over a long tail of invented ones that sound Italian), ages, birthplaces, foreign-born
// residents with their children, addresses, and valid codici fiscali — omocodic where two people
// would share a code, as the Agenzia delle Entrate does, and a few more. Same seed, same data.
package synth

import (
	"encoding/csv"
	"fmt"
	"io"
	"math"
	"math/rand/v2"
	"time"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/places"
)

// Person is one resident as a population-register extract lists it.
type Person struct {
	FiscalCode   string
	FamilyName   string
	GivenName    string
	Sex          string // M or F
	BirthDate    string // YYYY-MM-DD
	BirthPlace   string // Belfiore code of the comune or country of birth
	Citizenship  string // ISO 3166-1 alpha-2
	Address      string
	PostalCode   string
	FamilyNumber string // the register's household number, unique in the comune
	Relationship string // to the head of the household: head, spouse, child, parent, ...
}

// Columns are the columns of the extract WriteCSV writes (the registry's import format).
var Columns = []string{"fiscal_code", "family_name", "given_name", "sex", "birth_date", "birth_place",
	"citizenship", "address", "postal_code", "family_number", "relationship"}

// WriteCSV writes people as a population-register extract with a header line.
func WriteCSV(w io.Writer, people []Person) error {
	cw := csv.NewWriter(w)
	if err := cw.Write(Columns); err != nil {
		return err
	}
	for _, p := range people {
		if err := cw.Write([]string{p.FiscalCode, p.FamilyName, p.GivenName, p.Sex, p.BirthDate, p.BirthPlace,
			p.Citizenship, p.Address, p.PostalCode, p.FamilyNumber, p.Relationship}); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// Generator makes the residents of the comuni of one ambito: codici fiscali are unique across
// all the comuni it generates, as in one registry. Not safe for concurrent use.
type Generator struct {
	rng      *rand.Rand
	cat      *places.Catalog
	codes    map[string]bool
	today    time.Time
	surnames *zipf
	// OmocodicShare is the share of people given an omocodic code even though their code is
	// free (codes reassigned for historical collisions); collisions are always omocodic.
	OmocodicShare float64
}

// Epoch is the day generated ages are reckoned on unless a caller chooses another: fixed, so
// that the same seed gives the same people on any day.
var Epoch = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// New returns a generator seeded with seed, with birthplaces from cat; people's ages are
// reckoned on today (usually Epoch).
func New(seed uint64, cat *places.Catalog, today time.Time) *Generator {
	rng := rand.New(rand.NewPCG(seed, seed^0x5851f42d4c957f2d))
	return &Generator{rng: rng, cat: cat, codes: map[string]bool{}, today: today,
		surnames: newZipf(rng, len(Surnames)+syntheticSurnames), OmocodicShare: 0.001}
}

// Ambito generates total residents of comuni, apportioned by their inhabitants.
func (g *Generator) Ambito(comuni []Comune, total int) ([][]Person, error) {
	w := make([]float64, len(comuni))
	for i, c := range comuni {
		w[i] = float64(max(c.Inhabitants, 1))
	}
	out := make([][]Person, len(comuni))
	for i, n := range Apportion(total, w) {
		people, err := g.Comune(comuni[i], n)
		if err != nil {
			return nil, err
		}
		out[i] = people
	}
	return out, nil
}

// Comune generates n residents of c in households (the last one cut to size).
func (g *Generator) Comune(c Comune, n int) ([]Person, error) {
	out := make([]Person, 0, n)
	for family := 1; len(out) < n; family++ {
		h, err := g.household(c, family)
		if err != nil {
			return nil, err
		}
		out = append(out, h[:min(len(h), n-len(out))]...)
	}
	return out, nil
}

// householdSizes is the distribution of household sizes in Lombardy (ISTAT, rounded): one in
// three people lives alone.
var householdSizes = []float64{34, 27, 19, 14, 4.5, 1.5}

var streets = []string{"Via Roma", "Via Garibaldi", "Via Mazzini", "Via Manzoni", "Via Dante Alighieri",
	"Via Giuseppe Verdi", "Via Matteotti", "Via XXV Aprile", "Via IV Novembre", "Corso Europa",
	"Via Cavour", "Via Marconi", "Via Papa Giovanni XXIII", "Via Gramsci", "Via Leopardi",
	"Via San Martino", "Via Milano", "Via Torino", "Via Varese", "Via Sempione", "Piazza della Libertà",
	"Via Trento", "Via Trieste", "Via Carducci", "Via Pascoli", "Via Volta", "Via Galilei",
	"Via Don Minzoni", "Via Kennedy", "Via Einaudi", "Via De Gasperi", "Via Moro", "Via Pertini",
	"Via dei Mille", "Via Vittorio Veneto", "Via Repubblica", "Via Padre Reina", "Via Capuana",
	"Via Montenapoleone", "Via Madonna", "Via Cadorna", "Via Battisti", "Via Filzi", "Via Sauro",
	"Via Oberdan", "Via Petrarca", "Via Foscolo", "Via Ariosto", "Via Tasso", "Via Monti"}

type member struct {
	rel    string
	sex    codicefiscale.Sex
	birth  time.Time
	family string // surname; empty: the household's
}

// household makes one household of c numbered family.
func (g *Generator) household(c Comune, family int) ([]Person, error) {
	size := 1 + pickWeighted(g.rng, householdSizes)
	var members []member
	head := member{rel: "head", sex: codicefiscale.Male}
	var age int
	if size == 1 {
		age = 22 + int(math.Abs(g.rng.NormFloat64())*30) // single people are older
		if age > 100 {
			age = 100
		}
		if g.rng.IntN(100) < 58 {
			head.sex = codicefiscale.Female
		}
	} else {
		age = 28 + g.rng.IntN(45)
		if g.rng.IntN(100) < 22 {
			head.sex = codicefiscale.Female
		}
	}
	head.birth = g.birthDate(age)
	members = append(members, head)
	left := size - 1
	if left > 0 && (size > 2 || g.rng.IntN(100) < 75) {
		rel := "spouse"
		if g.rng.IntN(100) < 18 {
			rel = "partner"
		}
		other := codicefiscale.Female
		if head.sex == codicefiscale.Female {
			other = codicefiscale.Male
		}
		members = append(members, member{rel: rel, sex: other, birth: g.birthDate(max(18, age-3+g.rng.IntN(7))), family: "-"})
		left--
	}
	for ; left > 0; left-- {
		switch r := g.rng.IntN(100); {
		case r < 88 && age >= 38:
			childAge := g.rng.IntN(min(age-20, 30))
			members = append(members, member{rel: "child", sex: g.sex(), birth: g.birthDate(childAge)})
		case r < 94 && age < 60:
			members = append(members, member{rel: "parent", sex: g.sex(), birth: g.birthDate(min(100, age+22+g.rng.IntN(12))), family: "-"})
		case r < 97:
			members = append(members, member{rel: "other_relative", sex: g.sex(), birth: g.birthDate(g.rng.IntN(80)), family: "-"})
		default:
			members = append(members, member{rel: "cohabitant", sex: g.sex(), birth: g.birthDate(18 + g.rng.IntN(50)), family: "-"})
		}
	}

	origin := g.origin()
	surname := g.surname(origin)
	address := fmt.Sprintf("%s %d", streets[g.rng.IntN(len(streets))], 1+g.rng.IntN(120))
	if g.rng.IntN(100) < 40 {
		address += "/" + string(rune('A'+g.rng.IntN(4)))
	}
	number := fmt.Sprintf("%07d", family)
	if size == 1 && g.rng.IntN(100) < 3 {
		number = "" // no family number on this line of the extract: a household of one
	}
	out := make([]Person, 0, len(members))
	for _, m := range members {
		fam := surname
		if m.family == "-" {
			fam = g.surname(origin)
		}
		given := g.givenName(origin, m.sex)
		place, citizenship := g.birthplace(c, origin, m)
		p, err := g.person(fam, given, m.sex, m.birth, place)
		if err != nil {
			return nil, err
		}
		p.Citizenship, p.Address, p.PostalCode, p.FamilyNumber, p.Relationship = citizenship, address, c.PostalCode, number, m.rel
		if number == "" {
			p.Relationship = ""
		}
		out = append(out, p)
	}
	return out, nil
}

func (g *Generator) sex() codicefiscale.Sex {
	if g.rng.IntN(2) == 0 {
		return codicefiscale.Female
	}
	return codicefiscale.Male
}

// birthDate is a day in the year of someone aged age today.
func (g *Generator) birthDate(age int) time.Time {
	end := g.today.AddDate(-age, 0, 0)
	return end.AddDate(0, 0, -g.rng.IntN(365)).Truncate(24 * time.Hour)
}

// origin is nil for Italian households (88%), else a foreign origin by its share.
func (g *Generator) origin() *Origin {
	if g.rng.IntN(100) < 88 {
		return nil
	}
	total := 0
	for _, o := range ForeignOrigins {
		total += o.Share
	}
	n := g.rng.IntN(total)
	for i := range ForeignOrigins {
		if n < ForeignOrigins[i].Share {
			return &ForeignOrigins[i]
		}
		n -= ForeignOrigins[i].Share
	}
	return &ForeignOrigins[0]
}

// syntheticSurnames is the size of the long tail of invented surnames after the real ones.
const syntheticSurnames = 24 * 5 * 12 * 21

var (
	onsets = []string{"B", "C", "D", "F", "G", "L", "M", "N", "P", "R", "S", "T", "V", "Z", "Br", "Cr",
		"Fr", "Gr", "Pr", "Tr", "Sc", "Sp", "Bi", "Ca"}
	vowels = []string{"a", "e", "i", "o", "u"}
	codas  = []string{"r", "l", "n", "s", "t", "z", "ss", "tt", "rr", "ll", "nn", "g"}
	ends   = []string{"etti", "ini", "oni", "ari", "elli", "ucci", "azzi", "otti", "ino", "one", "esi",
		"aghi", "ati", "ani", "ola", "oli", "ieri", "engo", "aschi", "ardi", "ona"}
)

// surname draws a surname: Italian ones from a Zipf law over the real list and then the
// invented tail (a few surnames are very common, most are rare), foreign ones from the origin.
func (g *Generator) surname(o *Origin) string {
	if o != nil {
		return o.Surnames[g.rng.IntN(len(o.Surnames))]
	}
	i := g.surnames.next()
	if i < len(Surnames) {
		return Surnames[i]
	}
	i -= len(Surnames)
	s := onsets[i%len(onsets)]
	i /= len(onsets)
	s += vowels[i%len(vowels)]
	i /= len(vowels)
	s += codas[i%len(codas)]
	i /= len(codas)
	return s + ends[i%len(ends)]
}

func (g *Generator) givenName(o *Origin, sex codicefiscale.Sex) string {
	var list []string
	switch {
	case o != nil && sex == codicefiscale.Female:
		list = o.Female
	case o != nil:
		list = o.Male
	case sex == codicefiscale.Female:
		list = FemaleNames
	default:
		list = MaleNames
	}
	name := list[g.rng.IntN(len(list))]
	if o == nil && g.rng.IntN(100) < 6 { // a second given name
		second := list[g.rng.IntN(len(list))]
		if second != name {
			name += " " + second
		}
	}
	return name
}

// birthplace is where someone was born and their citizenship: the foreign-born abroad and their
// children born here in Italy mostly; Italians in the comune's hospital towns, Lombardy or
// the rest of Italy.
func (g *Generator) birthplace(c Comune, o *Origin, m member) (belfiore, citizenship string) {
	age := g.today.Year() - m.birth.Year()
	if o != nil {
		if m.rel == "child" && age < 20 && g.rng.IntN(100) < 70 {
			return g.localBirthplace(c), o.Country
		}
		return o.Belfiore, o.Country
	}
	switch r := g.rng.IntN(100); {
	case r < 45:
		return g.localBirthplace(c), "IT"
	case r < 75:
		return g.comune(LombardBirthplaces), "IT"
	default:
		return g.comune(ItalianBirthplaces), "IT"
	}
}

// localBirthplace is the comune itself, or Milan or Rho, where the hospitals are.
func (g *Generator) localBirthplace(c Comune) string {
	switch g.rng.IntN(10) {
	case 0, 1, 2:
		if c.Belfiore != "" {
			return c.Belfiore
		}
		return "H264"
	case 3, 4, 5:
		return "H264" // Rho
	default:
		return "F205" // Milano
	}
}

func (g *Generator) comune(istat []string) string {
	p, ok := g.cat.ByISTAT(istat[g.rng.IntN(len(istat))])
	if !ok {
		return "F205"
	}
	return p.Belfiore
}

// person computes a free codice fiscale: a code already taken gets its next omocodic variant.
func (g *Generator) person(family, given string, sex codicefiscale.Sex, birth time.Time, belfiore string) (Person, error) {
	if _, ok := g.cat.ByBelfiore(belfiore, birth); !ok {
		belfiore = "F205" // a comune created after the birth: born in Milan instead
	}
	code, err := codicefiscale.Compute(family, given, birth, sex, belfiore)
	if err != nil {
		return Person{}, fmt.Errorf("codice fiscale of %s %s: %w", given, family, err)
	}
	n := 0
	if g.rng.Float64() < g.OmocodicShare {
		n = 1
	}
	for cand := code; ; n++ {
		if n > 0 {
			if n > 7 {
				return Person{}, fmt.Errorf("no free codice fiscale for %s %s born %s", given, family, birth.Format(time.DateOnly))
			}
			if cand, err = codicefiscale.Omocode(code, n); err != nil {
				return Person{}, err
			}
		}
		if !g.codes[cand] {
			g.codes[cand] = true
			code = cand
			break
		}
	}
	return Person{FiscalCode: code, FamilyName: family, GivenName: given, Sex: string(sex),
		BirthDate: birth.Format(time.DateOnly), BirthPlace: belfiore}, nil
}

// pickWeighted returns an index of w with probability proportional to its weight.
func pickWeighted(r *rand.Rand, w []float64) int {
	sum := 0.0
	for _, x := range w {
		sum += x
	}
	x := r.Float64() * sum
	for i, v := range w {
		if x < v {
			return i
		}
		x -= v
	}
	return len(w) - 1
}

// zipf draws ranks 0..n-1 with probability proportional to 1/(rank+10)^0.9: flatter at the top
// than a pure Zipf law, as surname frequencies are (Rossi is 0.3% of Lombardy, not 10%).
type zipf struct {
	rng *rand.Rand
	cdf []float64
}

func newZipf(r *rand.Rand, n int) *zipf {
	cdf := make([]float64, n)
	sum := 0.0
	for i := range cdf {
		sum += 1 / math.Pow(float64(i+10), 0.9)
		cdf[i] = sum
	}
	for i := range cdf {
		cdf[i] /= sum
	}
	return &zipf{rng: r, cdf: cdf}
}

func (z *zipf) next() int {
	x := z.rng.Float64()
	lo, hi := 0, len(z.cdf)-1
	for lo < hi {
		mid := (lo + hi) / 2
		if z.cdf[mid] < x {
			lo = mid + 1
		} else {
			hi = mid
		}
	}
	return lo
}
