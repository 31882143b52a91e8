package intake_test

import (
	"regexp"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/valid"
	"github.com/csi-lombardia/csi/services/intake"
)

func TestCodeListNames(t *testing.T) {
	var got []string
	for _, l := range intake.CodeLists() {
		got = append(got, l.Name)
	}
	want := []string{
		"channel", "referrer", "request_type", "outcome", "income_area", "isee_type", "occupation",
		"household_type", "case_status", "suspension_reason", "closure_reason", "diary_visibility",
		"invalidity_status", "disability_status", "benefit", "aid", "intervention_kind",
		"service_type", "inps_benefit", "frequency", "result", "national_area", "benefit_area",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("lists (-got +want):\n%s", diff)
	}
}

// TestCodeListsWellFormed checks every list: a label, at least two codes, codes unique and
// of a stable syntax, Italian labels that are single-line text.
func TestCodeListsWellFormed(t *testing.T) {
	syntax := regexp.MustCompile(`^([a-z0-9]+(_[a-z0-9]+)*|[A-Z]+|A[0-9]\.[0-9]{2})$`)
	for _, l := range intake.CodeLists() {
		t.Run(l.Name, func(t *testing.T) {
			if l.Label == "" || !valid.LineOK(l.Label) {
				t.Errorf("list label %q", l.Label)
			}
			if len(l.Codes) < 2 {
				t.Errorf("%d codes", len(l.Codes))
			}
			seen := map[string]bool{}
			for _, c := range l.Codes {
				if seen[c.Code] {
					t.Errorf("code %q twice", c.Code)
				}
				seen[c.Code] = true
				if !syntax.MatchString(c.Code) {
					t.Errorf("code %q: bad syntax", c.Code)
				}
				if c.Label == "" || !valid.LineOK(c.Label) {
					t.Errorf("code %s: label %q", c.Code, c.Label)
				}
				if len(c.INPS) > 0 && l.Name != "service_type" {
					t.Errorf("code %s: INPS codes outside service_type", c.Code)
				}
			}
		})
	}
}

// TestCodeListContents pins the lists whose codes DOMAIN.md or the data flows fix.
func TestCodeListContents(t *testing.T) {
	tests := []struct {
		list string
		want []string
	}{
		{"channel", []string{"in_person", "phone", "email", "home_visit", "referral"}},
		{"referrer", []string{"self", "family", "school", "health_service", "court", "law_enforcement", "other_service", "third_sector", "other"}},
		{"outcome", []string{"information", "orientation", "referral", "taken_into_care"}},
		{"isee_type", []string{"ordinario", "sociosanitario", "minorenni", "universitario", "corrente", "residenziale"}},
		{"case_status", []string{"open", "suspended", "closed"}},
		{"closure_reason", []string{"goals_reached", "moved_away", "death", "refused", "transferred_to_other_service", "admitted_residential", "no_longer_eligible", "coming_of_age", "other"}},
		{"diary_visibility", []string{"team", "social_service", "cooperative"}},
		{"disability_status", []string{"none", "pending", "l104_art3_c1", "l104_art3_c3", "unknown"}},
		{"service_type", []string{"SAD", "SADH", "ADH", "ADM", "AES"}},
		{"inps_benefit", []string{"A1.11", "A2.02", "A2.07", "A2.08", "A2.11"}},
		{"result", []string{"reached", "partly_reached", "not_reached"}},
		{"national_area", []string{"families_minors", "disability", "addictions", "elderly", "immigrants", "poverty", "multi_user"}},
		{"benefit_area", []string{"1", "2", "3"}},
	}
	for _, tt := range tests {
		t.Run(tt.list, func(t *testing.T) {
			l, ok := intake.Lookup(tt.list)
			if !ok {
				t.Fatalf("no list %q", tt.list)
			}
			var got []string
			for _, c := range l.Codes {
				got = append(got, c.Code)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("codes (-got +want):\n%s", diff)
			}
		})
	}
}

