package authtest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
)

func TestIssuer(t *testing.T) {
	iss := authtest.New(t)
	v := iss.Verifier()
	ctx := context.Background()
	tests := []struct {
		name    string
		claims  auth.Claims
		want    auth.Claims // compared without times
		wantErr string
	}{
		{
			name:   "operator kind by default",
			claims: auth.Claims{Subject: "op-1", Role: auth.RoleEducator, AmbitoID: "a-1"},
			want:   auth.Claims{Subject: "op-1", Kind: auth.KindOperator, Role: auth.RoleEducator, AmbitoID: "a-1"},
		},
		{
			name:   "client with scopes",
			claims: auth.Claims{Subject: "coop", Kind: auth.KindClient, Role: auth.RoleClient, Scopes: []string{"events:read"}},
			want:   auth.Claims{Subject: "coop", Kind: auth.KindClient, Role: auth.RoleClient, Scopes: []string{"events:read"}},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := v.Verify(ctx, iss.Token(t, tc.claims))
			if err != nil {
				t.Fatalf("Verify(Token()) = %v", err)
			}
			if d := time.Until(got.ExpiresAt); d < 14*time.Minute || d > 16*time.Minute {
				t.Errorf("token expires in %v, want about 15 minutes", d)
			}
			got.IssuedAt, got.ExpiresAt = time.Time{}, time.Time{}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("claims (-want +got):\n%s", diff)
			}
		})
	}

	expired := iss.TokenAt(t, auth.Claims{Subject: "op-1", Role: auth.RoleASA}, time.Now().Add(-time.Hour), time.Minute)
	if _, err := v.Verify(ctx, expired); err == nil || !strings.Contains(err.Error(), "expired") {
		t.Errorf("Verify(TokenAt an hour ago) = %v, want expired", err)
	}

	// Another issuer's tokens are refused: different key, same kid.
	other := authtest.New(t)
	if _, err := v.Verify(ctx, other.Token(t, auth.Claims{Subject: "op-1", Role: auth.RoleASA})); err == nil {
		t.Error("Verify(token of another test issuer) = nil, want an error")
	}
}

func TestIssuerJWKS(t *testing.T) {
	iss := authtest.New(t)
	resp, err := http.Get(iss.JWKSURL())
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var doc struct {
		Keys []struct {
			Kid string `json:"kid"`
			Kty string `json:"kty"`
			Crv string `json:"crv"`
			Alg string `json:"alg"`
			Use string `json:"use"`
			D   string `json:"d"`
		} `json:"keys"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	if len(doc.Keys) != 1 {
		t.Fatalf("JWKS has %d keys, want 1", len(doc.Keys))
	}
	k := doc.Keys[0]
	got := []string{k.Kid, k.Kty, k.Crv, k.Alg, k.Use, k.D}
	want := []string{iss.KID, "OKP", "Ed25519", "EdDSA", "sig", ""}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("JWKS key [kid kty crv alg use d] (-want +got):\n%s", diff)
	}
}

// TestFromKey: the tokens of an issuer made from a service's own key pass a verifier that knows
// only that key (the service's own, with no JWKS).
func TestFromKey(t *testing.T) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	iss := authtest.FromKey(t, "csi-identity", "kid-7", priv)
	v := auth.NewVerifier(auth.StaticKeys{"kid-7": pub}, "csi-identity")
	if c, err := v.Verify(context.Background(), iss.Token(t, auth.Claims{Subject: "op-1", Role: auth.RoleEducator, AmbitoID: "a-1"})); err != nil || c.Subject != "op-1" {
		t.Fatalf("Verify = %+v, %v", c, err)
	}
	if _, err := iss.Verifier().Verify(context.Background(), iss.Token(t, auth.Claims{Subject: "op-1", Role: auth.RoleEducator, AmbitoID: "a-1"})); err != nil {
		t.Fatalf("the issuer's JWKS does not publish its key: %v", err)
	}
}
