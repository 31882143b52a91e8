package codicefiscale

import (
	"errors"
	"testing"

	"github.com/csi-lombardia/csi/pkg/places"
)

// FuzzParse checks that Parse never panics, that every error wraps exactly one sentinel, and
// that a code it accepts has a check character that recomputes and a canonical form that
// decodes to the same person. The seed corpus is in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	pinNow(f, today)
	cat := places.Default()
	for _, s := range []string{"RSSMRA45D25F205N", "BNCMRA45A01H501V", "VRDNNA45D65Z404U", "rssmra45d25f20ri"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s, cat)
		if err != nil {
			n := 0
			for _, sentinel := range sentinels {
				if errors.Is(err, sentinel) {
					n++
				}
			}
			if n != 1 {
				t.Fatalf("Parse(%q) error %q wraps %d sentinels, want 1", s, err, n)
			}
			if err.Error() == "" {
				t.Fatalf("Parse(%q): empty error message", s)
			}
			return
		}
		k, err := CheckCharacter(c.Value[:15])
		if err != nil || k != c.Value[15] {
			t.Fatalf("Parse(%q) accepted %q but CheckCharacter gives %q, %v", s, c.Value, k, err)
		}
		if k, err := CheckCharacter(c.Canonical[:15]); err != nil || k != c.Canonical[15] {
			t.Fatalf("Parse(%q): canonical %q has check character %q, %v", s, c.Canonical, k, err)
		}
		cc, err := Parse(c.Canonical, cat)
		if err != nil {
			t.Fatalf("Parse(%q) accepted, but its canonical %q fails: %v", s, c.Canonical, err)
		}
		if !cc.BirthDate.Equal(c.BirthDate) || cc.Sex != c.Sex || cc.Belfiore != c.Belfiore || cc.Place != c.Place {
			t.Fatalf("Parse(%q) = %s %v %s, canonical %q = %s %v %s", s,
				c.BirthDate, c.Sex, c.Belfiore, c.Canonical, cc.BirthDate, cc.Sex, cc.Belfiore)
		}
		if cc.Omocodic || cc.Canonical != c.Canonical || c.Omocodic != (c.Value != c.Canonical) {
			t.Fatalf("Parse(%q): omocodic %v, canonical %q; canonical parses as omocodic %v, %q",
				s, c.Omocodic, c.Canonical, cc.Omocodic, cc.Canonical)
		}
		if m := cc.Matches(c.BirthDate, c.Sex, c.Belfiore); m != nil {
			t.Fatalf("Parse(%q).Matches(its own data) = %v", s, m)
		}
		if c.Place.Belfiore != c.Belfiore || !c.Place.ValidOn(c.BirthDate) {
			t.Fatalf("Parse(%q): place %+v for %s born %s", s, c.Place, c.Belfiore, c.BirthDate)
		}
	})
}