// TestServiceTypesINPS checks DOMAIN.md's service types table: the national benefit code of
// each service type, per setting, and that every one is in the inps_benefit list.
func TestServiceTypesINPS(t *testing.T) {
	l, _ := intake.Lookup("service_type")
	got := map[string][]intake.INPSCode{}
	for _, c := range l.Codes {
		got[c.Code] = c.INPS
	}
	want := map[string][]intake.INPSCode{
		"SAD":  {{Code: "A2.07"}},
		"SADH": {{Code: "A2.07"}},
		"ADH":  {{Code: "A2.02", Setting: "home"}, {Code: "A2.11", Setting: "school"}},
		"ADM":  {{Code: "A2.02"}},
		"AES":  {{Code: "A2.11"}},
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("INPS codes (-got +want):\n%s", diff)
	}
	inps, _ := intake.Lookup("inps_benefit")
	for code, codes := range got {
		for _, c := range codes {
			if !inps.Has(c.Code) {
				t.Errorf("%s: INPS code %s is not in inps_benefit", code, c.Code)
			}
		}
	}
}

func TestLookup(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"channel", true},
		{"closure_reason", true},
		{"Channel", false},
		{"channels", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l, ok := intake.Lookup(tt.name)
			if ok != tt.ok || (ok && l.Name != tt.name) {
				t.Errorf("Lookup(%q) = %q, %v; want ok %v", tt.name, l.Name, ok, tt.ok)
			}
		})
	}
}

func TestCodeListHas(t *testing.T) {
	l, _ := intake.Lookup("case_status")
	tests := []struct {
		code string
		want bool
	}{
		{"open", true},
		{"suspended", true},
		{"closed", true},
		{"Open", false},
		{"open ", false},
		{"aperta", false},
		{"", false},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := l.Has(tt.code); got != tt.want {
				t.Errorf("Has(%q) = %v, want %v", tt.code, got, tt.want)
			}
		})
	}
}

func TestCodeListCheck(t *testing.T) {
	l, _ := intake.Lookup("channel")
	oneOf := "must be one of in_person, phone, email, home_visit, referral"
	tests := []struct {
		name     string
		code     string
		required bool
		want     []errs.FieldError
	}{
		{"known required", "phone", true, nil},
		{"known optional", "home_visit", false, nil},
		{"empty optional", "", false, nil},
		{"empty required", "", true, []errs.FieldError{{Field: "channel", Message: "is required"}}},
		{"unknown optional", "fax", false, []errs.FieldError{{Field: "channel", Message: oneOf}}},
		{"unknown required", "telefono", true, []errs.FieldError{{Field: "channel", Message: oneOf}}},
		{"case matters", "PHONE", true, []errs.FieldError{{Field: "channel", Message: oneOf}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f errs.Fields
			l.Check(&f, "channel", tt.code, tt.required)
			if diff := cmp.Diff([]errs.FieldError(f), tt.want); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCodeListCheckAll(t *testing.T) {
	l, _ := intake.Lookup("aid")
	var f errs.Fields
	l.CheckAll(&f, "aids", []string{"wheelchair", "jetpack", "walker", "wheelchair", ""})
	want := []errs.FieldError{
		{Field: "aids[1]", Message: "must be one of wheelchair, walker, hoist, care_bed, pressure_mattress, incontinence_aids, hearing_aid, communication_aid, oxygen, other"},
		{Field: "aids[3]", Message: "repeats aids[0]"},
		{Field: "aids[4]", Message: "is required"},
	}
	if diff := cmp.Diff([]errs.FieldError(f), want); diff != "" {
		t.Errorf("fields (-got +want):\n%s", diff)
	}
}

func TestCodeListsAreCopies(t *testing.T) {
	l, _ := intake.Lookup("service_type")
	l.Codes[2].INPS[0].Code = "X"
	intake.CodeLists()[0].Codes[0].Code = "changed"
	if l, _ := intake.Lookup("service_type"); l.Codes[2].INPS[0].Code != "A2.02" {
		t.Error("changing a returned list changed the shipped data")
	}
	if l := intake.CodeLists()[0]; l.Codes[0].Code != "in_person" {
		t.Error("changing a returned list changed the shipped data")
	}
}
