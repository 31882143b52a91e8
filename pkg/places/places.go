// Package places is the reference data of Italian municipalities (since 1861) and foreign
// countries: their Belfiore (cadastral) codes, the ISTAT codes of current municipalities and the
// period in which each code was valid. The data ships embedded in the package (places.csv, see
// README.md for its sources and licences); Default returns it parsed.
//
// Dates are civil dates held in a time.Time at midnight UTC.
package places

import (
	"bytes"
	_ "embed"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// Kind tells a municipality from a foreign country. The zero Kind matches both in Search and
// Current.
type Kind string

const (
	// Municipality is an Italian comune, present or past (Belfiore codes A001…M999).
	Municipality Kind = "municipality"
	// Country is a foreign country (Belfiore codes Z...).
	Country Kind = "country"
)

// Place is one Belfiore code with the period in which it was valid.
type Place struct {
	// Belfiore is the cadastral code, the characters 12–15 of a codice fiscale.
	Belfiore string `json:"belfiore_code"`
	// ISTAT is the six-digit ISTAT code of a current municipality; empty for past
	// municipalities, for countries and for a few current municipalities the sources disagree on.
	ISTAT string `json:"istat_code,omitempty"`
	// Name is the official name.
	Name string `json:"name"`
	// Province is the two-letter province abbreviation; empty for countries.
	Province string `json:"province,omitempty"`
	// Region is the region of a current municipality.
	Region string `json:"region,omitempty"`
	// Kind is Municipality or Country.
	Kind Kind `json:"kind"`
	// ValidFrom is the first day the code was valid.
	ValidFrom time.Time `json:"valid_from"`
	// ValidTo is the day the code stopped being valid (exclusive); 9999-12-31 means still valid.
	ValidTo time.Time `json:"valid_to"`
}

// endOfTime is the valid_to of codes still in use.
var endOfTime = time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)

// Current reports whether the code is still valid.
func (p Place) Current() bool { return !p.ValidTo.Before(endOfTime) }

// ValidOn reports whether the code was valid on the calendar date of t (read in t's location).
func (p Place) ValidOn(t time.Time) bool {
	d := civil(t)
	return !d.Before(p.ValidFrom) && (d.Before(p.ValidTo) || p.Current())
}

// Catalog is a parsed set of places. It is safe for concurrent use.
type Catalog struct {
	places     []Place  // sorted by folded name, then by ValidFrom
	folded     []string // fold(places[i].Name)
	compact    []string // folded[i] without spaces
	byBelfiore map[string][]int
	byISTAT    map[string]int
}

//go:embed places.csv
var embedded []byte

var (
	defaultOnce    sync.Once
	defaultCatalog *Catalog
)

// Default returns the catalog of the embedded places.csv, parsed on first use. It panics if the
// embedded file is malformed, which the package tests rule out.
func Default() *Catalog {
	defaultOnce.Do(func() {
		c, err := Load(bytes.NewReader(embedded))
		if err != nil {
			panic(fmt.Sprintf("places: embedded places.csv: %v", err))
		}
		defaultCatalog = c
	})
	return defaultCatalog
}

var columns = []string{"belfiore_code", "istat_code", "name", "province", "region", "kind", "valid_from", "valid_to"}

