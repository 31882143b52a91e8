package valid

import (
	"strings"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/errs"
)

func messages(f errs.Fields) string {
	var out []string
	for _, e := range f {
		out = append(out, e.Field+" "+e.Message)
	}
	return strings.Join(out, "; ")
}

func TestText(t *testing.T) {
	for _, tc := range []struct {
		name       string
		v          string
		line, text string // the field error of Line and of Text ("" for none)
	}{
		{"plain", "Maria Rossi", "", ""},
		{"accents and symbols", "Niccolò D'Àrco – €", "", ""},
		{"blank is required", "  ", "x is required", "x is required"},
		{"NUL", "a\x00b", "x must not contain control characters", "x must not contain control characters"},
		{"escape", "a\x1bb", "x must not contain control characters", "x must not contain control characters"},
		{"DEL", "a\x7fb", "x must not contain control characters", "x must not contain control characters"},
		{"C1 next line", "a\u0085b", "x must not contain control characters", "x must not contain control characters"},
		{"C1 last", "a\u009fb", "x must not contain control characters", "x must not contain control characters"},
		{"tab", "a\tb", "x must not contain control characters", ""},
		{"line breaks", "a\r\nb\nc", "x must not contain control characters", ""},
		{"invalid UTF-8", "a\xffb", "x must not contain control characters", "x must not contain control characters"},
		{"too long", strings.Repeat("é", 21), "x must be at most 20 characters", "x must be at most 20 characters"},
		{"at the limit", strings.Repeat("é", 20), "", ""},
		{"after C1", "a\u00a0b", "", ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var line, text errs.Fields
			Line(&line, "x", tc.v, true, 20)
			Text(&text, "x", tc.v, true, 20)
			if got := messages(line); got != tc.line {
				t.Errorf("Line(%q) = %q, want %q", tc.v, got, tc.line)
			}
			if got := messages(text); got != tc.text {
				t.Errorf("Text(%q) = %q, want %q", tc.v, got, tc.text)
			}
		})
	}
}

func TestDate(t *testing.T) {
	today := time.Date(2026, 3, 15, 23, 30, 0, 0, time.UTC)
	for _, tc := range []struct {
		name string
		v    string
		r    Range
		want string // the field error ("" for none)
	}{
		{"suite date", "2024-01-02", Suite, ""},
		{"suite first day", "2000-01-01", Suite, ""},
		{"suite last day", "2100-12-31", Suite, ""},
		{"before the suite", "1999-12-31", Suite, "d must be from 2000-01-01 to 2100-12-31"},
		{"after 2100", "2101-01-01", Suite, "d must be from 2000-01-01 to 2100-12-31"},
		{"year 0000", "0000-01-01", Stored, "d must be from 0001-01-01 to 9999-12-31"},
		{"year 0000 in the suite", "0000-01-01", Suite, "d must be from 2000-01-01 to 2100-12-31"},
		{"year 0001 stored", "0001-01-01", Stored, ""},
		{"year 9999 stored", "9999-12-31", Stored, ""},
		{"year 10000", "10000-01-01", Stored, "d must be a date YYYY-MM-DD"},
		{"negative year", "-0001-01-01", Stored, "d must be a date YYYY-MM-DD"},
		{"year 294277", "294277-01-01", Stored, "d must be a date YYYY-MM-DD"},
		{"not a day", "2024-02-30", Suite, "d must be a date YYYY-MM-DD"},
		{"timestamp", "2024-01-02T10:00:00Z", Suite, "d must be a date YYYY-MM-DD"},
		{"birth 1900", "1900-01-01", Birth(today), ""},
		{"birth 1899", "1899-12-31", Birth(today), "d must be from 1900-01-01 and not in the future"},
		{"birth today", "2026-03-15", Birth(today), ""},
		{"birth tomorrow", "2026-03-16", Birth(today), "d must be from 1900-01-01 and not in the future"},
		{"birth today, just after midnight in Rome", "2026-03-16", Birth(time.Date(2026, 3, 16, 0, 30, 0, 0, time.FixedZone("CET", 3600))), ""},
		{"life 1950", "1950-06-01", Life, ""},
		{"life 2101", "2101-01-01", Life, "d must be from 1900-01-01 to 2100-12-31"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f errs.Fields
			got, ok := Date(&f, "d", tc.v, tc.r)
			if msg := messages(f); msg != tc.want {
				t.Errorf("Date(%q) error = %q, want %q", tc.v, msg, tc.want)
			}
			if ok != (tc.want == "") || ok && got.Format(time.DateOnly) != tc.v {
				t.Errorf("Date(%q) = %v, %v", tc.v, got, ok)
			}
		})
	}
}

