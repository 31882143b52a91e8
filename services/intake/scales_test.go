package intake_test

import (
	"errors"
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/services/intake"
)

// scoredOption is one row of a scoring table: scale, version, item, option, score.
type scoredOption struct {
	Scale   string
	Version int
	Item    string
	Option  string
	Score   int
}

// adlTable is Katz's ADL as DOMAIN.md states it: six items, independent 1, dependent 0;
// continence with occasional accidents or a catheter 0.
func adlTable() []scoredOption {
	var rows []scoredOption
	for _, item := range []string{"bathing", "dressing", "toileting", "transferring", "continence", "feeding"} {
		rows = append(rows, scoredOption{"adl", 1, item, "independent", 1})
		if item == "continence" {
			rows = append(rows,
				scoredOption{"adl", 1, item, "occasional_accidents", 0},
				scoredOption{"adl", 1, item, "catheter", 0})
		}
		rows = append(rows, scoredOption{"adl", 1, item, "dependent", 0})
	}
	return rows
}

// iadlTable is the Lawton–Brody option table of DOMAIN.md (the original version), with the
// score of "needs help with all home tasks" as the version gives it.
func iadlTable(version, needsHelpAllTasks int) []scoredOption {
	type opt struct {
		code  string
		score int
	}
	items := []struct {
		item    string
		options []opt
	}{
		{"telephone", []opt{{"uses_on_own_initiative", 1}, {"dials_few_known_numbers", 1}, {"answers_does_not_dial", 1}, {"does_not_use", 0}}},
		{"shopping", []opt{{"independent", 1}, {"small_purchases_only", 0}, {"must_be_accompanied", 0}, {"unable", 0}}},
		{"food_preparation", []opt{{"plans_and_prepares", 1}, {"prepares_if_given_ingredients", 0}, {"heats_serves_or_inadequate", 0}, {"needs_meals_served", 0}}},
		{"housekeeping", []opt{{"alone_or_occasional_heavy_help", 1}, {"light_tasks", 1}, {"light_tasks_not_adequately", 1}, {"needs_help_all_tasks", needsHelpAllTasks}, {"does_not_take_part", 0}}},
		{"laundry", []opt{{"all_own", 1}, {"small_items", 1}, {"all_by_others", 0}}},
		{"transportation", []opt{{"public_transport_or_drives", 1}, {"taxi_only", 1}, {"public_transport_accompanied", 1}, {"taxi_or_car_with_help", 0}, {"does_not_travel", 0}}},
		{"medication", []opt{{"right_dose_and_time", 1}, {"if_prepared_in_advance", 0}, {"unable", 0}}},
		{"finances", []opt{{"independently", 1}, {"day_to_day_only", 1}, {"unable", 0}}},
	}
	var rows []scoredOption
	for _, it := range items {
		for _, o := range it.options {
			rows = append(rows, scoredOption{"iadl", version, it.item, o.code, o.score})
		}
	}
	return rows
}

func wantTable() []scoredOption {
	rows := adlTable()
	rows = append(rows, iadlTable(1, 1)...)
	return append(rows, iadlTable(2, 0)...)
}

func tableOf(scales []intake.Scale) []scoredOption {
	var rows []scoredOption
	for _, s := range scales {
		for _, it := range s.Items {
			for _, o := range it.Options {
				rows = append(rows, scoredOption{s.Code, s.Version, it.Code, o.Code, o.Score})
			}
		}
	}
	return rows
}

// TestScaleTables compares the shipped data, option by option, with DOMAIN.md's tables: no
// option missing, none added, every score as stated, in the order the assessor reads them.
func TestScaleTables(t *testing.T) {
	if diff := cmp.Diff(tableOf(intake.Scales()), wantTable()); diff != "" {
		t.Errorf("scoring tables (-got +want):\n%s", diff)
	}
}

