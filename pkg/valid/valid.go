// Package valid holds the suite's rules for the values every service stores: text that
// PostgreSQL can hold and people can read, and dates and timestamps within what the store, Go's
// encodings and the domain accept. Each rule records a field error naming the field, so that a
// value the store would refuse is a 400 and never reaches the database (a 500).
package valid

import (
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Control reports whether r is a control character: C0 (U+0000..U+001F, NUL among them), DEL
// (U+007F) or C1 (U+0080..U+009F).
func Control(r rune) bool { return r < 0x20 || r >= 0x7f && r <= 0x9f }

// LineOK reports whether s is valid UTF-8 single-line text: no control character at all. Names,
// codes, search terms and every query parameter are single-line.
func LineOK(s string) bool { return utf8.ValidString(s) && !strings.ContainsFunc(s, Control) }

// TextOK reports whether s is valid UTF-8 free text: tab, line feed and carriage return (a line
// break) are allowed, no other control character. PostgreSQL refuses only NUL in a text value;
// the other control characters are refused because no person writes them.
func TextOK(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsFunc(s, func(r rune) bool {
		return Control(r) && r != '\t' && r != '\n' && r != '\r'
	})
}

// Line checks a single-line text field: required (not blank) when asked, at most max
// characters, no control characters (LineOK).
func Line(f *errs.Fields, field, v string, required bool, max int) {
	text(f, field, v, required, max, LineOK(v))
}

// Text checks a free-text field: required (not blank) when asked, at most max characters, no
// control characters but tab and line breaks (TextOK).
func Text(f *errs.Fields, field, v string, required bool, max int) {
	text(f, field, v, required, max, TextOK(v))
}

func text(f *errs.Fields, field, v string, required bool, max int, ok bool) {
	switch {
	case strings.TrimSpace(v) == "":
		if required {
			f.Add(field, "is required")
		}
	case utf8.RuneCountInString(v) > max:
		f.Add(field, "must be at most %d characters", max)
	case !ok:
		f.Add(field, "must not contain control characters")
	}
}

// Email checks an e-mail address: a bare address (no display name, no comment), at most 254
// characters, whose domain has a dot. Blank is refused only when required. It is the one e-mail
// rule of the suite (operators, organizations, citizens).
func Email(f *errs.Fields, field, v string, required bool) {
	if strings.TrimSpace(v) == "" {
		if required {
			f.Add(field, "is required")
		}
		return
	}
	a, err := mail.ParseAddress(v)
	if err != nil || a.Address != v || a.Name != "" || len(v) > 254 || !strings.Contains(v[strings.LastIndexByte(v, '@')+1:], ".") {
		f.Add(field, "must be an e-mail address")
	}
}

// ID checks an id (a UUID) and returns it.
func ID(f *errs.Fields, field, v string) (uuid.UUID, bool) {
	id, err := uuid.Parse(v)
	if err != nil {
		f.Add(field, "is not an id")
		return uuid.Nil, false
	}
	return id, true
}

// Range is an inclusive range of dates (or of the days of timestamps).
type Range struct {
	Min, Max time.Time
	// What is said of a value out of range ("must be from 2000-01-01 to 2100-12-31").
	Says string
}

func day(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// The bounds of dates and timestamps, in one place for every service.
//
// What the store accepts is narrower than PostgreSQL's own range (date 4713 BC..5874897 AD,
// timestamptz 4713 BC..294276 AD): Go reads and writes four-digit years only (time.Parse and
// time.Time's JSON encoding fail outside 0000..9999) and PostgreSQL has no year 0000. Stored is
// that common range, the last line of defence of any date or timestamp.
//
// What is plausible is narrower still. People alive or on record were born from 1900 on and not
// in the future (Birth). The suite did not exist before 2000 and plans nothing beyond 2100:
// the validity periods the suite itself records (profiles, accreditations, consents, privacy
// notices) and the timestamps callers filter by fall in Suite. The other dates of a person's life
// (a document's expiry, death, moving away, a household relation or a legal representative's
// appointment, which can predate the suite by decades) fall in Life.
var (
	Stored = Range{Min: day(1, 1, 1), Max: day(9999, 12, 31), Says: "must be from 0001-01-01 to 9999-12-31"}
	Suite  = Range{Min: day(2000, 1, 1), Max: day(2100, 12, 31), Says: "must be from 2000-01-01 to 2100-12-31"}
	Life   = Range{Min: day(1900, 1, 1), Max: day(2100, 12, 31), Says: "must be from 1900-01-01 to 2100-12-31"}
)

// BirthMin is the earliest plausible birth date.
var BirthMin = day(1900, 1, 1)

// Birth is the range of birth dates on the day today (its calendar day where it is, so pass
// the time in the suite's time zone): from 1900-01-01 to today.
func Birth(today time.Time) Range {
	return Range{Min: BirthMin, Max: day(today.Year(), today.Month(), today.Day()), Says: "must be from 1900-01-01 and not in the future"}
}

// Contains reports whether t's day is within r.
func (r Range) Contains(t time.Time) bool {
	d := day(t.Year(), t.Month(), t.Day())
	return !d.Before(r.Min) && !d.After(r.Max)
}

// Date checks a calendar date YYYY-MM-DD within r and returns it (midnight UTC) and whether it
// is valid.
func Date(f *errs.Fields, field, v string, r Range) (time.Time, bool) {
	t, err := time.Parse(time.DateOnly, v)
	if err != nil {
		f.Add(field, "must be a date YYYY-MM-DD")
		return time.Time{}, false
	}
	if !r.Contains(t) || !Stored.Contains(t) {
		f.Add(field, "%s", r.Says)
		return time.Time{}, false
	}
	return t, true
}

// OptDate is Date for an optional date: nil is valid.
func OptDate(f *errs.Fields, field string, v *string, r Range) {
	if v != nil {
		Date(f, field, *v, r)
	}
}

// Time checks an RFC 3339 timestamp whose day (in UTC) is within r and returns it.
func Time(f *errs.Fields, field, v string, r Range) (time.Time, bool) {
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		f.Add(field, "must be an RFC 3339 timestamp")
		return time.Time{}, false
	}
	if u := t.UTC(); !r.Contains(u) || !Stored.Contains(u) {
		f.Add(field, "%s", r.Says)
		return time.Time{}, false
	}
	return t, true
}
