package codicefiscale

import (
	"encoding/json"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/places"
)

// today is the reference date of the tests.
var today = time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)

// pinNow makes Now return t for the duration of the test.
func pinNow(tb testing.TB, t time.Time) {
	tb.Helper()
	old := Now
	Now = func() time.Time { return t }
	tb.Cleanup(func() { Now = old })
}

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// withCheck appends the check character to 15 characters.
func withCheck(t *testing.T, first15 string) string {
	t.Helper()
	k, err := CheckCharacter(first15)
	if err != nil {
		t.Fatalf("CheckCharacter(%q): %v", first15, err)
	}
	return first15 + string(k)
}

var sentinels = []error{
	ErrLength, ErrCharacters, ErrCheckCharacter, ErrMonth, ErrDay, ErrUnknownPlace,
	ErrPlaceNotValidOnDate, ErrNumericCheckDigit,
}

// checkSentinel fails unless err wraps want and no other sentinel.
func checkSentinel(t *testing.T, err, want error) {
	t.Helper()
	for _, s := range sentinels {
		if got := errors.Is(err, s); got != (s == want) {
			t.Errorf("errors.Is(%v, %v) = %v, want %v", err, s, got, s == want)
		}
	}
}

// decoded is what the Parse tests compare.
type decoded struct {
	Value, Canonical       string
	Omocodic               bool
	SurnameCode, NameCode  string
	BirthDate              time.Time
	Sex                    Sex
	Belfiore, Place, ISTAT string
	Foreign                bool
}

func decode(c Code) decoded {
	return decoded{
		Value: c.Value, Canonical: c.Canonical, Omocodic: c.Omocodic,
		SurnameCode: c.SurnameCode, NameCode: c.NameCode, BirthDate: c.BirthDate, Sex: c.Sex,
		Belfiore: c.Belfiore, Place: c.Place.Name, ISTAT: c.Place.ISTAT, Foreign: c.Foreign,
	}
}

