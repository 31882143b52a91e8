package servicetest

import (
	"testing"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/places"
)

// TestPersonN: the synthetic people are valid and distinct.
func TestPersonN(t *testing.T) {
	seen := map[string]int64{}
	for _, n := range []int64{0, 1, 13, 14, 195, 2743, 2744, 1_000_000, 1_000_001, 9_999_999} {
		p := PersonN(n)
		c, err := codicefiscale.Parse(p.FiscalCode, places.Default())
		if err != nil || len(c.Matches(p.Birth, codicefiscale.Sex(p.Sex[0]), "F205")) > 0 {
			t.Errorf("PersonN(%d) = %+v: %v %v", n, p, err, c)
		}
		if m, dup := seen[p.FiscalCode]; dup {
			t.Errorf("PersonN(%d) and PersonN(%d) share %s", n, m, p.FiscalCode)
		}
		seen[p.FiscalCode] = n
	}
	if PersonN(0).Birth.Format("2006-01-02") != "1930-01-01" {
		t.Error("the first people are not born on 1930-01-01")
	}
}
