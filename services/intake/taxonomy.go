package intake

import (
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
)

// Taxonomy is one version of the needs taxonomy: areas of intervention, each with its needs.
// Version 1 ships with the service (BaseTaxonomy); an ambito administrator makes the next
// versions with Extend, which only adds. A record stores the need codes it was coded with; a
// code, once published, keeps its meaning in every later version.
type Taxonomy struct {
	Version int    `json:"version"`
	Areas   []Area `json:"areas"`
}

// Area is an area of intervention of the taxonomy, mapped to the national classifications.
type Area struct {
	// Code is two to four capital letters (AreaCodePattern): "MIN", "DIS".
	Code string `json:"code"`
	// Label is the Italian name shown to operators.
	Label string `json:"label"`
	// NationalArea is one of the seven areas of the national statistical classification of
	// users, the codes of the "national_area" code list: families_minors, disability,
	// addictions, elderly, immigrants, poverty, multi_user.
	NationalArea string `json:"national_area"`
	// BenefitArea is the area of the national benefits flow, a code of the "benefit_area"
	// code list: 1 families and minors, 2 disability and non-self-sufficiency, 3 poverty and
	// exclusion.
	BenefitArea int    `json:"benefit_area"`
	Needs       []Need `json:"needs"`
}

// Need is a need of an area.
type Need struct {
	// Code is the area's code, a dot and two digits (NeedCodePattern): "MIN.01".
	Code string `json:"code"`
	// Label is the Italian name shown to operators.
	Label string `json:"label"`
}

// The syntax of taxonomy codes. A need's code starts with its area's code, so a need code
// names its area and is unique across the taxonomy.
const (
	AreaCodePattern = `^[A-Z]{2,4}$`
	NeedCodePattern = `^[A-Z]{2,4}\.[0-9]{2}$`
	// MaxLabel is the longest Italian label, in characters.
	MaxLabel = 200
)

var (
	areaCodeRE = regexp.MustCompile(AreaCodePattern)
	needCodeRE = regexp.MustCompile(NeedCodePattern)
)

//go:embed data/needs-taxonomy.json
var taxonomyJSON []byte

var baseTaxonomy = sync.OnceValue(func() Taxonomy {
	var t Taxonomy
	if err := json.Unmarshal(taxonomyJSON, &t); err != nil {
		panic(fmt.Sprintf("intake: data/needs-taxonomy.json: %v", err))
	}
	if err := t.Validate(); err != nil {
		panic(fmt.Sprintf("intake: data/needs-taxonomy.json: %v", err))
	}
	return t
})

// BaseTaxonomy returns version 1 of the taxonomy, the one that ships with the service
// (data/needs-taxonomy.json). The result is the caller's own copy.
func BaseTaxonomy() Taxonomy { return baseTaxonomy().clone() }

// clone returns a deep copy, so that a new version never shares a slice with the old one.
func (t Taxonomy) clone() Taxonomy {
	c := Taxonomy{Version: t.Version, Areas: make([]Area, len(t.Areas))}
	for i, a := range t.Areas {
		a.Needs = append([]Need(nil), a.Needs...)
		c.Areas[i] = a
	}
	return c
}

// Area returns the area with the code.
func (t Taxonomy) Area(code string) (Area, bool) {
	for _, a := range t.Areas {
		if a.Code == code {
			return a, true
		}
	}
	return Area{}, false
}

// Need returns the need with the code and its area.
func (t Taxonomy) Need(code string) (Area, Need, bool) {
	area, _, ok := strings.Cut(code, ".")
	if !ok {
		return Area{}, Need{}, false
	}
	a, ok := t.Area(area)
	if !ok {
		return Area{}, Need{}, false
	}
	for _, n := range a.Needs {
		if n.Code == code {
			return a, n, true
		}
	}
	return Area{}, Need{}, false
}

// Check records a field error for each code that is not a need of t (field[i]) and for each
// code listed twice. An empty list is not an error here: the caller decides whether needs are
// required.
func (t Taxonomy) Check(f *errs.Fields, field string, codes []string) {
	seen := make(map[string]int, len(codes))
	for i, c := range codes {
		name := fmt.Sprintf("%s[%d]", field, i)
		if j, dup := seen[c]; dup {
			f.Add(name, "repeats %s[%d]", field, j)
			continue
		}
		seen[c] = i
		if _, _, ok := t.Need(c); !ok {
			f.Add(name, "is not a need of the needs taxonomy (version %d)", t.Version)
		}
	}
}

// CheckArea records a field error when code is not an area of t, or is empty and required.
func (t Taxonomy) CheckArea(f *errs.Fields, field, code string, required bool) {
	switch {
	case code == "":
		if required {
			f.Add(field, "is required")
		}
	default:
		if _, ok := t.Area(code); !ok {
			f.Add(field, "is not an area of the needs taxonomy (version %d)", t.Version)
		}
	}
}