func TestParse(t *testing.T) {
	pinNow(t, today)
	cat := places.Default()
	milanMan := decoded{
		Value: "RSSMRA45D25F205N", Canonical: "RSSMRA45D25F205N", SurnameCode: "RSS", NameCode: "MRA",
		BirthDate: date(1945, 4, 25), Sex: Male, Belfiore: "F205", Place: "Milano", ISTAT: "015146",
	}
	with := func(d decoded, f func(*decoded)) decoded { f(&d); return d }
	tests := []struct {
		name    string
		code    string
		nilCat  bool
		want    decoded
		wantErr error
		wantMsg string
	}{
		{name: "Milan, 25 April 1945, male", code: "RSSMRA45D25F205N", want: milanMan},
		{
			name: "one omocodic substitution", code: "RSSMRA45D25F20RI",
			want: with(milanMan, func(d *decoded) { d.Value, d.Omocodic = "RSSMRA45D25F20RI", true }),
		},
		{
			name: "all seven substitutions", code: "RSSMRAQRDNRFNLRX",
			want: with(milanMan, func(d *decoded) { d.Value, d.Omocodic = "RSSMRAQRDNRFNLRX", true }),
		},
		{
			name: "substitutions out of order are accepted", code: withCheck(t, "RSSMRA4RD25F205"),
			want: with(milanMan, func(d *decoded) { d.Value, d.Omocodic = withCheck(t, "RSSMRA4RD25F205"), true }),
		},
		{name: "lower case and spaces", code: " rssmra45d25f205n\t", want: milanMan},
		{
			name: "woman, day plus 40", code: withCheck(t, "BNCMRA80A41F205"),
			want: decoded{
				Value: withCheck(t, "BNCMRA80A41F205"), Canonical: withCheck(t, "BNCMRA80A41F205"),
				SurnameCode: "BNC", NameCode: "MRA", BirthDate: date(1980, 1, 1), Sex: Female,
				Belfiore: "F205", Place: "Milano", ISTAT: "015146",
			},
		},
		{
			name: "woman born on the 31st", code: withCheck(t, "BNCMRA80A71F205"),
			want: decoded{
				Value: withCheck(t, "BNCMRA80A71F205"), Canonical: withCheck(t, "BNCMRA80A71F205"),
				SurnameCode: "BNC", NameCode: "MRA", BirthDate: date(1980, 1, 31), Sex: Female,
				Belfiore: "F205", Place: "Milano", ISTAT: "015146",
			},
		},
		{
			name: "born abroad", code: "VRDNNA45D65Z404U",
			want: decoded{
				Value: "VRDNNA45D65Z404U", Canonical: "VRDNNA45D65Z404U", SurnameCode: "VRD", NameCode: "NNA",
				BirthDate: date(1945, 4, 25), Sex: Female, Belfiore: "Z404", Place: "Stati Uniti d'America", Foreign: true,
			},
		},
		{
			name: "29 February of a leap year", code: withCheck(t, "RSSMRA48B29F205"),
			want: with(milanMan, func(d *decoded) {
				d.Value, d.Canonical, d.BirthDate = withCheck(t, "RSSMRA48B29F205"), withCheck(t, "RSSMRA48B29F205"), date(1948, 2, 29)
			}),
		},
		{
			name: "born today is this century", code: withCheck(t, "RSSMRA26C01F205"),
			want: with(milanMan, func(d *decoded) {
				d.Value, d.Canonical, d.BirthDate = withCheck(t, "RSSMRA26C01F205"), withCheck(t, "RSSMRA26C01F205"), date(2026, 3, 1)
			}),
		},
		{
			name: "born tomorrow is the century before", code: withCheck(t, "RSSMRA26C02F205"),
			want: with(milanMan, func(d *decoded) {
				d.Value, d.Canonical, d.BirthDate = withCheck(t, "RSSMRA26C02F205"), withCheck(t, "RSSMRA26C02F205"), date(1926, 3, 2)
			}),
		},
		{
			name: "the birthplace picks the century", code: withCheck(t, "BNCMRA25E43A011"),
			want: decoded{
				Value: withCheck(t, "BNCMRA25E43A011"), Canonical: withCheck(t, "BNCMRA25E43A011"),
				SurnameCode: "BNC", NameCode: "MRA", BirthDate: date(1925, 5, 3), Sex: Female,
				Belfiore: "A011", Place: "Abbiateguazzone",
			},
		},
		{
			name: "past municipality while valid", code: withCheck(t, "RSSMRA90E01D206"),
			want: with(milanMan, func(d *decoded) {
				d.Value, d.Canonical, d.BirthDate = withCheck(t, "RSSMRA90E01D206"), withCheck(t, "RSSMRA90E01D206"), date(1990, 5, 1)
				d.Belfiore, d.Place, d.ISTAT = "D206", "Cunevo", ""
			}),
		},
		{
			name: "no catalog skips the place", code: withCheck(t, "RSSMRA45D25N999"), nilCat: true,
			want: with(milanMan, func(d *decoded) {
				d.Value, d.Canonical, d.Belfiore, d.Place, d.ISTAT = withCheck(t, "RSSMRA45D25N999"), withCheck(t, "RSSMRA45D25N999"), "N999", "", ""
			}),
		},
		{
			name: "wrong check character", code: "BNCMRA45A01H501K",
			wantErr: ErrCheckCharacter, wantMsg: "check character should be V, not K",
		},
		{name: "too short", code: "RSSMRA45D25F205", wantErr: ErrLength, wantMsg: "must be 16 characters, not 15"},
		{name: "too long", code: "RSSMRA45D25F205NN", wantErr: ErrLength, wantMsg: "must be 16 characters, not 17"},
		{name: "empty", code: "", wantErr: ErrLength, wantMsg: "must be 16 characters, not 0"},
		{
			name: "letter O for zero", code: "RSSMRA45D25F2O5N",
			wantErr: ErrCharacters, wantMsg: "character 14 must be a digit or one of L M N P Q R S T U V, not 'O'",
		},
		{name: "digit in the name", code: "RSSMR145D25F205N", wantErr: ErrCharacters, wantMsg: "character 6 must be a letter, not '1'"},
		{name: "accented letter", code: "RSSMRA45D25F205È", wantErr: ErrCharacters, wantMsg: "character 16 must be a letter, not 'È'"},
		{name: "dotless i does not upper-case to I", code: "ıSSMRA45D25F205N", wantErr: ErrCharacters, wantMsg: "character 1 must be a letter"},
		{
			name: "wrong month letter", code: withCheck(t, "RSSMRA45F25F205"),
			wantErr: ErrMonth, wantMsg: "month letter must be one of A B C D E H L M P R S T, not F",
		},
		{name: "31 February", code: withCheck(t, "RSSMRA45B31F205"), wantErr: ErrDay, wantMsg: "day 31 does not exist in February 1945"},
		{name: "29 February of a common year", code: withCheck(t, "RSSMRA45B29F205"), wantErr: ErrDay, wantMsg: "day 29 does not exist in February 1945"},
		{name: "31 April for a woman", code: withCheck(t, "RSSMRA45D71F205"), wantErr: ErrDay, wantMsg: "day 31 does not exist in April 1945"},
		{name: "day 00", code: withCheck(t, "RSSMRA45D00F205"), wantErr: ErrDay, wantMsg: "day must be 01–31 for men or 41–71 for women, not 00"},
		{name: "day 35", code: withCheck(t, "RSSMRA45D35F205"), wantErr: ErrDay, wantMsg: "not 35"},
		{name: "day 40", code: withCheck(t, "RSSMRA45D40F205"), wantErr: ErrDay, wantMsg: "not 40"},
		{name: "day 72", code: withCheck(t, "RSSMRA45D72F205"), wantErr: ErrDay, wantMsg: "not 72"},
		{name: "unknown municipality", code: withCheck(t, "RSSMRA45D25N999"), wantErr: ErrUnknownPlace, wantMsg: "birthplace code N999 does not exist"},
		{name: "unknown country", code: withCheck(t, "RSSMRA45D25Z999"), wantErr: ErrUnknownPlace, wantMsg: "birthplace code Z999 does not exist"},
		{
			name: "municipality abolished before the birth", code: withCheck(t, "RSSMRA20A01D206"),
			wantErr: ErrPlaceNotValidOnDate,
			wantMsg: "birthplace code D206 (Cunevo) was not in use on 2020-01-01 (valid from 1920-10-16 to 2015-12-31)",
		},
		{
			name: "municipality created after the birth", code: withCheck(t, "RSSMRA90A01M369"),
			wantErr: ErrPlaceNotValidOnDate,
			wantMsg: "birthplace code M369 (Alto Reno Terme) was not in use on 1990-01-01 (valid since 2016-01-01)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := cat
			if tt.nilCat {
				c = nil
			}
			got, err := Parse(tt.code, c)
			if tt.wantErr != nil {
				if err == nil {
					t.Fatalf("Parse(%q) = %+v, want error %v", tt.code, got, tt.wantErr)
				}
				checkSentinel(t, err, tt.wantErr)
				if !strings.Contains(err.Error(), tt.wantMsg) {
					t.Errorf("Parse(%q) error = %q, want it to contain %q", tt.code, err, tt.wantMsg)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q) error = %v", tt.code, err)
			}
			if diff := cmp.Diff(decode(got), tt.want); diff != "" {
				t.Errorf("Parse(%q) mismatch (-got +want):\n%s", tt.code, diff)
			}
		})
	}
}