// TestScaleVersionsDifferOnlyInData checks that IADL v2 is v1 with one score changed: the
// difference between the versions is a row of data.
func TestScaleVersionsDifferOnlyInData(t *testing.T) {
	v1, ok1 := intake.LookupScale("iadl", 1)
	v2, ok2 := intake.LookupScale("iadl", 2)
	if !ok1 || !ok2 {
		t.Fatalf("LookupScale iadl 1, 2 = %v, %v", ok1, ok2)
	}
	a, b := tableOf([]intake.Scale{v1}), tableOf([]intake.Scale{v2})
	if len(a) != len(b) {
		t.Fatalf("v1 has %d options, v2 %d", len(a), len(b))
	}
	var diffs []string
	for i := range a {
		if a[i].Item != b[i].Item || a[i].Option != b[i].Option {
			t.Fatalf("option %d: v1 %s.%s, v2 %s.%s", i, a[i].Item, a[i].Option, b[i].Item, b[i].Option)
		}
		if a[i].Score != b[i].Score {
			diffs = append(diffs, fmt.Sprintf("%s.%s %d→%d", a[i].Item, a[i].Option, a[i].Score, b[i].Score))
		}
	}
	if diff := cmp.Diff(diffs, []string{"housekeeping.needs_help_all_tasks 1→0"}); diff != "" {
		t.Errorf("v1 → v2 differences (-got +want):\n%s", diff)
	}
	for i := range v1.Items {
		if v1.Items[i].Label != v2.Items[i].Label {
			t.Errorf("item %s: label changed between versions", v1.Items[i].Code)
		}
	}
}

// lowest answers every item of s with its last option scoring 0.
func lowest(s intake.Scale) map[string]string {
	answers := map[string]string{}
	for _, it := range s.Items {
		for _, o := range it.Options {
			if o.Score == 0 {
				answers[it.Code] = o.Code
			}
		}
	}
	return answers
}

// highest answers every item of s with its first option, the highest level of functioning.
func highest(s intake.Scale) map[string]string {
	answers := map[string]string{}
	for _, it := range s.Items {
		answers[it.Code] = it.Options[0].Code
	}
	return answers
}

func with(answers map[string]string, kv ...string) map[string]string {
	out := map[string]string{}
	for k, v := range answers {
		out[k] = v
	}
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == "-" {
			delete(out, kv[i])
		} else {
			out[kv[i]] = kv[i+1]
		}
	}
	return out
}

// TestScoreEachOption scores every option of every item of every version through Score: the
// item under test answered with the option, every other item with a 0 option, so the total is
// the option's score.
func TestScoreEachOption(t *testing.T) {
	for _, row := range wantTable() {
		t.Run(fmt.Sprintf("%s v%d %s=%s", row.Scale, row.Version, row.Item, row.Option), func(t *testing.T) {
			s, ok := intake.LookupScale(row.Scale, row.Version)
			if !ok {
				t.Fatalf("no scale %s v%d", row.Scale, row.Version)
			}
			got, err := s.Score(with(lowest(s), row.Item, row.Option))
			if err != nil {
				t.Fatalf("Score: %v", err)
			}
			want := intake.ScaleResult{Scale: row.Scale, Version: row.Version, Score: row.Score,
				Max: len(s.Items), LostFunctions: len(s.Items) - row.Score}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("result (-got +want):\n%s", diff)
			}
		})
	}
}