// Load parses a CSV file with the columns of places.csv (belfiore_code, istat_code, name,
// province, region, kind, valid_from, valid_to, in any order, with a header line).
func Load(r io.Reader) (*Catalog, error) {
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, fmt.Errorf("read header: %w", err)
	}
	idx := make(map[string]int, len(header))
	for i, h := range header {
		idx[strings.TrimSpace(strings.TrimPrefix(h, "\uFEFF"))] = i
	}
	col := make([]int, len(columns))
	for i, name := range columns {
		j, ok := idx[name]
		if !ok {
			return nil, fmt.Errorf("header has no %q column", name)
		}
		col[i] = j
	}

	c := &Catalog{byBelfiore: map[string][]int{}, byISTAT: map[string]int{}}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("read: %w", err)
		}
		line, _ := cr.FieldPos(0)
		f := func(i int) string { return strings.TrimSpace(rec[col[i]]) }
		p := Place{
			Belfiore: strings.ToUpper(f(0)),
			ISTAT:    f(1),
			Name:     repairMojibake(f(2)),
			Province: f(3),
			Region:   f(4),
			Kind:     Kind(f(5)),
		}
		if !validBelfiore(p.Belfiore) {
			return nil, fmt.Errorf("line %d: invalid belfiore_code %q", line, p.Belfiore)
		}
		if p.Kind != Municipality && p.Kind != Country {
			return nil, fmt.Errorf("line %d: invalid kind %q", line, p.Kind)
		}
		if (p.Kind == Country) != (p.Belfiore[0] == 'Z') {
			return nil, fmt.Errorf("line %d: belfiore_code %s does not fit kind %s", line, p.Belfiore, p.Kind)
		}
		if p.ISTAT != "" && !allDigits(p.ISTAT, 6) {
			return nil, fmt.Errorf("line %d: invalid istat_code %q", line, p.ISTAT)
		}
		if p.Name == "" {
			return nil, fmt.Errorf("line %d: empty name", line)
		}
		if p.ValidFrom, err = time.Parse(time.DateOnly, f(6)); err != nil {
			return nil, fmt.Errorf("line %d: valid_from: %w", line, err)
		}
		if p.ValidTo, err = time.Parse(time.DateOnly, f(7)); err != nil {
			return nil, fmt.Errorf("line %d: valid_to: %w", line, err)
		}
		if !p.ValidFrom.Before(p.ValidTo) {
			return nil, fmt.Errorf("line %d: valid_from %s is not before valid_to %s", line, f(6), f(7))
		}
		c.places = append(c.places, p)
	}

	c.folded = make([]string, len(c.places))
	for i, p := range c.places {
		c.folded[i] = fold(p.Name)
	}
	order := make([]int, len(c.places))
	for i := range order {
		order[i] = i
	}
	slices.SortStableFunc(order, func(a, b int) int {
		if n := strings.Compare(c.folded[a], c.folded[b]); n != 0 {
			return n
		}
		return c.places[a].ValidFrom.Compare(c.places[b].ValidFrom)
	})
	sorted, folded := make([]Place, len(order)), make([]string, len(order))
	for i, j := range order {
		sorted[i], folded[i] = c.places[j], c.folded[j]
	}
	c.places, c.folded = sorted, folded
	c.compact = make([]string, len(c.folded))
	for i, f := range c.folded {
		c.compact[i] = strings.ReplaceAll(f, " ", "")
	}

	for i, p := range c.places {
		for _, j := range c.byBelfiore[p.Belfiore] {
			q := c.places[j]
			if p.ValidFrom.Before(q.ValidTo) && q.ValidFrom.Before(p.ValidTo) {
				return nil, fmt.Errorf("belfiore_code %s: overlapping periods", p.Belfiore)
			}
		}
		c.byBelfiore[p.Belfiore] = append(c.byBelfiore[p.Belfiore], i)
		if p.ISTAT != "" && p.Current() {
			if _, dup := c.byISTAT[p.ISTAT]; dup {
				return nil, fmt.Errorf("istat_code %s: used by two current municipalities", p.ISTAT)
			}
			c.byISTAT[p.ISTAT] = i
		}
	}
	return c, nil
}

// Len returns the number of places (codes and periods) in the catalog.
func (c *Catalog) Len() int { return len(c.places) }

// ByBelfiore returns the place with the Belfiore code that was valid on the calendar date of on.
// The code is matched case-insensitively.
func (c *Catalog) ByBelfiore(code string, on time.Time) (Place, bool) {
	for _, i := range c.byBelfiore[normCode(code)] {
		if c.places[i].ValidOn(on) {
			return c.places[i], true
		}
	}
	return Place{}, false
}

// History returns every period of the Belfiore code, oldest first; nil for an unknown code.
func (c *Catalog) History(code string) []Place {
	idx := c.byBelfiore[normCode(code)]
	if len(idx) == 0 {
		return nil
	}
	out := make([]Place, len(idx))
	for k, i := range idx {
		out[k] = c.places[i]
	}
	slices.SortFunc(out, func(a, b Place) int { return a.ValidFrom.Compare(b.ValidFrom) })
	return out
}

// BelfioreExists reports whether the Belfiore code was ever valid.
func (c *Catalog) BelfioreExists(code string) bool {
	return len(c.byBelfiore[normCode(code)]) > 0
}

// ByISTAT returns the current municipality with the six-digit ISTAT code.
func (c *Catalog) ByISTAT(code string) (Place, bool) {
	i, ok := c.byISTAT[strings.TrimSpace(code)]
	if !ok {
		return Place{}, false
	}
	return c.places[i], true
}

// IsComune reports whether code is the ISTAT code of a current municipality.
func (c *Catalog) IsComune(code string) bool {
	_, ok := c.ByISTAT(code)
	return ok
}

