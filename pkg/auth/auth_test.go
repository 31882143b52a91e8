package auth_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
)

const testIssuer = "https://identity.test"

func newKey(t *testing.T) (ed25519.PublicKey, ed25519.PrivateKey) {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return pub, priv
}

func operator() auth.Claims {
	return auth.Claims{Subject: "op-1", Kind: auth.KindOperator, Name: "Anna Rossi", AmbitoID: "ambito-1",
		OrgID: "org-1", OrgKind: "comune", ISTATCode: "015182", Role: auth.RoleSocialWorker, ProfileID: "prof-1", TokenID: "tok-1"}
}

func client() auth.Claims {
	return auth.Claims{Subject: "coop-system", Kind: auth.KindClient, AmbitoID: "ambito-1", OrgID: "coop-1",
		Role: auth.RoleClient, Scopes: []string{"events:read", "interventions:write"}}
}

// rawToken signs arbitrary claims with any algorithm go-jose supports, for tokens Sign would
// never produce.
func rawToken(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("at+jwt")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatal(err)
	}
	tok, err := jwt.Signed(signer).Claims(claims).Serialize()
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// validClaims is the claim set Sign would produce for operator(), as a map to alter.
func validClaims(now time.Time) map[string]any {
	return map[string]any{
		"iss": testIssuer, "sub": "op-1", "aud": []string{auth.Audience},
		"iat": now.Unix(), "nbf": now.Add(-5 * time.Second).Unix(), "exp": now.Add(15 * time.Minute).Unix(),
		"kind": auth.KindOperator, "role": string(auth.RoleSocialWorker),
	}
}

func b64(v any) string {
	b, _ := json.Marshal(v)
	return base64.RawURLEncoding.EncodeToString(b)
}