func TestCheckCharacter(t *testing.T) {
	tests := []struct {
		in      string
		want    byte
		wantErr error
	}{
		{"RSSMRA45D25F205", 'N', nil},
		{"rssmra45d25f20r", 'I', nil},
		{"RSSMRAQRDNRFNLR", 'X', nil},
		{"BNCMRA45A01H501", 'V', nil},
		{"RSSMRA45D25F20", 0, ErrLength},
		{"RSSMRA45D25F2-5", 0, ErrCharacters},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := CheckCharacter(tt.in)
			if tt.wantErr != nil {
				checkSentinel(t, err, tt.wantErr)
				return
			}
			if err != nil || got != tt.want {
				t.Errorf("CheckCharacter(%q) = %q, %v, want %q", tt.in, got, err, tt.want)
			}
		})
	}
}

func TestCompute(t *testing.T) {
	tests := []struct {
		name          string
		surname, nome string
		birth         time.Time
		sex           Sex
		belfiore      string
		want          string
		wantErr       string
	}{
		{"DOMAIN example", "Rossi", "Mario", date(1945, 4, 25), Male, "F205", "RSSMRA45D25F205N", ""},
		{"wrong-check example, fixed", "Bianchi", "Mario", date(1945, 1, 1), Male, "H501", "BNCMRA45A01H501V", ""},
		{"woman abroad", "Verdi", "Anna", date(1945, 4, 25), Female, "z404", "VRDNNA45D65Z404U", ""},
		{"calendar date in its location", "Rossi", "Mario", time.Date(1945, 4, 25, 23, 30, 0, 0, time.FixedZone("CEST", 7200)), Male, "F205", "RSSMRA45D25F205N", ""},
		{"name with four consonants", "Rossi", "Alessandro", date(1945, 4, 25), Male, "F205", "RSSLSN45D25F205", ""},
		{"double name", "Rossi", "Maria Grazia", date(1945, 4, 25), Female, "F205", "RSSMGR45D65F205", ""},
		{"accents and apostrophe", "D'Angelo", "Niccolò", date(1945, 4, 25), Male, "F205", "DNGNCL45D25F205", ""},
		{"surname with a space", "De Luca", "Ugo", date(1945, 4, 25), Male, "F205", "DLCGUO45D25F205", ""},
		{"short surname", "Fo", "Dario", date(1945, 4, 25), Male, "F205", "FOXDRA45D25F205", ""},
		{"short name", "Li", "Al", date(1945, 4, 25), Male, "Z210", "LIXLAX45D25Z210", ""},
		{"umlaut", "Müller", "Jürgen", date(1970, 12, 31), Male, "Z112", "MLLJGN70T31Z112", ""},
		{"eszett", "Strauß", "Anna", date(1970, 12, 31), Female, "Z112", "STRNNA70T71Z112", ""},
		{"Y is a consonant", "Wang", "Yu", date(2001, 6, 9), Male, "Z210", "WNGYUX01H09Z210", ""},
		{"no Latin letters in the surname", "王", "Wei", date(2001, 6, 9), Male, "Z210", "", "surname"},
		{"empty name", "Rossi", " ", date(2001, 6, 9), Male, "F205", "", "name"},
		{"no sex", "Rossi", "Mario", date(2001, 6, 9), 0, "F205", "", "sex"},
		{"bad birthplace", "Rossi", "Mario", date(2001, 6, 9), Male, "F20", "", "birthplace code"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Compute(tt.surname, tt.nome, tt.birth, tt.sex, tt.belfiore)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Errorf("Compute() = %q, %v, want an error about %s", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Compute() error = %v", err)
			}
			want := tt.want
			if len(want) == 15 {
				want = withCheck(t, want)
			}
			if got != want {
				t.Errorf("Compute() = %q, want %q", got, want)
			}
		})
	}
}