// Current returns the places still valid, of the given kind (any kind if kind is empty), sorted
// by name.
func (c *Catalog) Current(kind Kind) []Place {
	var out []Place
	for _, p := range c.places {
		if p.Current() && (kind == "" || p.Kind == kind) {
			out = append(out, p)
		}
	}
	return out
}

// Search returns the places whose name contains q, ignoring case, accents, apostrophes and
// hyphens, for pickers. Current places come first; within each group, names equal to q, then
// names starting with q, then names with a word starting with q, then the other matches, each
// sorted by name. kind restricts the result to one kind (any kind if empty); currentOnly leaves
// out the codes no longer valid; limit caps the result when positive. An empty q matches nothing.
func (c *Catalog) Search(q string, kind Kind, currentOnly bool, limit int) []Place {
	fq := fold(q)
	if fq == "" {
		return nil
	}
	cq := strings.ReplaceAll(fq, " ", "")
	type hit struct{ rank, i int }
	var hits []hit
	for i, p := range c.places {
		if (kind != "" && p.Kind != kind) || (currentOnly && !p.Current()) {
			continue
		}
		f := c.folded[i]
		var rank int
		switch {
		case f == fq:
			rank = 0
		case strings.HasPrefix(f, fq):
			rank = 1
		case strings.Contains(f, " "+fq):
			rank = 2
		case strings.Contains(f, fq) || strings.Contains(c.compact[i], cq):
			rank = 3
		default:
			continue
		}
		if !p.Current() {
			rank += 4
		}
		hits = append(hits, hit{rank, i})
	}
	// c.places is sorted by name, so a stable sort by rank keeps names in order.
	slices.SortStableFunc(hits, func(a, b hit) int { return a.rank - b.rank })
	if limit > 0 && len(hits) > limit {
		hits = hits[:limit]
	}
	out := make([]Place, len(hits))
	for k, h := range hits {
		out[k] = c.places[h.i]
	}
	return out
}

// civil returns the calendar date of t, read in t's location, at midnight UTC.
func civil(t time.Time) time.Time {
	y, m, d := t.Date()
	return time.Date(y, m, d, 0, 0, 0, 0, time.UTC)
}

func normCode(code string) string { return strings.ToUpper(strings.TrimSpace(code)) }

func validBelfiore(s string) bool {
	return len(s) == 4 && s[0] >= 'A' && s[0] <= 'Z' && allDigits(s[1:], 3)
}

func allDigits(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// fold lower-cases s, strips accents, turns every run of other characters than letters and
// digits (spaces, apostrophes, hyphens) into one space and trims it: "Sant'Angelo Lodigiano" and
// "SANT ANGELO lodigiano" fold alike.
func fold(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	sep := false
	for _, r := range norm.NFD.String(s) {
		switch {
		case unicode.Is(unicode.Mn, r):
			continue
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			if sep && b.Len() > 0 {
				b.WriteByte(' ')
			}
			sep = false
			r = unicode.ToLower(r)
			if x, ok := foldSpecial[r]; ok {
				b.WriteString(x)
			} else {
				b.WriteRune(r)
			}
		default:
			sep = true
		}
	}
	return b.String()
}

// foldSpecial spells the letters that do not decompose into a base letter and accents.
var foldSpecial = map[rune]string{
	'ß': "ss", 'æ': "ae", 'œ': "oe", 'ø': "o", 'ł': "l", 'đ': "d", 'ð': "d", 'ħ': "h", 'ı': "i", 'þ': "th",
}

// repairMojibake undoes UTF-8 text that was decoded as Latin-1 (or Windows-1250) and encoded
// again, as in "CittÃ  della Pieve" for "Città della Pieve". A lead byte left without its
// continuation byte lost a no-break space (0xA0, the second byte of "à") to whitespace
// trimming, so it becomes "à". Names that do not look mis-encoded, or do not decode to valid
// UTF-8, are returned unchanged.
func repairMojibake(s string) string {
	if !strings.ContainsAny(s, "ÃĂ") {
		return s
	}
	b := make([]byte, 0, len(s))
	for _, r := range s {
		switch {
		case r == 'Ă': // 0xC3 in Windows-1250
			b = append(b, 0xC3)
		case r <= 0xFF:
			b = append(b, byte(r))
		default:
			return s
		}
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		out = append(out, b[i])
		if b[i] == 0xC3 && (i+1 == len(b) || b[i+1] < 0x80 || b[i+1] > 0xBF) {
			out = append(out, 0xA0)
		}
	}
	if !utf8.Valid(out) {
		return s
	}
	return string(out)
}
