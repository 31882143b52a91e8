package registry

import (
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/places"
)

// Municipalities searches the reference places by name: current comuni by default, foreign
// countries with kind=country, and codes no longer in use with all=true.
func (s *Service) Municipalities(q, kind string, all bool, limit int) (cursor.Page[Municipality], error) {
	var f errs.Fields
	f.Check(len([]rune(strings.TrimSpace(q))) >= 1 && len(q) <= 100, "q", "must be 1 to 100 characters")
	f.Check(kind == "" || kind == string(places.Municipality) || kind == string(places.Country), "kind", "must be municipality or country")
	if err := f.Err(); err != nil {
		return cursor.Page[Municipality]{}, err
	}
	if kind == "" {
		kind = string(places.Municipality)
	}
	out := []Municipality{}
	for _, p := range s.places.Search(q, places.Kind(kind), !all, limit) {
		m := Municipality{Belfiore: p.Belfiore, ISTATCode: p.ISTAT, Name: p.Name, Province: p.Province, Kind: string(p.Kind),
			ValidFrom: p.ValidFrom.Format(time.DateOnly)}
		if !p.Current() {
			to := p.ValidTo.Format(time.DateOnly)
			m.ValidTo = &to
		}
		out = append(out, m)
	}
	return cursor.Page[Municipality]{Items: out}, nil
}
