package intake_test

import (
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/services/intake"
)

// TestBaseTaxonomyMapping checks the shipped areas against DOMAIN.md's classifications: each
// area in one of the seven national statistical areas, every national area covered, and the
// national benefits flow area that goes with it.
func TestBaseTaxonomyMapping(t *testing.T) {
	type mapping struct {
		Code, NationalArea string
		BenefitArea        int
	}
	want := []mapping{
		{"MIN", "families_minors", 1},
		{"DIS", "disability", 2},
		{"ANZ", "elderly", 2},
		{"DIP", "addictions", 3},
		{"IMM", "immigrants", 3},
		{"POV", "poverty", 3},
		{"MUL", "multi_user", 3},
	}
	tax := intake.BaseTaxonomy()
	if tax.Version != 1 {
		t.Errorf("version = %d, want 1", tax.Version)
	}
	var got []mapping
	for _, a := range tax.Areas {
		got = append(got, mapping{a.Code, a.NationalArea, a.BenefitArea})
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("areas (-got +want):\n%s", diff)
	}
	national, _ := intake.Lookup("national_area")
	covered := map[string]bool{}
	for _, a := range tax.Areas {
		covered[a.NationalArea] = true
	}
	for _, c := range national.Codes {
		if !covered[c.Code] {
			t.Errorf("national area %s has no taxonomy area", c.Code)
		}
	}
}

func TestBaseTaxonomyWellFormed(t *testing.T) {
	tax := intake.BaseTaxonomy()
	if err := tax.Validate(); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	for _, a := range tax.Areas {
		if n := len(a.Needs); n < 4 || n > 8 {
			t.Errorf("area %s has %d needs, want 4 to 8", a.Code, n)
		}
		for i, n := range a.Needs {
			if want := fmt.Sprintf("%s.%02d", a.Code, i+1); n.Code != want {
				t.Errorf("area %s need %d is %s, want %s (numbered in order)", a.Code, i, n.Code, want)
			}
		}
	}
}

