// Package codicefiscale validates and decodes the Italian codice fiscale of natural persons (16
// characters: SSS NNN YY M DD LLLL K), computes it from personal data, and checks the 11-digit
// numeric code of legal persons and provisional codes.
//
// A 16-character code is checked for its character classes, check character, month letter, day
// of birth and, given a places.Catalog, for a birthplace code that was valid on the birth date.
// Omocodic codes (digits replaced by the letters L M N P Q R S T U V) are decoded to their
// canonical form.
//
// Errors wrap one of the exported sentinels, so that errors.Is tells the failures apart, and
// their text is a message for the user without the field name: callers attach it.
package codicefiscale

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"github.com/csi-lombardia/csi/pkg/places"
)

// Now is the reference "today" that resolves the two-digit year of birth. Tests replace it;
// it is read without synchronization, so replace it only while no Parse runs.
var Now = time.Now

// Sex is the sex encoded in the day of birth: Male or Female.
type Sex byte

const (
	// Male is encoded by a day of birth 01–31.
	Male Sex = 'M'
	// Female is encoded by a day of birth plus 40 (41–71).
	Female Sex = 'F'
)

// String returns "M", "F" or, for another value, a quoted description.
func (s Sex) String() string {
	if s == Male || s == Female {
		return string(rune(s))
	}
	return fmt.Sprintf("Sex(%q)", rune(s))
}

// MarshalText encodes the sex as "M" or "F".
func (s Sex) MarshalText() ([]byte, error) {
	if s != Male && s != Female {
		return nil, fmt.Errorf("invalid sex %d", byte(s))
	}
	return []byte{byte(s)}, nil
}

// UnmarshalText decodes "M" or "F" (in either case).
func (s *Sex) UnmarshalText(b []byte) error {
	switch strings.ToUpper(string(b)) {
	case "M":
		*s = Male
	case "F":
		*s = Female
	default:
		return fmt.Errorf("sex must be M or F, not %q", b)
	}
	return nil
}

// The failures of Parse, CheckCharacter and ValidateNumeric. Each error returned wraps one of
// them.
var (
	// ErrLength: the code has the wrong number of characters.
	ErrLength = errors.New("wrong length")
	// ErrCharacters: a character is not allowed at its position.
	ErrCharacters = errors.New("invalid character")
	// ErrCheckCharacter: the last character does not match the first fifteen.
	ErrCheckCharacter = errors.New("wrong check character")
	// ErrMonth: the month letter is not one of A B C D E H L M P R S T.
	ErrMonth = errors.New("invalid month letter")
	// ErrDay: the day is not 01–31 or 41–71, or the date does not exist.
	ErrDay = errors.New("invalid day of birth")
	// ErrUnknownPlace: the birthplace code is not in the catalog.
	ErrUnknownPlace = errors.New("unknown birthplace code")
	// ErrPlaceNotValidOnDate: the birthplace code was not in use on the birth date.
	ErrPlaceNotValidOnDate = errors.New("birthplace code not valid on the birth date")
	// ErrNumericCheckDigit: the last digit of an 11-digit code does not match the first ten.
	ErrNumericCheckDigit = errors.New("wrong check digit")
)

// codeError is a user message that wraps one of the sentinels.
type codeError struct {
	kind error
	msg  string
}

func (e *codeError) Error() string { return e.msg }
func (e *codeError) Unwrap() error { return e.kind }