var (
	surnames = []string{
		"Rossi", "Russo", "Ferrari", "Esposito", "Bianchi", "Romano", "Colombo", "Ricci", "Marino",
		"De Luca", "D'Amico", "Dell'Acqua", "Lo Russo", "Fo", "Ai", "Li", "Öztürk", "Nguyễn",
		"García Márquez", "O'Brien", "Kowalski", "Çelik", "Mbappé", "Sánchez", "Wang", "Zhang",
	}
	givenNames = []string{
		"Mario", "Maria", "Giuseppe", "Anna", "Alessandro", "Francesca", "Niccolò", "Ilaria",
		"Gianmarco", "Maria Grazia", "Pier Luigi", "Ugo", "Eva", "Al", "Io", "José", "Zoë",
		"Mohamed", "Aïcha", "Bartłomiej", "Søren", "Li", "Yu", "Chiara",
	}
)

func randomWord(rng *rand.Rand) string {
	b := make([]byte, 1+rng.IntN(12))
	for i := range b {
		b[i] = byte('a' + rng.IntN(26))
	}
	return string(b)
}

// TestComputeRoundTrip parses the codes of many generated people.
func TestComputeRoundTrip(t *testing.T) {
	pinNow(t, today)
	cat := places.Default()
	pool := append(cat.Current(places.Municipality), cat.Current(places.Country)...)
	for _, code := range []string{"D206", "A011", "A002", "L476", "Z105", "Z135"} {
		pool = append(pool, cat.History(code)...)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	first, span := date(1900, 1, 1), int(today.Sub(date(1900, 1, 1)).Hours()/24)
	for i := range 3000 {
		surname, name := surnames[rng.IntN(len(surnames))], givenNames[rng.IntN(len(givenNames))]
		if rng.IntN(4) == 0 {
			surname, name = randomWord(rng), randomWord(rng)
		}
		birth := first.AddDate(0, 0, rng.IntN(span+1))
		sex := Male
		if rng.IntN(2) == 0 {
			sex = Female
		}
		var place places.Place
		for place = pool[rng.IntN(len(pool))]; !place.ValidOn(birth); place = pool[rng.IntN(len(pool))] {
		}
		code, err := Compute(surname, name, birth, sex, place.Belfiore)
		if err != nil {
			t.Fatalf("#%d Compute(%q, %q, %s, %v, %s): %v", i, surname, name, birth.Format(time.DateOnly), sex, place.Belfiore, err)
		}
		c, err := Parse(code, cat)
		if err != nil {
			t.Fatalf("#%d Parse(%q) of %q %q born %s in %s: %v", i, code, surname, name, birth.Format(time.DateOnly), place.Name, err)
		}
		if c.Canonical != code || c.Omocodic {
			t.Errorf("#%d Parse(%q): canonical %q, omocodic %v", i, code, c.Canonical, c.Omocodic)
		}
		if m := c.Matches(birth, sex, place.Belfiore); m != nil {
			t.Errorf("#%d Parse(%q).Matches(%s, %v, %s) = %v, want nil", i, code, birth.Format(time.DateOnly), sex, place.Belfiore, m)
		}
		if birth.After(today.AddDate(-100, 0, 0)) && !c.BirthDate.Equal(birth) {
			t.Errorf("#%d Parse(%q).BirthDate = %s, want %s", i, code, c.BirthDate.Format(time.DateOnly), birth.Format(time.DateOnly))
		}
		if c.Place.Belfiore != place.Belfiore || c.Foreign != (place.Kind == places.Country) {
			t.Errorf("#%d Parse(%q): place %s, foreign %v, want %s", i, code, c.Place.Belfiore, c.Foreign, place.Belfiore)
		}
		n := 1 + rng.IntN(7)
		omo, err := Omocode(code, n)
		if err != nil {
			t.Fatalf("#%d Omocode(%q, %d): %v", i, code, n, err)
		}
		if oc, err := Parse(omo, cat); err != nil || oc.Canonical != code || !oc.BirthDate.Equal(c.BirthDate) {
			t.Errorf("#%d Parse(Omocode(%q, %d) = %q) = %q, %v, want canonical %q", i, code, n, omo, oc.Canonical, err, code)
		}
	}
}

func TestOmocode(t *testing.T) {
	pinNow(t, today)
	want := []string{
		"RSSMRA45D25F20RI", "RSSMRA45D25F2LRT", "RSSMRA45D25FNLRI", "RSSMRA45D2RFNLRD",
		"RSSMRA45DNRFNLRO", "RSSMRA4RDNRFNLRA", "RSSMRAQRDNRFNLRX",
	}
	for n := 1; n <= 7; n++ {
		for _, in := range []string{"RSSMRA45D25F205N", "RSSMRAQRDNRFNLRX"} {
			got, err := Omocode(in, n)
			if err != nil || got != want[n-1] {
				t.Errorf("Omocode(%q, %d) = %q, %v, want %q", in, n, got, err, want[n-1])
				continue
			}
			c, err := Parse(got, places.Default())
			if err != nil || c.Canonical != "RSSMRA45D25F205N" || !c.Omocodic {
				t.Errorf("Parse(%q) = canonical %q, omocodic %v, %v, want RSSMRA45D25F205N", got, c.Canonical, c.Omocodic, err)
			}
		}
	}
	for _, n := range []int{0, 8, -1} {
		if got, err := Omocode("RSSMRA45D25F205N", n); err == nil {
			t.Errorf("Omocode(_, %d) = %q, want an error", n, got)
		}
	}
	if _, err := Omocode("BNCMRA45A01H501K", 1); !errors.Is(err, ErrCheckCharacter) {
		t.Errorf("Omocode of an invalid code: error %v, want ErrCheckCharacter", err)
	}
}

// luhnValid is the partita IVA check written out independently of numericCheckDigit.
func luhnValid(s string) bool {
	sum := 0
	for i, r := range s {
		d := int(r - '0')
		if (i+1)%2 == 0 && i < 10 {
			d = 2 * d
			if d > 9 {
				d -= 9
			}
		}
		sum += d
	}
	return sum%10 == 0
}

func TestValidateNumeric(t *testing.T) {
	tests := []struct {
		name    string
		code    string
		wantErr error
		wantMsg string
	}{
		{"valid", "00743110157", nil, ""},
		{"another valid", "02876990587", nil, ""},
		{"with spaces", " 00743110157 ", nil, ""},
		{"wrong check digit", "00743110158", ErrNumericCheckDigit, "check digit should be 7, not 8"},
		{"another wrong check digit", "01234567890", ErrNumericCheckDigit, "check digit should be 7, not 0"},
		{"too short", "0074311015", ErrLength, "must be 11 digits, not 10 characters"},
		{"a letter", "0074311015A", ErrCharacters, "character 11 must be a digit, not 'A'"},
		{"a personal code", "RSSMRA45D25F205N", ErrLength, "not 16 characters"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := ValidateNumeric(tt.code)
			if tt.wantErr == nil {
				if err != nil {
					t.Errorf("ValidateNumeric(%q) = %v, want nil", tt.code, err)
				}
				if !luhnValid(strings.TrimSpace(tt.code)) {
					t.Errorf("%q fails the independent check: the test case is wrong", tt.code)
				}
				return
			}
			checkSentinel(t, err, tt.wantErr)
			if err != nil && !strings.Contains(err.Error(), tt.wantMsg) {
				t.Errorf("ValidateNumeric(%q) = %q, want it to contain %q", tt.code, err, tt.wantMsg)
			}
		})
	}
	// Every ten-digit prefix has exactly one valid check digit, the one luhnValid accepts.
	rng := rand.New(rand.NewPCG(3, 4))
	for range 1000 {
		b := make([]byte, 11)
		for i := range b {
			b[i] = byte('0' + rng.IntN(10))
		}
		s := string(b)
		if got, want := ValidateNumeric(s) == nil, luhnValid(s); got != want {
			t.Errorf("ValidateNumeric(%q) valid = %v, independent check %v", s, got, want)
		}
	}
}

