// Package authtest issues real signed access tokens for tests of services that verify them,
// with a real JWKS endpoint on an httptest server.
package authtest

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/auth"
)

// Issuer is a test token issuer.
type Issuer struct {
	Name string // the iss claim
	KID  string
	key  ed25519.PrivateKey
	srv  *httptest.Server
}

// New starts an issuer whose JWKS is served until the test ends.
func New(tb testing.TB) *Issuer {
	tb.Helper()
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	return FromKey(tb, "csi-test-identity", "test-key-1", priv)
}

// FromKey is an issuer named name signing with key as kid: a key of the service under test (the
// identity service's own signing key), so that the service's verifier accepts its tokens. Its
// JWKS, served until the test ends, publishes the key.
func FromKey(tb testing.TB, name, kid string, key ed25519.PrivateKey) *Issuer {
	iss := &Issuer{Name: name, KID: kid, key: key}
	pub := key.Public().(ed25519.PublicKey)
	iss.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(auth.JWKSDocument(map[string]ed25519.PublicKey{iss.KID: pub}))
	}))
	tb.Cleanup(iss.srv.Close)
	return iss
}

// JWKSURL is the URL of the issuer's key set.
func (i *Issuer) JWKSURL() string { return i.srv.URL }

// Verifier returns a verifier that fetches keys from the issuer's JWKS.
func (i *Issuer) Verifier() *auth.Verifier {
	return auth.NewVerifier(auth.NewJWKS(i.srv.URL, nil), i.Name)
}

// Token signs claims valid for 15 minutes.
func (i *Issuer) Token(tb testing.TB, c auth.Claims) string {
	tb.Helper()
	return i.TokenAt(tb, c, time.Now(), 15*time.Minute)
}

// TokenAt signs claims issued at now, valid for ttl (an expired token: a past now).
func (i *Issuer) TokenAt(tb testing.TB, c auth.Claims, now time.Time, ttl time.Duration) string {
	tb.Helper()
	if c.Kind == "" {
		c.Kind = auth.KindOperator
	}
	tok, err := auth.Sign(i.key, i.KID, i.Name, c, ttl, now)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// TokenTimes signs claims with each time claim given.
func (i *Issuer) TokenTimes(tb testing.TB, c auth.Claims, tt auth.TokenTimes) string {
	tb.Helper()
	if c.Kind == "" {
		c.Kind = auth.KindOperator
	}
	tok, err := auth.SignTimes(i.key, i.KID, i.Name, c, tt)
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

// BeyondLeeway returns, by name, the time claims of tokens that are just past one clock edge of
// a verifier with leeway at now (2 s past it: the claims are whole seconds), the other claims well
// within: expired, not yet valid, issued in the future. A verifier must refuse each.
func BeyondLeeway(now time.Time, leeway time.Duration) map[string]auth.TokenTimes {
	const past = 2 * time.Second
	ok := auth.TokenTimes{IssuedAt: now.Add(-time.Minute), NotBefore: now.Add(-time.Minute), Expiry: now.Add(15 * time.Minute)}
	expired, notYet, future := ok, ok, ok
	expired.IssuedAt, expired.NotBefore, expired.Expiry = now.Add(-time.Hour), now.Add(-time.Hour), now.Add(-leeway-past)
	notYet.NotBefore = now.Add(leeway + past)
	future.IssuedAt = now.Add(leeway + past)
	return map[string]auth.TokenTimes{
		"expired beyond the leeway":              expired,
		"not yet valid beyond the leeway":        notYet,
		"issued in the future beyond the leeway": future,
	}
}