// Validate checks a whole taxonomy: the version is positive, and every area and need is well
// formed (the rules of Extend) and has a unique code. Field names are "areas[i]...".
func (t Taxonomy) Validate() error {
	var f errs.Fields
	f.Check(t.Version >= 1, "version", "must be at least 1")
	f.Check(len(t.Areas) > 0, "areas", "must list at least one area")
	areas := map[string]int{}
	needs := map[string]string{}
	for i, a := range t.Areas {
		p := fmt.Sprintf("areas[%d]", i)
		if j, dup := areas[a.Code]; dup {
			f.Add(p+".code", "repeats areas[%d].code", j)
		} else {
			areas[a.Code] = i
		}
		checkNewArea(&f, p, a)
		checkNeeds(&f, p, a.Code, a.Needs, needs)
	}
	return f.Err()
}

// Extend returns the next version of t (t.Version+1) with the areas and needs of ext added.
// An entry of ext whose code is an area of t appends needs to that area: its label,
// national_area and benefit_area may be omitted and, when given, must equal the existing ones.
// Any other entry is a new area, with every field required. Nothing of t is removed or renamed
// and t itself is left as it was. Each entry must add at least one need. The errors are Invalid
// with fields named after ext ("areas[0].needs[2].code").
func (t Taxonomy) Extend(ext []Area) (Taxonomy, error) {
	var f errs.Fields
	if len(ext) == 0 {
		f.Add("areas", "must list at least one area")
		return Taxonomy{}, f.Err()
	}
	next := t.clone()
	next.Version = t.Version + 1
	needs := map[string]string{}
	for _, a := range t.Areas {
		for _, n := range a.Needs {
			needs[n.Code] = "already exists in version " + strconv.Itoa(t.Version)
		}
	}
	seen := map[string]int{}
	for i, a := range ext {
		p := fmt.Sprintf("areas[%d]", i)
		if j, dup := seen[a.Code]; dup {
			f.Add(p+".code", "repeats areas[%d].code", j)
		} else {
			seen[a.Code] = i
		}
		idx := -1
		for k, old := range t.Areas {
			if old.Code == a.Code {
				idx = k
				break
			}
		}
		if idx >= 0 {
			old := t.Areas[idx]
			f.Check(a.Label == "" || a.Label == old.Label, p+".label",
				"must be omitted or equal %q: an existing area is not renamed", old.Label)
			f.Check(a.NationalArea == "" || a.NationalArea == old.NationalArea, p+".national_area",
				"must be omitted or equal %q: an existing area keeps its mapping", old.NationalArea)
			f.Check(a.BenefitArea == 0 || a.BenefitArea == old.BenefitArea, p+".benefit_area",
				"must be omitted or equal %d: an existing area keeps its mapping", old.BenefitArea)
		} else {
			checkNewArea(&f, p, a)
		}
		checkNeeds(&f, p, a.Code, a.Needs, needs)
		if idx >= 0 {
			next.Areas[idx].Needs = append(next.Areas[idx].Needs, a.Needs...)
		} else {
			a.Needs = append([]Need(nil), a.Needs...)
			next.Areas = append(next.Areas, a)
		}
	}
	if err := f.Err(); err != nil {
		return Taxonomy{}, err
	}
	return next, nil
}

// checkNewArea checks the fields of an area that is not in the taxonomy yet.
func checkNewArea(f *errs.Fields, p string, a Area) {
	f.Check(areaCodeRE.MatchString(a.Code), p+".code", "must be 2 to 4 capital letters (%s)", AreaCodePattern)
	valid.Line(f, p+".label", a.Label, true, MaxLabel)
	national, _ := Lookup("national_area")
	national.Check(f, p+".national_area", a.NationalArea, true)
	benefit, _ := Lookup("benefit_area")
	f.Check(benefit.Has(strconv.Itoa(a.BenefitArea)), p+".benefit_area",
		"must be one of %s", strings.Join(benefit.codes(), ", "))
}

// checkNeeds checks the needs of the area with the code, p naming the area; seen holds the
// need codes already taken (with what to say of a repeat) and receives these ones.
func checkNeeds(f *errs.Fields, p, area string, needs []Need, seen map[string]string) {
	if len(needs) == 0 {
		f.Add(p+".needs", "must list at least one need")
	}
	for k, n := range needs {
		q := fmt.Sprintf("%s.needs[%d]", p, k)
		switch {
		case !needCodeRE.MatchString(n.Code) || !strings.HasPrefix(n.Code, area+"."):
			f.Add(q+".code", "must be the area code, a dot and two digits (%s.01)", area)
		case seen[n.Code] != "":
			f.Add(q+".code", "%s", seen[n.Code])
		default:
			seen[n.Code] = "repeats " + q + ".code"
		}
		valid.Line(f, q+".label", n.Label, true, MaxLabel)
	}
}