func TestMatches(t *testing.T) {
	pinNow(t, today)
	c, err := Parse("RSSMRA45D25F205N", places.Default())
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name     string
		birth    time.Time
		sex      Sex
		belfiore string
		want     []Mismatch
	}{
		{"all agree", date(1945, 4, 25), Male, "F205", nil},
		{"nothing stated", time.Time{}, 0, "", nil},
		{"lower-case place", date(1945, 4, 25), Male, "f205", nil},
		{"other century agrees", date(2045, 4, 25), Male, "F205", nil},
		{"birth date", date(1945, 4, 26), Male, "F205", []Mismatch{BirthDateMismatch}},
		{"year", date(1946, 4, 25), 0, "", []Mismatch{BirthDateMismatch}},
		{"sex", date(1945, 4, 25), Female, "F205", []Mismatch{SexMismatch}},
		{"birthplace", date(1945, 4, 25), Male, "H501", []Mismatch{BirthplaceMismatch}},
		{"all three", date(1950, 1, 1), Female, "H501", []Mismatch{BirthDateMismatch, SexMismatch, BirthplaceMismatch}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := c.Matches(tt.birth, tt.sex, tt.belfiore)
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Matches() mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestSexJSON(t *testing.T) {
	b, err := json.Marshal(struct{ A, B Sex }{Male, Female})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(b), `{"A":"M","B":"F"}`; got != want {
		t.Errorf("json.Marshal = %s, want %s", got, want)
	}
	var v struct{ A, B Sex }
	if err := json.Unmarshal([]byte(`{"A":"m","B":"F"}`), &v); err != nil || v.A != Male || v.B != Female {
		t.Errorf("json.Unmarshal = %+v, %v, want {M F}", v, err)
	}
	if err := json.Unmarshal([]byte(`{"A":"X"}`), &v); err == nil {
		t.Error("json.Unmarshal of sex X: want an error")
	}
	if _, err := json.Marshal(Sex(0)); err == nil {
		t.Error("json.Marshal(Sex(0)): want an error")
	}
}

func BenchmarkParse(b *testing.B) {
	pinNow(b, today)
	cat := places.Default()
	codes := []string{"RSSMRA45D25F205N", "RSSMRAQRDNRFNLRX", "VRDNNA45D65Z404U"}
	for i := 0; b.Loop(); i++ {
		if _, err := Parse(codes[i%len(codes)], cat); err != nil {
			b.Fatal(err)
		}
	}
}