func TestSignVerifyRoundTrip(t *testing.T) {
	pub, priv := newKey(t)
	v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
	now := time.Now().Truncate(time.Second)
	tests := []struct {
		name   string
		claims auth.Claims
	}{
		{name: "operator", claims: operator()},
		{name: "client with scopes", claims: client()},
		{name: "suite-wide client", claims: auth.Claims{Subject: "svc-audit", Kind: auth.KindClient, Role: auth.RoleClient,
			Scopes: []string{"events:read"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := auth.Sign(priv, "k1", testIssuer, tc.claims, 15*time.Minute, now)
			if err != nil {
				t.Fatalf("Sign() = %v", err)
			}
			got, err := v.Verify(context.Background(), tok)
			if err != nil {
				t.Fatalf("Verify() = %v", err)
			}
			want := tc.claims
			want.IssuedAt = now
			want.ExpiresAt = now.Add(15 * time.Minute)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}
}

func TestVerifyRejects(t *testing.T) {
	pub, priv := newKey(t)
	_, otherPriv := newKey(t)
	now := time.Now()
	ctx := context.Background()
	sign := func(c auth.Claims, kid, issuer string, ttl time.Duration, at time.Time) string {
		tok, err := auth.Sign(priv, kid, issuer, c, ttl, at)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	good := sign(operator(), "k1", testIssuer, 15*time.Minute, now)
	parts := strings.Split(good, ".")
	with := func(change func(map[string]any)) map[string]any {
		c := validClaims(now)
		change(c)
		return c
	}

	tests := []struct {
		name       string
		token      string
		wantKind   errs.Kind
		wantDetail string // substring of the message
	}{
		{name: "expired", token: sign(operator(), "k1", testIssuer, 15*time.Minute, now.Add(-time.Hour)),
			wantKind: errs.Unauthenticated, wantDetail: "expired"},
		{name: "expired beyond the leeway", token: sign(operator(), "k1", testIssuer, 15*time.Minute, now.Add(-15*time.Minute-31*time.Second)),
			wantKind: errs.Unauthenticated, wantDetail: "expired"},
		{name: "issued in the future", token: sign(operator(), "k1", testIssuer, 15*time.Minute, now.Add(time.Hour)),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "wrong issuer", token: sign(operator(), "k1", "https://evil.test", 15*time.Minute, now),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "wrong audience", token: rawToken(t, jose.EdDSA, priv, "k1", with(func(c map[string]any) { c["aud"] = []string{"other"} })),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "no audience", token: rawToken(t, jose.EdDSA, priv, "k1", with(func(c map[string]any) { delete(c, "aud") })),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "no expiry", token: rawToken(t, jose.EdDSA, priv, "k1", with(func(c map[string]any) { delete(c, "exp") })),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "no subject", token: rawToken(t, jose.EdDSA, priv, "k1", with(func(c map[string]any) { delete(c, "sub") })),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "unknown role", token: rawToken(t, jose.EdDSA, priv, "k1", with(func(c map[string]any) { c["role"] = "root" })),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "unknown subject kind", token: sign(auth.Claims{Subject: "x", Role: auth.RoleASA}, "k1", testIssuer, time.Minute, now),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "tampered payload", token: parts[0] + "." + b64(with(func(c map[string]any) { c["role"] = string(auth.RoleAmbitoAdmin) })) + "." + parts[2],
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "tampered signature", token: parts[0] + "." + parts[1] + "." + flipFirst(parts[2]),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "signed by another key with a known kid", token: rawToken(t, jose.EdDSA, otherPriv, "k1", validClaims(now)),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "alg none", token: b64(map[string]string{"alg": "none", "kid": "k1", "typ": "at+jwt"}) + "." + b64(validClaims(now)) + ".",
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "HS256 with the public key as secret", token: rawToken(t, jose.HS256, []byte(pub), "k1", validClaims(now)),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "unknown kid", token: sign(operator(), "k2", testIssuer, 15*time.Minute, now),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "no kid", token: rawToken(t, jose.EdDSA, priv, "", validClaims(now)),
			wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "garbage", token: "not.a.token", wantKind: errs.Unauthenticated, wantDetail: "not valid"},
		{name: "empty", token: "", wantKind: errs.Unauthenticated, wantDetail: "not valid"},
	}
	v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c, err := v.Verify(ctx, tc.token)
			if err == nil {
				t.Fatalf("Verify() = %+v, nil; want an error", c)
			}
			if got := errs.KindOf(err); got != tc.wantKind {
				t.Errorf("kind = %v, want %v (%v)", got, tc.wantKind, err)
			}
			if !strings.Contains(err.Error(), tc.wantDetail) {
				t.Errorf("error %q, want it to mention %q", err, tc.wantDetail)
			}
		})
	}
}

// TestVerifyLeeway checks both edges of the clock leeway on each time claim: a token is accepted
// a second inside the leeway and refused a second beyond it, with the default leeway and with
// another one.
func TestVerifyLeeway(t *testing.T) {
	pub, priv := newKey(t)
	now := time.Now().Truncate(time.Second)
	for _, leeway := range []time.Duration{auth.DefaultLeeway, 0, 20 * time.Second} {
		// Each case puts one claim off the edge; the other two are well within.
		ok := auth.TokenTimes{IssuedAt: now.Add(-time.Minute), NotBefore: now.Add(-time.Minute), Expiry: now.Add(time.Hour)}
		tests := []struct {
			name     string
			times    func(tt auth.TokenTimes) auth.TokenTimes
			wantErr  bool
			wantText string
		}{
			{name: "expired 1 s inside the leeway", times: func(tt auth.TokenTimes) auth.TokenTimes {
				tt.Expiry = now.Add(-leeway + time.Second)
				return tt
			}},
			{name: "expired 1 s beyond the leeway", times: func(tt auth.TokenTimes) auth.TokenTimes {
				tt.Expiry = now.Add(-leeway - time.Second)
				return tt
			}, wantErr: true, wantText: "expired"},
			{name: "not yet valid 1 s inside the leeway", times: func(tt auth.TokenTimes) auth.TokenTimes {
				tt.NotBefore = now.Add(leeway - time.Second)
				return tt
			}},
			{name: "not yet valid 1 s beyond the leeway", times: func(tt auth.TokenTimes) auth.TokenTimes {
				tt.NotBefore = now.Add(leeway + time.Second)
				return tt
			}, wantErr: true, wantText: "not valid"},
			{name: "issued in the future 1 s inside the leeway", times: func(tt auth.TokenTimes) auth.TokenTimes {
				tt.IssuedAt = now.Add(leeway - time.Second)
				return tt
			}},
			{name: "issued in the future 1 s beyond the leeway", times: func(tt auth.TokenTimes) auth.TokenTimes {
				tt.IssuedAt = now.Add(leeway + time.Second)
				return tt
			}, wantErr: true, wantText: "not valid"},
		}
		v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
		v.Leeway = leeway
		v.Now = func() time.Time { return now }
		for _, tc := range tests {
			t.Run(fmt.Sprintf("leeway %s/%s", leeway, tc.name), func(t *testing.T) {
				tok, err := auth.SignTimes(priv, "k1", testIssuer, operator(), tc.times(ok))
				if err != nil {
					t.Fatal(err)
				}
				_, err = v.Verify(context.Background(), tok)
				if got := err != nil; got != tc.wantErr {
					t.Fatalf("Verify() error = %v, want error %v", err, tc.wantErr)
				}
				if err != nil && (errs.KindOf(err) != errs.Unauthenticated || !strings.Contains(err.Error(), tc.wantText)) {
					t.Errorf("Verify() error = %v (%v), want Unauthenticated mentioning %q", err, errs.KindOf(err), tc.wantText)
				}
			})
		}
	}
}

func TestNewVerifierLeeway(t *testing.T) {
	if got, want := auth.NewVerifier(auth.StaticKeys{}, testIssuer).Leeway, 5*time.Second; got != want {
		t.Errorf("NewVerifier().Leeway = %s, want %s", got, want)
	}
}

// unavailableKeys is a key source that cannot be reached.
type unavailableKeys struct{}

func (unavailableKeys) PublicKey(context.Context, string) (ed25519.PublicKey, error) {
	return nil, errs.E(errs.Unavailable, "keys unreachable")
}

func TestVerifyUnavailableKeys(t *testing.T) {
	_, priv := newKey(t)
	tok, err := auth.Sign(priv, "k1", testIssuer, operator(), time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, err = auth.NewVerifier(unavailableKeys{}, testIssuer).Verify(context.Background(), tok)
	if got := errs.KindOf(err); got != errs.Unavailable {
		t.Errorf("Verify() with unreachable keys: kind %v (%v), want unavailable", got, err)
	}
}

func TestCaller(t *testing.T) {
	if _, err := auth.Caller(context.Background()); errs.KindOf(err) != errs.Unauthenticated {
		t.Errorf("Caller(no claims) = %v, want unauthenticated", err)
	}
	got, err := auth.Caller(auth.WithClaims(context.Background(), client()))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(client(), got); diff != "" {
		t.Errorf("Caller() (-want +got):\n%s", diff)
	}
}

func TestAmbitoCaller(t *testing.T) {
	ambito := uuid.Must(uuid.NewV7())
	for _, tc := range []struct {
		name string
		ctx  context.Context
		want errs.Kind // 0: no error
	}{
		{"no claims", context.Background(), errs.Unauthenticated},
		{"no ambito", auth.WithClaims(context.Background(), auth.Claims{Subject: "s", Kind: auth.KindClient}), errs.Forbidden},
		{"an ambito", auth.WithClaims(context.Background(), auth.Claims{Subject: "s", AmbitoID: ambito.String()}), 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, id, err := auth.AmbitoCaller(tc.ctx)
			if got := errs.KindOf(err); err != nil && got != tc.want || err == nil && (tc.want != 0 || id != ambito) {
				t.Errorf("AmbitoCaller = %v, %v; want kind %v", id, err, tc.want)
			}
		})
	}
}

func TestRoleValid(t *testing.T) {
	for _, r := range auth.Roles {
		if !r.Valid() {
			t.Errorf("%q.Valid() = false, want true", r)
		}
	}
	for _, r := range []auth.Role{auth.RoleClient} {
		if !r.Valid() {
			t.Errorf("%q.Valid() = false, want true", r)
		}
	}
	for _, r := range []auth.Role{"", "root", "Social_Worker"} {
		if r.Valid() {
			t.Errorf("%q.Valid() = true, want false", r)
		}
	}
}

func flipFirst(s string) string {
	b := []byte(s)
	if b[0] == 'A' {
		b[0] = 'B'
	} else {
		b[0] = 'A'
	}
	return string(b)
}
