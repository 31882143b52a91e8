package synth

import (
	"fmt"
	"slices"

	"github.com/csi-lombardia/csi/pkg/places"
)

// Comune is a comune to generate residents of.
type Comune struct {
	ISTAT       string // ISTAT code
	Belfiore    string // Belfiore (cadastral) code: the birthplace of those born there
	Name        string
	PostalCode  string // CAP of its addresses
	Inhabitants int    // residents (rounded): the weight of the comune in an ambito
}

// demoComuni are eight neighbouring comuni north-west of Milan (the area of the real Ambito del
// Rhodense): ISTAT code, postal code, inhabitants.
var demoComuni = []Comune{
	{ISTAT: "015182", PostalCode: "20017", Inhabitants: 51000}, // Rho
	{ISTAT: "015009", PostalCode: "20044", Inhabitants: 19400}, // Arese
	{ISTAT: "015087", PostalCode: "20007", Inhabitants: 20700}, // Cornaredo
	{ISTAT: "015116", PostalCode: "20045", Inhabitants: 25800}, // Lainate
	{ISTAT: "015170", PostalCode: "20016", Inhabitants: 11500}, // Pero
	{ISTAT: "015176", PostalCode: "20005", Inhabitants: 8400},  // Pogliano Milanese
	{ISTAT: "015179", PostalCode: "20006", Inhabitants: 7300},  // Pregnana Milanese
	{ISTAT: "015211", PostalCode: "20019", Inhabitants: 20100}, // Settimo Milanese
}

// DemoComuni returns the eight comuni of the demo ambito, named from the places catalog.
func DemoComuni(cat *places.Catalog) ([]Comune, error) {
	out := slices.Clone(demoComuni)
	for i, c := range out {
		p, ok := cat.ByISTAT(c.ISTAT)
		if !ok {
			return nil, fmt.Errorf("comune %s is not in the places catalog", c.ISTAT)
		}
		out[i].Name, out[i].Belfiore = p.Name, p.Belfiore
	}
	return out, nil
}

// Scale is a size of synthetic data.
type Scale struct {
	Name            string
	Ambiti          int
	ComuniPerAmbito int
	Citizens        int // in all
	Cooperatives    int // per ambito
	Operators       int // cooperative operators per ambito
}

// The two scales of the proof harness: one ambito as large as a real one, and a region.
var (
	AmbitoScale = Scale{Name: "ambito", Ambiti: 1, ComuniPerAmbito: 8, Citizens: 190_000, Cooperatives: 20, Operators: 380}
	RegionScale = Scale{Name: "region", Ambiti: 90, ComuniPerAmbito: 8, Citizens: 1_000_000, Cooperatives: 20, Operators: 380}
)

// Lombard returns n current comuni of Lombardy in ISTAT order, for scales larger than the demo ambito; postal codes are invented but
// well formed, inhabitants equal.
func Lombard(cat *places.Catalog, n int) ([]Comune, error) {
	var out []Comune
	for _, p := range cat.Current(places.Municipality) {
		if p.Region != "Lombardia" || p.ISTAT == "" {
			continue
		}
		out = append(out, Comune{ISTAT: p.ISTAT, Belfiore: p.Belfiore, Name: p.Name, Inhabitants: 10_000})
	}
	slices.SortFunc(out, func(a, b Comune) int {
		switch {
		case a.ISTAT < b.ISTAT:
			return -1
		case a.ISTAT > b.ISTAT:
			return 1
		}
		return 0
	})
	if len(out) < n {
		return nil, fmt.Errorf("the places catalog has %d current comuni of Lombardy, not %d", len(out), n)
	}
	out = out[:n]
	for i := range out {
		out[i].PostalCode = fmt.Sprintf("2%04d", i%10_000)
	}
	return out, nil
}

// Apportion splits total among weights in proportion, by largest remainder.
func Apportion(total int, weights []float64) []int {
	sum := 0.0
	for _, w := range weights {
		sum += w
	}
	out := make([]int, len(weights))
	rem := make([]float64, len(weights))
	given := 0
	for i, w := range weights {
		exact := float64(total) * w / sum
		out[i] = int(exact)
		rem[i] = exact - float64(out[i])
		given += out[i]
	}
	order := make([]int, len(weights))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		switch {
		case rem[a] > rem[b]:
			return -1
		case rem[a] < rem[b]:
			return 1
		}
		return 0
	})
	for k := 0; given < total; k++ {
		out[order[k%len(order)]]++
		given++
	}
	return out
}
