package registry

import (
	"context"
	"slices"
	"strconv"
	"strings"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/cursor"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Search returns the matching citizens the caller may see, best first. A comune's operators
// find the residents of their comune, and anyone else only by exact codice fiscale with a
// stated purpose. Every citizen returned is audited.
func (s *Service) Search(ctx context.Context, q SearchQuery) (cursor.Page[Hit], error) {
	sc, err := s.scopeOf(ctx)
	if err != nil {
		return cursor.Page[Hit]{}, err
	}
	var f errs.Fields
	q.FiscalCode = strings.ToUpper(strings.TrimSpace(q.FiscalCode))
	q.Name = strings.TrimSpace(q.Name)
	canonical := q.FiscalCode
	if q.FiscalCode != "" {
		if len(q.FiscalCode) != 11 && len(q.FiscalCode) != 16 {
			f.Add("fiscal_code", "must be a codice fiscale of 16 characters or a provisional code of 11 digits")
		} else if len(q.FiscalCode) == 16 {
			canonical = canonicalOf(q.FiscalCode)
		}
	}
	if q.Name != "" {
		valid.Line(&f, "name", q.Name, false, 200)
		f.Check(len([]rune(q.Name)) >= 2, "name", "must have at least 2 characters")
	}
	if q.BirthDate != "" {
		valid.Date(&f, "birth_date", q.BirthDate, valid.Birth(s.now().In(s.cfg.Location)))
	}
	if q.FiscalCode == "" && q.Name == "" && q.BirthDate == "" {
		f.Add("body", "give at least one of fiscal_code, name, birth_date")
	}
	if q.Limit == 0 {
		q.Limit = 20
	}
	f.Check(q.Limit >= 1 && q.Limit <= 100, "limit", "must be from 1 to 100")
	if err := validPurpose(q.Purpose); err != nil {
		return cursor.Page[Hit]{}, err
	}
	cursors := cursor.For("citizens:search", q.FiscalCode, q.Name, q.BirthDate, q.Purpose)
	cur, err := cursors.Decode(q.Cursor)
	if err != nil {
		return cursor.Page[Hit]{}, err
	}
	offset := 0
	if cur != "" {
		if offset, err = strconv.Atoi(cur); err != nil || offset < 0 || offset > 10_000 {
			f.Add("cursor", "is not a cursor returned by this search")
		}
	}
	if err := f.Err(); err != nil {
		return cursor.Page[Hit]{}, err
	}
	residence := ""
	if !sc.wide {
		residence = sc.istat
		if residence == "" {
			residence = "-" // matches no comune
		}
		if q.FiscalCode != "" && q.Name == "" && q.BirthDate == "" && q.Purpose != "" {
			residence = "" // anyone by exact code, with a stated purpose
		}
	}
	var hits []Hit
	if q.FiscalCode != "" && q.Name == "" && q.BirthDate == "" {
		hits, err = s.byCode(ctx, sc, q.FiscalCode, canonical, residence)
		if offset > 0 {
			hits = nil
		}
	} else {
		hits, err = s.store.Search(ctx, SearchFilter{AmbitoID: sc.ambitoID, FiscalCode: q.FiscalCode, Canonical: canonical, Name: q.Name,
			BirthDate: q.BirthDate, Residence: residence, Limit: q.Limit + 1, Offset: offset})
	}
	if err != nil {
		return cursor.Page[Hit]{}, err
	}
	p := cursor.PageOf(hits, q.Limit, cursors, func(Hit) string { return strconv.Itoa(offset + q.Limit) })
	recs := make([]audit.Record, 0, len(p.Items))
	for _, h := range p.Items {
		recs = append(recs, auditRecord(sc, "citizen.search", h.ID.String(), q.Purpose, audit.OutcomeSuccess, nil))
	}
	if len(recs) > 0 {
		if err := s.audit.Write(ctx, recs...); err != nil {
			return cursor.Page[Hit]{}, err
		}
	}
	return p, nil
}

// byCode finds the live citizens with a code (exact, or sharing its canonical form: omocodic
// variants), through the cache, as the API serves them.
func (s *Service) byCode(ctx context.Context, sc scope, code, canonical, residence string) ([]Hit, error) {
	cs, err := s.loadByCode(ctx, sc.ambitoID, canonical)
	if err != nil {
		return nil, err
	}
	var hits []Hit
	for _, c := range cs {
		if c.MergedInto != nil || residence != "" && c.ISTAT != residence {
			continue
		}
		score := 0.9
		if c.FiscalCode == code {
			score = 1
		}
		hits = append(hits, Hit{Citizen: Citizen{ID: c.ID}, Score: score, Encoded: hitJSON(c.JSON, score)})
	}
	slices.SortStableFunc(hits, func(a, b Hit) int {
		if a.Score != b.Score {
			if a.Score > b.Score {
				return -1
			}
			return 1
		}
		return strings.Compare(a.ID.String(), b.ID.String())
	})
	return hits, nil
}

// hitJSON is the JSON of a Hit of the citizen of JSON c: its members, then the score.
func hitJSON(c []byte, score float64) []byte {
	b := make([]byte, 0, len(c)+16)
	b = append(b, c[:len(c)-1]...)
	b = append(b, `,"score":`...)
	b = strconv.AppendFloat(b, score, 'f', -1, 64)
	return append(b, '}')
}