func TestScoreTotals(t *testing.T) {
	adl, _ := intake.LookupScale("adl", 1)
	iadl1, _ := intake.LookupScale("iadl", 1)
	iadl2, _ := intake.LookupScale("iadl", 2)
	// An elderly woman who phones, shops small, heats meals, needs help with all home tasks,
	// washes small items, takes a taxi with help, takes prepared medicines, handles day-to-day
	// money: every item scored, as Italian services do for everyone.
	mixed := map[string]string{
		"telephone": "dials_few_known_numbers", "shopping": "small_purchases_only",
		"food_preparation": "heats_serves_or_inadequate", "housekeeping": "needs_help_all_tasks",
		"laundry": "small_items", "transportation": "taxi_or_car_with_help",
		"medication": "if_prepared_in_advance", "finances": "day_to_day_only",
	}
	tests := []struct {
		name    string
		scale   intake.Scale
		answers map[string]string
		want    intake.ScaleResult
	}{
		{"adl fully independent", adl, highest(adl), intake.ScaleResult{Scale: "adl", Version: 1, Score: 6, Max: 6, LostFunctions: 0}},
		{"adl fully dependent", adl, lowest(adl), intake.ScaleResult{Scale: "adl", Version: 1, Score: 0, Max: 6, LostFunctions: 6}},
		{"adl catheter only", adl, with(highest(adl), "continence", "catheter"), intake.ScaleResult{Scale: "adl", Version: 1, Score: 5, Max: 6, LostFunctions: 1}},
		{"adl occasional accidents only", adl, with(highest(adl), "continence", "occasional_accidents"), intake.ScaleResult{Scale: "adl", Version: 1, Score: 5, Max: 6, LostFunctions: 1}},
		{"adl bathing and dressing lost", adl, with(highest(adl), "bathing", "dependent", "dressing", "dependent"), intake.ScaleResult{Scale: "adl", Version: 1, Score: 4, Max: 6, LostFunctions: 2}},
		{"iadl v1 independent", iadl1, highest(iadl1), intake.ScaleResult{Scale: "iadl", Version: 1, Score: 8, Max: 8, LostFunctions: 0}},
		{"iadl v2 independent", iadl2, highest(iadl2), intake.ScaleResult{Scale: "iadl", Version: 2, Score: 8, Max: 8, LostFunctions: 0}},
		{"iadl v1 all lost", iadl1, lowest(iadl1), intake.ScaleResult{Scale: "iadl", Version: 1, Score: 0, Max: 8, LostFunctions: 8}},
		{"iadl v1 mixed", iadl1, mixed, intake.ScaleResult{Scale: "iadl", Version: 1, Score: 4, Max: 8, LostFunctions: 4}},
		{"iadl v2 mixed: help with all home tasks scores 0", iadl2, mixed, intake.ScaleResult{Scale: "iadl", Version: 2, Score: 3, Max: 8, LostFunctions: 5}},
		{"iadl v1 independent but housekeeping", iadl1, with(highest(iadl1), "housekeeping", "needs_help_all_tasks"), intake.ScaleResult{Scale: "iadl", Version: 1, Score: 8, Max: 8, LostFunctions: 0}},
		{"iadl v2 independent but housekeeping", iadl2, with(highest(iadl2), "housekeeping", "needs_help_all_tasks"), intake.ScaleResult{Scale: "iadl", Version: 2, Score: 7, Max: 8, LostFunctions: 1}},
		{"iadl v2 housekeeping light tasks not adequately still 1", iadl2, with(lowest(iadl2), "housekeeping", "light_tasks_not_adequately"), intake.ScaleResult{Scale: "iadl", Version: 2, Score: 1, Max: 8, LostFunctions: 7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.scale.Score(tt.answers)
			if err != nil {
				t.Fatalf("Score: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("result (-got +want):\n%s", diff)
			}
		})
	}
}

func fieldsOf(t *testing.T, err error) []errs.FieldError {
	t.Helper()
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v is not an *errs.Error", err)
	}
	if e.Kind != errs.Invalid {
		t.Errorf("kind = %v, want invalid", e.Kind)
	}
	return e.Fields
}