func TestTaxonomyJSON(t *testing.T) {
	tax := intake.Taxonomy{Version: 3, Areas: []intake.Area{{Code: "MIN", Label: "Famiglia e minori",
		NationalArea: "families_minors", BenefitArea: 1, Needs: []intake.Need{{Code: "MIN.01", Label: "Sostegno alla genitorialità"}}}}}
	b, err := json.Marshal(tax)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"version":3,"areas":[{"code":"MIN","label":"Famiglia e minori","national_area":"families_minors","benefit_area":1,"needs":[{"code":"MIN.01","label":"Sostegno alla genitorialità"}]}]}`
	if diff := cmp.Diff(string(b), want); diff != "" {
		t.Errorf("JSON (-got +want):\n%s", diff)
	}
}

func TestTaxonomyNeed(t *testing.T) {
	tax := intake.BaseTaxonomy()
	tests := []struct {
		code      string
		ok        bool
		wantArea  string
		wantLabel string
	}{
		{"MIN.01", true, "MIN", "Sostegno alla genitorialità"},
		{"MIN.03", true, "MIN", "Tutela del minore e segnalazione all'autorità giudiziaria"},
		{"ANZ.01", true, "ANZ", "Assistenza domiciliare"},
		{"POV.02", true, "POV", "Abitazione ed emergenza abitativa"},
		{"MUL.05", true, "MUL", "Isolamento sociale e solitudine"},
		{"MIN.99", false, "", ""},
		{"MIN", false, "", ""},
		{"min.01", false, "", ""},
		{"XYZ.01", false, "", ""},
		{"MIN.01 ", false, "", ""},
		{"", false, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			a, n, ok := tax.Need(tt.code)
			if ok != tt.ok || a.Code != tt.wantArea || n.Label != tt.wantLabel {
				t.Errorf("Need(%q) = %q, %q, %v; want %q, %q, %v", tt.code, a.Code, n.Label, ok, tt.wantArea, tt.wantLabel, tt.ok)
			}
			if ok && n.Code != tt.code {
				t.Errorf("Need(%q).Code = %q", tt.code, n.Code)
			}
		})
	}
}

func TestTaxonomyArea(t *testing.T) {
	tax := intake.BaseTaxonomy()
	tests := []struct {
		code      string
		ok        bool
		wantLabel string
	}{
		{"MIN", true, "Famiglia e minori"},
		{"DIS", true, "Disabilità"},
		{"DIP", true, "Dipendenze"},
		{"MIN.01", false, ""},
		{"min", false, ""},
		{"", false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			a, ok := tax.Area(tt.code)
			if ok != tt.ok || a.Label != tt.wantLabel {
				t.Errorf("Area(%q) = %q, %v; want %q, %v", tt.code, a.Label, ok, tt.wantLabel, tt.ok)
			}
		})
	}
}

func TestTaxonomyCheck(t *testing.T) {
	tax := intake.BaseTaxonomy()
	tests := []struct {
		name  string
		codes []string
		want  []errs.FieldError
	}{
		{"none", nil, nil},
		{"all known", []string{"MIN.01", "DIS.05", "POV.01"}, nil},
		{"unknown", []string{"MIN.01", "MIN.42"}, []errs.FieldError{
			{Field: "needs[1]", Message: "is not a need of the needs taxonomy (version 1)"}}},
		{"an area is not a need", []string{"MIN"}, []errs.FieldError{
			{Field: "needs[0]", Message: "is not a need of the needs taxonomy (version 1)"}}},
		{"empty code", []string{""}, []errs.FieldError{
			{Field: "needs[0]", Message: "is not a need of the needs taxonomy (version 1)"}}},
		{"repeated", []string{"MIN.01", "DIS.01", "MIN.01"}, []errs.FieldError{
			{Field: "needs[2]", Message: "repeats needs[0]"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f errs.Fields
			tax.Check(&f, "needs", tt.codes)
			if diff := cmp.Diff([]errs.FieldError(f), tt.want); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTaxonomyCheckArea(t *testing.T) {
	tax := intake.BaseTaxonomy()
	tests := []struct {
		name     string
		code     string
		required bool
		want     []errs.FieldError
	}{
		{"known", "ANZ", true, nil},
		{"empty optional", "", false, nil},
		{"empty required", "", true, []errs.FieldError{{Field: "requested_area", Message: "is required"}}},
		{"unknown", "ZZZ", false, []errs.FieldError{{Field: "requested_area", Message: "is not an area of the needs taxonomy (version 1)"}}},
		{"a need is not an area", "ANZ.01", false, []errs.FieldError{{Field: "requested_area", Message: "is not an area of the needs taxonomy (version 1)"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f errs.Fields
			tax.CheckArea(&f, "requested_area", tt.code, tt.required)
			if diff := cmp.Diff([]errs.FieldError(f), tt.want); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
		})
	}
}

// TestTaxonomyExtend covers what an ambito administrator may add.
func TestTaxonomyExtend(t *testing.T) {
	base := intake.BaseTaxonomy()
	tests := []struct {
		name string
		ext  []intake.Area
		// wantNew is what the new version holds beyond base: area code → need codes appended.
		wantNew map[string][]string
	}{
		{"needs appended to an existing area, other fields omitted", []intake.Area{
			{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "Spazio neutro per incontri protetti"}}},
		}, map[string][]string{"MIN": {"MIN.09"}}},
		{"existing area restating its fields", []intake.Area{
			{Code: "ANZ", Label: "Anziani", NationalArea: "elderly", BenefitArea: 2,
				Needs: []intake.Need{{Code: "ANZ.09", Label: "Custode sociale"}, {Code: "ANZ.10", Label: "Soggiorni climatici"}}},
		}, map[string][]string{"ANZ": {"ANZ.09", "ANZ.10"}}},
		{"a new area", []intake.Area{
			{Code: "SAM", Label: "Salute mentale", NationalArea: "disability", BenefitArea: 2,
				Needs: []intake.Need{{Code: "SAM.01", Label: "Inserimento in residenzialità leggera"}}},
		}, map[string][]string{"SAM": {"SAM.01"}}},
		{"new area and existing area together", []intake.Area{
			{Code: "GIOV", Label: "Giovani", NationalArea: "families_minors", BenefitArea: 1,
				Needs: []intake.Need{{Code: "GIOV.01", Label: "Orientamento formativo"}, {Code: "GIOV.02", Label: "Prevenzione della dispersione scolastica"}}},
			{Code: "POV", Needs: []intake.Need{{Code: "POV.08", Label: "Microcredito"}}},
		}, map[string][]string{"GIOV": {"GIOV.01", "GIOV.02"}, "POV": {"POV.08"}}},
		{"need numbers need not follow on", []intake.Area{
			{Code: "DIP", Needs: []intake.Need{{Code: "DIP.50", Label: "Alcolismo"}}},
		}, map[string][]string{"DIP": {"DIP.50"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := intake.BaseTaxonomy()
			next, err := base.Extend(tt.ext)
			if err != nil {
				t.Fatalf("Extend: %v", err)
			}
			if diff := cmp.Diff(base, before); diff != "" {
				t.Errorf("Extend changed the old version:\n%s", diff)
			}
			if next.Version != base.Version+1 {
				t.Errorf("version = %d, want %d", next.Version, base.Version+1)
			}
			if err := next.Validate(); err != nil {
				t.Errorf("the new version is not valid: %v", err)
			}
			// Everything of the old version is still there, in the same place, unchanged.
			for i, a := range base.Areas {
				n := next.Areas[i]
				if n.Code != a.Code || n.Label != a.Label || n.NationalArea != a.NationalArea || n.BenefitArea != a.BenefitArea {
					t.Errorf("area %d changed: %+v → %+v", i, a, n)
				}
				if diff := cmp.Diff(n.Needs[:len(a.Needs)], a.Needs); diff != "" {
					t.Errorf("area %s needs changed:\n%s", a.Code, diff)
				}
			}
			got := map[string][]string{}
			for i, a := range next.Areas {
				old := 0
				if i < len(base.Areas) {
					old = len(base.Areas[i].Needs)
				}
				for _, n := range a.Needs[old:] {
					got[a.Code] = append(got[a.Code], n.Code)
				}
			}
			if diff := cmp.Diff(got, tt.wantNew); diff != "" {
				t.Errorf("added (-got +want):\n%s", diff)
			}
			for code, needs := range tt.wantNew {
				for _, n := range needs {
					if a, _, ok := next.Need(n); !ok || a.Code != code {
						t.Errorf("Need(%q) in the new version = %q, %v", n, a.Code, ok)
					}
					if _, _, ok := base.Need(n); ok {
						t.Errorf("Need(%q) is in the old version", n)
					}
				}
			}
		})
	}
}

// TestTaxonomyExtendChain checks that versions follow one another and that a code added in
// version 2 is kept by version 3.
func TestTaxonomyExtendChain(t *testing.T) {
	v2, err := intake.BaseTaxonomy().Extend([]intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "Spazio neutro"}}}})
	if err != nil {
		t.Fatal(err)
	}
	v3, err := v2.Extend([]intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.10", Label: "Educativa di strada"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if v3.Version != 3 {
		t.Errorf("version = %d, want 3", v3.Version)
	}
	if _, n, ok := v3.Need("MIN.09"); !ok || n.Label != "Spazio neutro" {
		t.Errorf("MIN.09 in v3 = %+v, %v", n, ok)
	}
	_, err = v3.Extend([]intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "Altro"}}}})
	if diff := cmp.Diff(fieldsOf(t, err), []errs.FieldError{{Field: "areas[0].needs[0].code", Message: "already exists in version 3"}}); diff != "" {
		t.Errorf("reusing a code of v2 in v4 (-got +want):\n%s", diff)
	}
}

func TestTaxonomyExtendRefused(t *testing.T) {
	base := intake.BaseTaxonomy()
	need := func(code string) []intake.Need { return []intake.Need{{Code: code, Label: "Un bisogno"}} }
	newArea := func(code string, needs ...intake.Need) intake.Area {
		if needs == nil {
			needs = need(code + ".01")
		}
		return intake.Area{Code: code, Label: "Nuova area", NationalArea: "multi_user", BenefitArea: 3, Needs: needs}
	}
	tests := []struct {
		name string
		ext  []intake.Area
		want []errs.FieldError
	}{
		{"nothing to add", nil, []errs.FieldError{{Field: "areas", Message: "must list at least one area"}}},
		{"existing area without needs", []intake.Area{{Code: "MIN"}}, []errs.FieldError{
			{Field: "areas[0].needs", Message: "must list at least one need"}}},
		{"new area without needs", []intake.Area{{Code: "SAM", Label: "Salute mentale", NationalArea: "disability", BenefitArea: 2}}, []errs.FieldError{
			{Field: "areas[0].needs", Message: "must list at least one need"}}},
		{"area code lowercase", []intake.Area{newArea("sam", need("sam.01")...)}, []errs.FieldError{
			{Field: "areas[0].code", Message: "must be 2 to 4 capital letters (^[A-Z]{2,4}$)"},
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (sam.01)"}}},
		{"area code too long", []intake.Area{newArea("SALUTE", need("SALUTE.01")...)}, []errs.FieldError{
			{Field: "areas[0].code", Message: "must be 2 to 4 capital letters (^[A-Z]{2,4}$)"},
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (SALUTE.01)"}}},
		{"area code empty", []intake.Area{{Label: "X", NationalArea: "poverty", BenefitArea: 3, Needs: need("X.01")}}, []errs.FieldError{
			{Field: "areas[0].code", Message: "must be 2 to 4 capital letters (^[A-Z]{2,4}$)"},
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (.01)"}}},
		{"area repeated", []intake.Area{newArea("SAM"), newArea("SAM", need("SAM.02")...)}, []errs.FieldError{
			{Field: "areas[1].code", Message: "repeats areas[0].code"}}},
		{"new area without label", []intake.Area{{Code: "SAM", NationalArea: "disability", BenefitArea: 2, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].label", Message: "is required"}}},
		{"new area blank label", []intake.Area{{Code: "SAM", Label: "  ", NationalArea: "disability", BenefitArea: 2, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].label", Message: "is required"}}},
		{"label with a control character", []intake.Area{{Code: "SAM", Label: "Salute\nmentale", NationalArea: "disability", BenefitArea: 2, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].label", Message: "must not contain control characters"}}},
		{"label too long", []intake.Area{{Code: "SAM", Label: strings.Repeat("à", 201), NationalArea: "disability", BenefitArea: 2, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].label", Message: "must be at most 200 characters"}}},
		{"unknown national area", []intake.Area{{Code: "SAM", Label: "Salute mentale", NationalArea: "mental_health", BenefitArea: 2, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].national_area", Message: "must be one of families_minors, disability, addictions, elderly, immigrants, poverty, multi_user"}}},
		{"new area without national area", []intake.Area{{Code: "SAM", Label: "Salute mentale", BenefitArea: 2, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].national_area", Message: "is required"}}},
		{"benefit area missing", []intake.Area{{Code: "SAM", Label: "Salute mentale", NationalArea: "disability", Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].benefit_area", Message: "must be one of 1, 2, 3"}}},
		{"benefit area 4", []intake.Area{{Code: "SAM", Label: "Salute mentale", NationalArea: "disability", BenefitArea: 4, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].benefit_area", Message: "must be one of 1, 2, 3"}}},
		{"benefit area negative", []intake.Area{{Code: "SAM", Label: "Salute mentale", NationalArea: "disability", BenefitArea: -1, Needs: need("SAM.01")}}, []errs.FieldError{
			{Field: "areas[0].benefit_area", Message: "must be one of 1, 2, 3"}}},
		{"renaming an existing area", []intake.Area{{Code: "MIN", Label: "Minori", Needs: need("MIN.09")}}, []errs.FieldError{
			{Field: "areas[0].label", Message: `must be omitted or equal "Famiglia e minori": an existing area is not renamed`}}},
		{"remapping an existing area", []intake.Area{{Code: "MIN", NationalArea: "poverty", BenefitArea: 3, Needs: need("MIN.09")}}, []errs.FieldError{
			{Field: "areas[0].national_area", Message: `must be omitted or equal "families_minors": an existing area keeps its mapping`},
			{Field: "areas[0].benefit_area", Message: "must be omitted or equal 1: an existing area keeps its mapping"}}},
		{"need code of another area", []intake.Area{{Code: "MIN", Needs: need("DIS.09")}}, []errs.FieldError{
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (MIN.01)"}}},
		{"need code with one digit", []intake.Area{{Code: "MIN", Needs: need("MIN.9")}}, []errs.FieldError{
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (MIN.01)"}}},
		{"need code with three digits", []intake.Area{{Code: "MIN", Needs: need("MIN.100")}}, []errs.FieldError{
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (MIN.01)"}}},
		{"need code with a trailing space", []intake.Area{{Code: "MIN", Needs: need("MIN.09 ")}}, []errs.FieldError{
			{Field: "areas[0].needs[0].code", Message: "must be the area code, a dot and two digits (MIN.01)"}}},
		{"need code of the old version", []intake.Area{{Code: "MIN", Needs: need("MIN.01")}}, []errs.FieldError{
			{Field: "areas[0].needs[0].code", Message: "already exists in version 1"}}},
		{"need repeated in one area", []intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "A"}, {Code: "MIN.10", Label: "B"}, {Code: "MIN.09", Label: "C"}}}}, []errs.FieldError{
			{Field: "areas[0].needs[2].code", Message: "repeats areas[0].needs[0].code"}}},
		{"need repeated across entries", []intake.Area{{Code: "MIN", Needs: need("MIN.09")}, {Code: "DIS", Needs: need("DIS.09")}, {Code: "MIN", Needs: need("MIN.09")}}, []errs.FieldError{
			{Field: "areas[2].code", Message: "repeats areas[0].code"},
			{Field: "areas[2].needs[0].code", Message: "repeats areas[0].needs[0].code"}}},
		{"need without label", []intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09"}}}}, []errs.FieldError{
			{Field: "areas[0].needs[0].label", Message: "is required"}}},
		{"several errors, all named", []intake.Area{
			{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "ok"}, {Code: "MIN.01", Label: "x"}, {Code: "MIN.11"}}},
			{Code: "SAM", Label: "Salute mentale", NationalArea: "health", BenefitArea: 2, Needs: need("SAM.01")},
		}, []errs.FieldError{
			{Field: "areas[0].needs[1].code", Message: "already exists in version 1"},
			{Field: "areas[0].needs[2].label", Message: "is required"},
			{Field: "areas[1].national_area", Message: "must be one of families_minors, disability, addictions, elderly, immigrants, poverty, multi_user"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := intake.BaseTaxonomy()
			got, err := base.Extend(tt.ext)
			if err == nil {
				t.Fatalf("Extend = version %d, want an error", got.Version)
			}
			if diff := cmp.Diff(fieldsOf(t, err), tt.want); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(got, intake.Taxonomy{}); diff != "" {
				t.Errorf("a refused extension returned a taxonomy:\n%s", diff)
			}
			if diff := cmp.Diff(base, before); diff != "" {
				t.Errorf("a refused extension changed the old version:\n%s", diff)
			}
		})
	}
}

// TestTaxonomyExtendDoesNotShareSlices guards against append writing into the old version's
// backing array: two extensions of the same version must not see each other's needs.
func TestTaxonomyExtendDoesNotShareSlices(t *testing.T) {
	base := intake.BaseTaxonomy()
	base.Areas[0].Needs = slices.Grow(base.Areas[0].Needs, 4) // room for append to write in place
	a, err := base.Extend([]intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "A"}}}})
	if err != nil {
		t.Fatal(err)
	}
	b, err := base.Extend([]intake.Area{{Code: "MIN", Needs: []intake.Need{{Code: "MIN.09", Label: "B"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, n, _ := a.Need("MIN.09"); n.Label != "A" {
		t.Errorf("first extension's MIN.09 = %q, want A", n.Label)
	}
	if _, n, _ := b.Need("MIN.09"); n.Label != "B" {
		t.Errorf("second extension's MIN.09 = %q, want B", n.Label)
	}
	ext := []intake.Area{{Code: "SAM", Label: "Salute mentale", NationalArea: "disability", BenefitArea: 2, Needs: []intake.Need{{Code: "SAM.01", Label: "X"}}}}
	c, err := base.Extend(ext)
	if err != nil {
		t.Fatal(err)
	}
	ext[0].Needs[0].Label = "changed by the caller"
	if _, n, _ := c.Need("SAM.01"); n.Label != "X" {
		t.Errorf("the caller's slice is shared with the new version: %q", n.Label)
	}
}

func TestTaxonomyValidate(t *testing.T) {
	tests := []struct {
		name string
		tax  intake.Taxonomy
		want []errs.FieldError
	}{
		{"empty", intake.Taxonomy{}, []errs.FieldError{
			{Field: "version", Message: "must be at least 1"},
			{Field: "areas", Message: "must list at least one area"}}},
		{"repeated area and need", intake.Taxonomy{Version: 2, Areas: []intake.Area{
			{Code: "AB", Label: "A", NationalArea: "poverty", BenefitArea: 3, Needs: []intake.Need{{Code: "AB.01", Label: "x"}, {Code: "AB.01", Label: "y"}}},
			{Code: "AB", Label: "B", NationalArea: "poverty", BenefitArea: 3, Needs: []intake.Need{{Code: "AB.02", Label: "z"}}},
		}}, []errs.FieldError{
			{Field: "areas[0].needs[1].code", Message: "repeats areas[0].needs[0].code"},
			{Field: "areas[1].code", Message: "repeats areas[0].code"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(fieldsOf(t, tt.tax.Validate()), tt.want); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
		})
	}
}
