package servicetest

import (
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
)

// Person is a synthetic person born in Milan: names, sex (M or F), birth date and the codice
// fiscale they make.
type Person struct {
	FamilyName, GivenName, Sex string
	Birth                      time.Time
	FiscalCode                 string
}

var givenNames = []string{"Giulia", "Marco", "Chiara", "Luca", "Sara", "Paolo", "Elena", "Davide", "Nicolò", "Anna", "Matteo",
	"Francesca", "Giuseppe", "Maria", "Giovanni", "Rosa", "Antonio", "Lucia", "Francesco", "Angela", "Alessandro", "Giovanna",
	"Andrea", "Teresa", "Stefano", "Laura", "Roberto", "Silvia", "Fabio", "Valentina", "Simone", "Federica", "Ahmed", "Fatima",
	"Mohamed", "Ioana", "Andrei", "Elena Maria", "Pietro", "Beatrice"}

// PersonN returns the n-th synthetic person (n >= 0), distinct for every n: no two share a codice
// fiscale. The consonants of the family name and the birth date (1930 to 2009) are digits of n in
// a mixed radix; the vowels, a fourth syllable and the given name come from a hash of n, so that
// names are as varied as real ones. The people of n < 14³ are all born on 1930-01-01.
func PersonN(n int64) Person {
	const cons, vow = "bcdfglmnprstvz", "aeiou"
	h := uint64(n)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	h ^= h >> 29
	syl := func(c uint64) string {
		v := vow[h%5]
		h /= 5
		return string(cons[c%14]) + string(v)
	}
	m := n
	family := syl(uint64(m % 14))
	m /= 14
	family += syl(uint64(m % 14))
	m /= 14
	family += syl(uint64(m%14)) + syl(h%14)
	m /= 14
	p := Person{FamilyName: strings.ToUpper(family[:1]) + family[1:], GivenName: givenNames[h%uint64(len(givenNames))]}
	day := m%28 + 1
	m /= 28
	month := m%12 + 1
	m /= 12
	year := 1930 + m%80
	m /= 80
	p.Sex, p.Birth = "M", time.Date(int(year), time.Month(month), int(day), 0, 0, 0, 0, time.UTC)
	sex := codicefiscale.Male
	if m%2 == 1 {
		p.Sex, sex = "F", codicefiscale.Female
	}
	code, err := codicefiscale.Compute(p.FamilyName, p.GivenName, p.Birth, sex, "F205")
	if err != nil {
		panic("servicetest: person " + err.Error()) // the generator makes only valid people
	}
	p.FiscalCode = code
	return p
}