func TestTime(t *testing.T) {
	for _, tc := range []struct {
		name string
		v    string
		r    Range
		want string
	}{
		{"suite", "2024-01-02T10:00:00Z", Suite, ""},
		{"offset", "2024-01-02T10:00:00+01:00", Suite, ""},
		{"before the suite", "1999-12-31T23:59:59Z", Suite, "t must be from 2000-01-01 to 2100-12-31"},
		{"first instant in UTC", "2000-01-01T00:30:00+01:00", Suite, "t must be from 2000-01-01 to 2100-12-31"},
		{"far future", "2999-01-01T00:00:00Z", Suite, "t must be from 2000-01-01 to 2100-12-31"},
		{"year 0000", "0000-01-01T00:00:00Z", Stored, "t must be from 0001-01-01 to 9999-12-31"},
		{"year 0001 in UTC is 0000", "0001-01-01T00:30:00+01:00", Stored, "t must be from 0001-01-01 to 9999-12-31"},
		{"year 9999", "9999-12-31T23:59:59Z", Stored, ""},
		{"year 10000", "10000-01-01T00:00:00Z", Stored, "t must be an RFC 3339 timestamp"},
		{"date only", "2024-01-02", Suite, "t must be an RFC 3339 timestamp"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f errs.Fields
			_, ok := Time(&f, "t", tc.v, tc.r)
			if msg := messages(f); msg != tc.want {
				t.Errorf("Time(%q) error = %q, want %q", tc.v, msg, tc.want)
			}
			if ok != (tc.want == "") {
				t.Errorf("Time(%q) ok = %v", tc.v, ok)
			}
		})
	}
}

func TestEmailAndID(t *testing.T) {
	for _, tc := range []struct {
		name     string
		v        string
		required bool
		email    string // the field error of Email ("" for none)
	}{
		{"address", "anna.rossi@comune.milano.it", true, ""},
		{"blank optional", "", false, ""},
		{"blank required", " ", true, "x is required"},
		{"no at", "anna.rossi", true, "x must be an e-mail address"},
		{"no dot in the domain", "anna@localhost", true, "x must be an e-mail address"},
		{"display name", "Anna <anna@example.org>", true, "x must be an e-mail address"},
		{"spaces around", " anna@example.org", true, "x must be an e-mail address"},
		{"too long", strings.Repeat("a", 250) + "@b.it", true, "x must be an e-mail address"},
		{"NUL", "an\x00na@example.org", true, "x must be an e-mail address"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var f errs.Fields
			Email(&f, "x", tc.v, tc.required)
			if got := messages(f); got != tc.email {
				t.Errorf("Email(%q) = %q, want %q", tc.v, got, tc.email)
			}
		})
	}
	var f errs.Fields
	if _, ok := ID(&f, "id", "0190c0de-0000-7000-8000-000000000002"); !ok || len(f) != 0 {
		t.Errorf("ID of a UUID: %v %v", ok, f)
	}
	if _, ok := ID(&f, "id", "42"); ok || messages(f) != "id is not an id" {
		t.Errorf("ID of 42: %v %q", ok, messages(f))
	}
}
