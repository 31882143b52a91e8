package intake_test

import (
	"regexp"
	"slices"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/services/intake"
)

// TestRegionalElementsWellFormed checks the whole mapping table.
func TestRegionalElementsWellFormed(t *testing.T) {
	fourLetters := regexp.MustCompile(`^[A-Z]{4}$`)
	types := map[string]bool{"code": true, "code_list": true, "need_codes": true, "date": true,
		"amount": true, "number": true, "text": true, "boolean": true, "operator": true}
	sources := map[string]bool{"intake": true, "interventions": true, "fna": true}
	codes := map[string]bool{}
	fields := map[string]bool{}
	lastPhase := "A"
	for _, e := range intake.RegionalElements() {
		t.Run(e.Code, func(t *testing.T) {
			if !fourLetters.MatchString(e.Code) {
				t.Errorf("code %q is not four capital letters", e.Code)
			}
			if codes[e.Code] {
				t.Errorf("code %s twice", e.Code)
			}
			codes[e.Code] = true
			if e.Field == "" || fields[e.Field] {
				t.Errorf("field %q empty or mapped twice", e.Field)
			}
			fields[e.Field] = true
			if !slices.Contains([]string{"A", "B", "C", "D", "E"}, e.Phase) {
				t.Errorf("phase %q", e.Phase)
			}
			if e.Phase < lastPhase {
				t.Errorf("phase %s after phase %s: the table is in phase order", e.Phase, lastPhase)
			}
			lastPhase = e.Phase
			if e.Label == "" {
				t.Error("no label")
			}
			if !types[e.Type] {
				t.Errorf("type %q", e.Type)
			}
			if len(e.Sources) == 0 {
				t.Error("no sources")
			}
			for _, s := range e.Sources {
				if !sources[s] {
					t.Errorf("source %q", s)
				}
			}
			if (e.Phase == "D") == slices.Contains(e.Sources, "intake") {
				t.Errorf("phase %s filled by %v: phase D belongs to interventions and fna, the others to intake", e.Phase, e.Sources)
			}
			coded := e.Type == "code" || e.Type == "code_list"
			if coded != (e.List != "") || coded != (e.Values != nil) {
				t.Errorf("type %s with list %q and %d values", e.Type, e.List, len(e.Values))
			}
		})
	}
}

// TestRegionalValuesComplete checks that every code of every list that a mapped field uses has
// a regional value, and that no value maps a code the list does not have.
func TestRegionalValuesComplete(t *testing.T) {
	for _, e := range intake.RegionalElements() {
		if e.List == "" {
			continue
		}
		t.Run(e.Code, func(t *testing.T) {
			l, ok := intake.Lookup(e.List)
			if !ok {
				t.Fatalf("list %q does not exist", e.List)
			}
			for _, c := range l.Codes {
				if v, ok := e.Value(c.Code); !ok || v == "" {
					t.Errorf("%s: code %s of %s has no regional value", e.Field, c.Code, e.List)
				}
			}
			for k := range e.Values {
				if !l.Has(k) {
					t.Errorf("%s: value for %q, not a code of %s", e.Field, k, e.List)
				}
			}
		})
	}
}

// TestRegionalAreaThroughTaxonomy checks that AMIR reaches a regional value for every area
// of the taxonomy through its national area, also for an area an ambito adds.
func TestRegionalAreaThroughTaxonomy(t *testing.T) {
	amir, ok := intake.RegionalElementFor("access.requested_area")
	if !ok || amir.Code != "AMIR" || amir.List != "national_area" {
		t.Fatalf("access.requested_area maps to %+v, %v", amir, ok)
	}
	tax, err := intake.BaseTaxonomy().Extend([]intake.Area{{Code: "SAM", Label: "Salute mentale",
		NationalArea: "disability", BenefitArea: 2, Needs: []intake.Need{{Code: "SAM.01", Label: "Residenzialità leggera"}}}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range tax.Areas {
		if _, ok := amir.Value(a.NationalArea); !ok {
			t.Errorf("area %s (%s) has no AMIR value", a.Code, a.NationalArea)
		}
	}
}

// TestRegionalCodesOfDomain checks that the element codes DOMAIN.md names are present, in their
// phase, on their field, and are the only ones not marked as placeholders.
func TestRegionalCodesOfDomain(t *testing.T) {
	type named struct{ Code, Phase, Field string }
	want := []named{
		{"AMIR", "A", "access.requested_area"},
		{"IMER", "D", "delivery.amount_paid"},
		{"ISEE", "A", "access.isee_value"},
		{"MOCO", "A", "access.channel"},
		{"MOCP", "E", "closure.reason"},
		{"TIRI", "A", "access.request_type"},
		{"VMBS", "D", "delivery.monthly_buono_value"},
	}
	var got []named
	for _, e := range intake.RegionalElements() {
		if !e.Placeholder {
			got = append(got, named{e.Code, e.Phase, e.Field})
		}
	}
	sort.Slice(got, func(i, j int) bool { return got[i].Code < got[j].Code })
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("regional (non-placeholder) elements (-got +want):\n%s", diff)
	}
	for _, code := range []string{"VMBS", "IMER"} {
		for _, e := range intake.RegionalElements() {
			if e.Code == code && e.Note == "" {
				t.Errorf("%s: the note must say which service fills it", code)
			}
		}
	}
}

// TestRegionalCoverage checks that every phase has elements and that every code list is either
// mapped or deliberately kept internal: a new list must be decided on.
func TestRegionalCoverage(t *testing.T) {
	phases := map[string]int{}
	mapped := map[string]bool{}
	for _, e := range intake.RegionalElements() {
		phases[e.Phase]++
		mapped[e.List] = true
	}
	for _, p := range []string{"A", "B", "C", "D", "E"} {
		if phases[p] == 0 {
			t.Errorf("phase %s has no element", p)
		}
	}
	var internal []string
	for _, l := range intake.CodeLists() {
		if !mapped[l.Name] {
			internal = append(internal, l.Name)
		}
	}
	want := []string{"case_status", "suspension_reason", "diary_visibility", "inps_benefit", "benefit_area"}
	if diff := cmp.Diff(internal, want); diff != "" {
		t.Errorf("code lists without a regional element (-got +want):\n%s", diff)
	}
}

func TestRegionalElementFor(t *testing.T) {
	tests := []struct {
		field string
		want  string
		ok    bool
	}{
		{"access.request_type", "TIRI", true},
		{"access.channel", "MOCO", true},
		{"access.isee_value", "ISEE", true},
		{"closure.reason", "MOCP", true},
		{"delivery.monthly_buono_value", "VMBS", true},
		{"plan.services[].service_type", "SERV", true},
		{"access.requestType", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.field, func(t *testing.T) {
			e, ok := intake.RegionalElementFor(tt.field)
			if ok != tt.ok || e.Code != tt.want {
				t.Errorf("RegionalElementFor(%q) = %q, %v; want %q, %v", tt.field, e.Code, ok, tt.want, tt.ok)
			}
		})
	}
	e, _ := intake.RegionalElementFor("access.request_type")
	if v, ok := e.Value("report"); !ok || v == "" {
		t.Errorf("TIRI value of report = %q, %v", v, ok)
	}
	e.Values["report"] = "changed"
	if e, _ := intake.RegionalElementFor("access.request_type"); e.Values["report"] == "changed" {
		t.Error("changing a returned element changed the shipped table")
	}
}