func fail(kind error, format string, args ...any) error {
	return &codeError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// Code is a decoded codice fiscale.
type Code struct {
	// Value is the code as given, trimmed and upper-cased.
	Value string `json:"value"`
	// Canonical is the code with the omocodic letters turned back into digits and the check
	// character recomputed; equal to Value when the code is not omocodic.
	Canonical string `json:"canonical"`
	// Omocodic reports whether Value has omocodic letters.
	Omocodic bool `json:"omocodic"`
	// SurnameCode is the three characters from the surname.
	SurnameCode string `json:"surname_code"`
	// NameCode is the three characters from the name.
	NameCode string `json:"name_code"`
	// BirthDate is the date of birth at midnight UTC. The two-digit year is read in the most
	// recent century that does not put the birth in the future, or in the century before when
	// only that one fits the validity of the birthplace code.
	BirthDate time.Time `json:"birth_date"`
	// Sex is Male or Female.
	Sex Sex `json:"sex"`
	// Belfiore is the (decoded) cadastral code of the birthplace.
	Belfiore string `json:"belfiore_code"`
	// Place is the birthplace; zero when Parse had no catalog.
	Place places.Place `json:"place,omitzero"`
	// Foreign reports a birth abroad (a Z code).
	Foreign bool `json:"foreign"`
}

// Positions (0-based) of the digits that omocodia replaces, rightmost first.
var omocodicPositions = [7]int{14, 13, 12, 10, 9, 7, 6}

const (
	omocodicLetters = "LMNPQRSTUV" // for the digits 0–9
	monthLetters    = "ABCDEHLMPRST"
)

// class is what a position of a 16-character code holds.
type class uint8

const (
	letter class = iota
	digit        // a digit or an omocodic letter
)

var classes = [16]class{letter, letter, letter, letter, letter, letter, digit, digit, letter, digit, digit, letter, digit, digit, digit, letter}

// oddValues are the values of A–Z (and, at the same index, of 0–9) at the odd positions 1, 3, … 15.
var oddValues = [26]int{1, 0, 5, 7, 9, 13, 15, 17, 19, 21, 2, 4, 18, 20, 11, 3, 6, 8, 12, 14, 16, 10, 22, 25, 24, 23}

// digitOf returns the digit that b stands for: b itself or the omocodic letter's digit.
func digitOf(b byte) (int, bool) {
	if b >= '0' && b <= '9' {
		return int(b - '0'), true
	}
	if i := strings.IndexByte(omocodicLetters, b); i >= 0 {
		return i, true
	}
	return 0, false
}

func isUpper(b byte) bool { return b >= 'A' && b <= 'Z' }

// normalize trims s and upper-cases its ASCII letters only, so that no other character can turn
// into a valid one.
func normalize(s string) string {
	s = strings.TrimSpace(s)
	for i := 0; i < len(s); i++ {
		if s[i] >= 'a' && s[i] <= 'z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if b[j] >= 'a' && b[j] <= 'z' {
					b[j] -= 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}

// checkChar computes the check character of 15 upper-case letters and digits.
func checkChar(s string) byte {
	sum := 0
	for i := 0; i < 15; i++ {
		b := s[i]
		var v int
		if b >= '0' && b <= '9' {
			v = int(b - '0')
		} else {
			v = int(b - 'A')
		}
		if i%2 == 0 { // odd position, counting from 1
			sum += oddValues[v]
		} else {
			sum += v
		}
	}
	return byte('A' + sum%26)
}

// CheckCharacter returns the check character of the first 15 characters of a codice fiscale
// (letters, in either case, and digits).
func CheckCharacter(first15 string) (byte, error) {
	s := normalize(first15)
	if n := utf8.RuneCountInString(s); n != 15 {
		return 0, fail(ErrLength, "must be 15 characters, not %d", n)
	}
	pos := 0
	for _, r := range s {
		if r >= utf8.RuneSelf || !isUpper(byte(r)) && (r < '0' || r > '9') {
			return 0, fail(ErrCharacters, "character %d must be a letter or a digit, not %q", pos+1, r)
		}
		pos++
	}
	return checkChar(s), nil
}

// checkStructure checks the length, the character of each position and the check character of
// a normalized code.
func checkStructure(s string) error {
	if n := utf8.RuneCountInString(s); n != 16 {
		return fail(ErrLength, "must be 16 characters, not %d", n)
	}
	pos := 0
	for _, r := range s {
		ok := false
		switch classes[pos] {
		case letter:
			ok = r < utf8.RuneSelf && isUpper(byte(r))
		case digit:
			_, ok = digitOf(byte(r))
			ok = ok && r < utf8.RuneSelf
		}
		if !ok {
			return fail(ErrCharacters, "character %d must be %s, not %q", pos+1, classes[pos], r)
		}
		pos++
	}
	if k := checkChar(s); k != s[15] {
		return fail(ErrCheckCharacter, "check character should be %c, not %c", k, s[15])
	}
	return nil
}

func (c class) String() string {
	if c == letter {
		return "a letter"
	}
	return "a digit or one of L M N P Q R S T U V"
}

// canonical turns the omocodic letters of a structurally valid code back into digits and
// recomputes the check character.
func canonical(s string) (string, bool) {
	b := []byte(s)
	omocodic := false
	for _, i := range omocodicPositions {
		if d, _ := digitOf(b[i]); b[i] != byte('0'+d) {
			b[i] = byte('0' + d)
			omocodic = true
		}
	}
	if !omocodic {
		return s, false
	}
	b[15] = checkChar(string(b[:15]))
	return string(b), true
}

// Parse validates a 16-character codice fiscale and decodes it. It trims and upper-cases the
// code, then checks in order its length, the character allowed at each position (omocodic
// letters where digits go), the check character, the month letter, the day and the date, and,
// when cat is not nil, that the birthplace code exists and was valid on the birth date.
// Omocodic letters are accepted at any of the seven positions.
func Parse(code string, cat *places.Catalog) (Code, error) {
	s := normalize(code)
	if err := checkStructure(s); err != nil {
		return Code{}, err
	}
	d := func(i int) int { n, _ := digitOf(s[i]); return n }

	mi := strings.IndexByte(monthLetters, s[8])
	if mi < 0 {
		return Code{}, fail(ErrMonth, "month letter must be one of A B C D E H L M P R S T, not %c", s[8])
	}
	month := time.Month(mi + 1)

	day, sex := d(9)*10+d(10), Male
	if day > 40 {
		day, sex = day-40, Female
	}
	if day < 1 || day > 31 {
		return Code{}, fail(ErrDay, "day must be 01–31 for men or 41–71 for women, not %d%d", d(9), d(10))
	}

	now := Now()
	ny, nm, nd := now.Date()
	year := ny - ny%100 + d(6)*10 + d(7)
	if year > ny || year == ny && (month > nm || month == nm && day > nd) {
		year -= 100
	}
	birth := time.Date(year, month, day, 0, 0, 0, 0, time.UTC)
	if birth.Day() != day {
		return Code{}, fail(ErrDay, "day %d does not exist in %s %d", day, month, year)
	}

	c := Code{
		Value:       s,
		SurnameCode: s[0:3],
		NameCode:    s[3:6],
		BirthDate:   birth,
		Sex:         sex,
		Belfiore:    string([]byte{s[11], byte('0' + d(12)), byte('0' + d(13)), byte('0' + d(14))}),
		Foreign:     s[11] == 'Z',
	}
	c.Canonical, c.Omocodic = canonical(s)

	if cat == nil {
		return c, nil
	}
	if p, ok := cat.ByBelfiore(c.Belfiore, birth); ok {
		c.Place = p
		return c, nil
	}
	if !cat.BelfioreExists(c.Belfiore) {
		return Code{}, fail(ErrUnknownPlace, "birthplace code %s does not exist", c.Belfiore)
	}
	// The two-digit year may belong to the century before: someone born in 1925 in a comune
	// abolished in 1928 has a code that reads as 2025.
	if earlier := birth.AddDate(-100, 0, 0); earlier.Day() == day {
		if p, ok := cat.ByBelfiore(c.Belfiore, earlier); ok {
			c.Place, c.BirthDate = p, earlier
			return c, nil
		}
	}
	history := cat.History(c.Belfiore)
	return Code{}, fail(ErrPlaceNotValidOnDate, "birthplace code %s (%s) was not in use on %s (%s)",
		c.Belfiore, history[len(history)-1].Name, birth.Format(time.DateOnly), periods(history))
}

// periods describes the validity of a code for an error message.
func periods(history []places.Place) string {
	parts := make([]string, len(history))
	for i, p := range history {
		if p.Current() {
			parts[i] = "valid since " + p.ValidFrom.Format(time.DateOnly)
		} else {
			parts[i] = "valid from " + p.ValidFrom.Format(time.DateOnly) + " to " + p.ValidTo.AddDate(0, 0, -1).Format(time.DateOnly)
		}
	}
	return strings.Join(parts, ", ")
}

// Mismatch names a piece of personal data that disagrees with a codice fiscale. Its value is the
// usual field name.
type Mismatch string

const (
	// BirthDateMismatch: the day, month or two-digit year of birth differ.
	BirthDateMismatch Mismatch = "birth_date"
	// SexMismatch: the sex differs.
	SexMismatch Mismatch = "sex"
	// BirthplaceMismatch: the Belfiore code of the birthplace differs.
	BirthplaceMismatch Mismatch = "birthplace"
)

// Matches returns the stated personal data that disagree with the code, in the order birth
// date, sex, birthplace; nil when all agree. The birth date is compared on its calendar date
// (read in its location) with the year modulo 100, since the code holds only two digits of it;
// belfiore is compared case-insensitively. A zero birth, a zero sex or an empty belfiore is not
// compared.
func (c Code) Matches(birth time.Time, sex Sex, belfiore string) []Mismatch {
	var out []Mismatch
	if !birth.IsZero() {
		y, m, d := birth.Date()
		cy, cm, cd := c.BirthDate.Date()
		if mod100(y) != mod100(cy) || m != cm || d != cd {
			out = append(out, BirthDateMismatch)
		}
	}
	if sex != 0 && sex != c.Sex {
		out = append(out, SexMismatch)
	}
	if b := normalize(belfiore); b != "" && b != c.Belfiore {
		out = append(out, BirthplaceMismatch)
	}
	return out
}

func mod100(y int) int { return (y%100 + 100) % 100 }

// Compute builds the codice fiscale of a person born on the calendar date of birth (read in its
// location) in the place with the Belfiore code. Accents, apostrophes, spaces and other
// characters than Latin letters are dropped from the surname and the name; the surname gives
// its consonants, then its vowels, then X, up to three; the name the same, except that a name
// with four or more consonants gives the first, third and fourth.
func Compute(surname, name string, birth time.Time, sex Sex, belfiore string) (string, error) {
	sl, nl := latinLetters(surname), latinLetters(name)
	if sl == "" {
		return "", fmt.Errorf("surname %q has no Latin letters", surname)
	}
	if nl == "" {
		return "", fmt.Errorf("name %q has no Latin letters", name)
	}
	if sex != Male && sex != Female {
		return "", fmt.Errorf("sex must be M or F, not %v", sex)
	}
	bel := normalize(belfiore)
	if len(bel) != 4 || !isUpper(bel[0]) || !isDigits(bel[1:]) {
		return "", fmt.Errorf("birthplace code must be a letter and three digits, not %q", belfiore)
	}
	y, m, d := birth.Date()
	if sex == Female {
		d += 40
	}
	b := make([]byte, 0, 16)
	b = append(b, nameCode(sl, false)...)
	b = append(b, nameCode(nl, true)...)
	b = fmt.Appendf(b, "%02d%c%02d%s", mod100(y), monthLetters[m-1], d, bel)
	b = append(b, checkChar(string(b)))
	return string(b), nil
}

// nameCode takes three characters from upper-case letters: consonants, then vowels, then X;
// for a name with four or more consonants, the first, third and fourth.
func nameCode(letters string, isName bool) string {
	var cons, vows []byte
	for i := 0; i < len(letters); i++ {
		if strings.IndexByte("AEIOU", letters[i]) >= 0 {
			vows = append(vows, letters[i])
		} else {
			cons = append(cons, letters[i])
		}
	}
	if isName && len(cons) >= 4 {
		return string([]byte{cons[0], cons[2], cons[3]})
	}
	return string(append(append(cons, vows...), 'X', 'X', 'X')[:3])
}

// latinLetters upper-cases s, strips accents and keeps the letters A–Z, spelling out the few
// Latin letters that do not decompose (ß, Æ, Ø, Ł…).
func latinLetters(s string) string {
	var b strings.Builder
	for _, r := range norm.NFD.String(s) {
		r = unicode.ToUpper(r)
		switch {
		case r >= 'A' && r <= 'Z':
			b.WriteRune(r)
		case specialLetters[r] != "":
			b.WriteString(specialLetters[r])
		}
	}
	return b.String()
}

var specialLetters = map[rune]string{
	'ß': "SS", 'ẞ': "SS", 'Æ': "AE", 'Œ': "OE", 'Ø': "O", 'Ł': "L", 'Đ': "D", 'Ð': "D", 'Ħ': "H", 'Þ': "TH", 'ı': "I",
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// Omocode applies the first n (1–7) omocodic substitutions to a valid code, rightmost digit
// first, and recomputes the check character: the n-th omocodic variant of the code, as the
// Agenzia delle Entrate assigns them. An omocodic input is first made canonical.
func Omocode(code string, n int) (string, error) {
	if n < 1 || n > len(omocodicPositions) {
		return "", fmt.Errorf("omocodia substitutions must be 1–7, not %d", n)
	}
	c, err := Parse(code, nil)
	if err != nil {
		return "", err
	}
	b := []byte(c.Canonical)
	for _, i := range omocodicPositions[:n] {
		b[i] = omocodicLetters[b[i]-'0']
	}
	b[15] = checkChar(string(b[:15]))
	return string(b), nil
}

// ValidateNumeric checks an 11-digit numeric codice fiscale (of a legal person, equal to its
// partita IVA, or a provisional code): the check digit is computed like Luhn's, adding the
// digits in odd positions and, in even positions, the digit doubled less 9 when above 9; the
// eleventh digit is (10 - sum mod 10) mod 10.
func ValidateNumeric(code string) error {
	s := strings.TrimSpace(code)
	if n := utf8.RuneCountInString(s); n != 11 {
		return fail(ErrLength, "must be 11 digits, not %d characters", n)
	}
	pos := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return fail(ErrCharacters, "character %d must be a digit, not %q", pos+1, r)
		}
		pos++
	}
	if k := numericCheckDigit(s); k != s[10] {
		return fail(ErrNumericCheckDigit, "check digit should be %c, not %c", k, s[10])
	}
	return nil
}

// numericCheckDigit computes the eleventh digit of a numeric code from its first ten.
func numericCheckDigit(s string) byte {
	sum := 0
	for i := 0; i < 10; i++ {
		v := int(s[i] - '0')
		if i%2 == 1 { // even position, counting from 1
			v *= 2
			if v > 9 {
				v -= 9
			}
		}
		sum += v
	}
	return byte('0' + (10-sum%10)%10)
}
