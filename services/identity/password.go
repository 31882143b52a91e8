package identity

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"fmt"
	"runtime"
	"strings"
	"unicode"

	"golang.org/x/crypto/argon2"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Argon2id parameters: OWASP's minimum (19 MiB, 2 passes, 1 lane), so that a burst of
// sign-ins stays within a small pod's memory. Stored with every hash, so they can be raised
// later and old hashes still verify.
const (
	argonMemory  = 19 * 1024
	argonTime    = 2
	argonThreads = 1
	argonKeyLen  = 32
)

// HashPassword returns an argon2id hash in the PHC string format.
func HashPassword(pw string) (string, error) {
	salt := make([]byte, 16)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("salt: %w", err)
	}
	key := argonKey([]byte(pw), salt, argonTime, argonMemory, argonThreads, argonKeyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, argonMemory, argonTime, argonThreads,
		b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// hashSlots bounds the argon2id computations running at once to the CPUs: more would not
// finish sooner, and each holds its memory (19 MiB) while it runs, so a burst of sign-ins
// queues here instead of growing the process by a hash's memory per request.
var hashSlots = make(chan struct{}, runtime.GOMAXPROCS(0))

func argonKey(pw, salt []byte, t, m uint32, p uint8, n uint32) []byte {
	hashSlots <- struct{}{}
	defer func() { <-hashSlots }()
	return argon2.IDKey(pw, salt, t, m, p, n)
}

// VerifyPassword reports whether pw matches the PHC-encoded argon2id hash.
func VerifyPassword(encoded, pw string) bool {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false
	}
	var version int
	var m uint32
	var t uint32
	var p uint8
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return false
	}
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &m, &t, &p); err != nil || m == 0 || m > 1<<20 || t == 0 || t > 16 || p == 0 {
		return false
	}
	b64 := base64.RawStdEncoding
	salt, err1 := b64.DecodeString(parts[4])
	want, err2 := b64.DecodeString(parts[5])
	if err1 != nil || err2 != nil || len(want) == 0 || len(want) > 128 {
		return false
	}
	got := argonKey([]byte(pw), salt, t, m, p, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1
}

// dummyHash is verified against when the user does not exist, so that the answer takes the
// same time either way.
var dummyHash, _ = HashPassword("not-a-real-password-for-timing")

var commonPasswords = map[string]bool{
	"password1234": true, "123456789012": true, "qwertyuiopas": true, "passwordpassword": true,
	"changemechangeme": true, "ciaociaociao": true, "password123!": true, "amministratore": true,
	"1234567890ab": true, "passw0rd1234": true, "welcome12345": true, "iloveyou1234": true,
}

// CheckPasswordPolicy applies the password policy: 12 to 128 characters, at least three of
// lower case, upper case, digits and symbols, not a common password, and not containing the
// operator's names, e-mail name or codice fiscale.
func CheckPasswordPolicy(field, pw string, personal ...string) error {
	n := len([]rune(pw))
	if n < 12 {
		return errs.InvalidField(field, "must be at least 12 characters long")
	}
	if n > 128 {
		return errs.InvalidField(field, "must be at most 128 characters long")
	}
	var lower, upper, digit, other bool
	for _, r := range pw {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsDigit(r):
			digit = true
		default:
			other = true
		}
	}
	classes := 0
	for _, b := range []bool{lower, upper, digit, other} {
		if b {
			classes++
		}
	}
	if classes < 3 {
		return errs.InvalidField(field, "must mix at least three of: lower case, upper case, digits, symbols")
	}
	low := strings.ToLower(pw)
	if commonPasswords[low] {
		return errs.InvalidField(field, "is too common")
	}
	for _, p := range personal {
		p = strings.ToLower(strings.TrimSpace(p))
		if len(p) >= 4 && strings.Contains(low, p) {
			return errs.InvalidField(field, "must not contain your name, e-mail or codice fiscale")
		}
	}
	return nil
}