func TestScoreRefused(t *testing.T) {
	adl, _ := intake.LookupScale("adl", 1)
	iadl, _ := intake.LookupScale("iadl", 2)
	tests := []struct {
		name    string
		scale   intake.Scale
		answers map[string]string
		want    []errs.FieldError
	}{
		{"no answers", adl, nil, []errs.FieldError{
			{Field: "answers.bathing", Message: "is required"},
			{Field: "answers.dressing", Message: "is required"},
			{Field: "answers.toileting", Message: "is required"},
			{Field: "answers.transferring", Message: "is required"},
			{Field: "answers.continence", Message: "is required"},
			{Field: "answers.feeding", Message: "is required"},
		}},
		{"one item missing", adl, with(highest(adl), "feeding", "-"), []errs.FieldError{
			{Field: "answers.feeding", Message: "is required"},
		}},
		{"empty option", adl, with(highest(adl), "feeding", ""), []errs.FieldError{
			{Field: "answers.feeding", Message: "is required"},
		}},
		{"unknown option", adl, with(highest(adl), "continence", "sometimes"), []errs.FieldError{
			{Field: "answers.continence", Message: "must be one of independent, occasional_accidents, catheter, dependent"},
		}},
		{"option of another item", adl, with(highest(adl), "bathing", "catheter"), []errs.FieldError{
			{Field: "answers.bathing", Message: "must be one of independent, dependent"},
		}},
		{"option of another scale", iadl, with(highest(iadl), "telephone", "independent"), []errs.FieldError{
			{Field: "answers.telephone", Message: "must be one of uses_on_own_initiative, dials_few_known_numbers, answers_does_not_dial, does_not_use"},
		}},
		{"option code in another case", iadl, with(highest(iadl), "laundry", "ALL_OWN"), []errs.FieldError{
			{Field: "answers.laundry", Message: "must be one of all_own, small_items, all_by_others"},
		}},
		{"unknown items, sorted", adl, with(highest(adl), "walking", "independent", "telephone", "uses_on_own_initiative"), []errs.FieldError{
			{Field: "answers.telephone", Message: "is not an item of adl version 1"},
			{Field: "answers.walking", Message: "is not an item of adl version 1"},
		}},
		{"iadl answers to adl", adl, highest(iadl), append(
			fieldsOfAll("is required", "bathing", "dressing", "toileting", "transferring", "continence", "feeding"),
			fieldsOfAll("is not an item of adl version 1", "finances", "food_preparation", "housekeeping", "laundry", "medication", "shopping", "telephone", "transportation")...)},
		{"missing, unknown option and unknown item together", iadl, with(highest(iadl), "shopping", "-", "finances", "yes", "mobility", "1"), []errs.FieldError{
			{Field: "answers.shopping", Message: "is required"},
			{Field: "answers.finances", Message: "must be one of independently, day_to_day_only, unable"},
			{Field: "answers.mobility", Message: "is not an item of iadl version 2"},
		}},
		{"unknown scale", intake.LatestScale("barthel"), map[string]string{"bathing": "independent"}, []errs.FieldError{
			{Field: "scale", Message: "is not a known scale"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.scale.Score(tt.answers)
			if err == nil {
				t.Fatalf("Score = %+v, want an error", got)
			}
			if diff := cmp.Diff(fieldsOf(t, err), tt.want); diff != "" {
				t.Errorf("fields (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(got, intake.ScaleResult{}); diff != "" {
				t.Errorf("a refused answer set gave a result:\n%s", diff)
			}
		})
	}
}

func fieldsOfAll(message string, items ...string) []errs.FieldError {
	var out []errs.FieldError
	for _, it := range items {
		out = append(out, errs.FieldError{Field: "answers." + it, Message: message})
	}
	return out
}

func TestLookupScale(t *testing.T) {
	tests := []struct {
		code    string
		version int
		ok      bool
		items   int
	}{
		{"adl", 1, true, 6},
		{"adl", 2, false, 0},
		{"iadl", 1, true, 8},
		{"iadl", 2, true, 8},
		{"iadl", 3, false, 0},
		{"iadl", 0, false, 0},
		{"IADL", 1, false, 0},
		{"", 1, false, 0},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s v%d", tt.code, tt.version), func(t *testing.T) {
			s, ok := intake.LookupScale(tt.code, tt.version)
			if ok != tt.ok || len(s.Items) != tt.items {
				t.Errorf("LookupScale = %d items, %v; want %d, %v", len(s.Items), ok, tt.items, tt.ok)
			}
			if ok && (s.Code != tt.code || s.Version != tt.version || s.Name == "" || s.Note == "") {
				t.Errorf("LookupScale = %s v%d name %q note %q", s.Code, s.Version, s.Name, s.Note)
			}
		})
	}
}

func TestLatestScale(t *testing.T) {
	tests := []struct {
		code        string
		wantVersion int
	}{
		{"adl", 1},
		{"iadl", 2},
		{"barthel", 0},
	}
	for _, tt := range tests {
		t.Run(tt.code, func(t *testing.T) {
			if got := intake.LatestScale(tt.code).Version; got != tt.wantVersion {
				t.Errorf("LatestScale(%q).Version = %d, want %d", tt.code, got, tt.wantVersion)
			}
		})
	}
}

// TestScalesAreCopies checks that a caller changing what it got cannot change the scoring of
// the next caller.
func TestScalesAreCopies(t *testing.T) {
	s := intake.LatestScale("iadl")
	s.Items[3].Options[3].Score = 1
	intake.Scales()[0].Items[0].Options[0].Score = 0
	if got := tableOf(intake.Scales()); !cmp.Equal(got, wantTable()) {
		t.Error("changing a returned scale changed the shipped table")
	}
}
