package identitytest_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// TestClientCredentialsAgainstIdentity runs pkg/auth's token source against the real identity
// service: the protocol pkg/auth speaks is the one identity accepts, the token verifies with
// identity's published keys, and identity's refusals get the kinds pkg/auth documents.
func TestClientCredentialsAgainstIdentity(t *testing.T) {
	fiscal, err := codicefiscale.Compute("Verdi", "Anna", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), codicefiscale.Female, "F205")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Sicura-Parola-42!"
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: identity.Bootstrap{AmbitoCode: "ambito-cc", AmbitoName: "Ambito CC",
		AziendaName: "Azienda CC", AdminEmail: "admin@cc.example", AdminPassword: password, AdminFiscalCode: fiscal,
		AdminGivenName: "Anna", AdminFamilyName: "Verdi"}})
	ctx := context.Background()
	c := idclient.New(srv.URL, nil)
	tok, err := c.SignIn(ctx, "admin@cc.example", password, "")
	if err != nil {
		t.Fatalf("sign in as the administrator: %v", err)
	}
	c.SetToken(tok.AccessToken)
	client, err := c.CreateClient(ctx, identity.ClientInput{Name: "intake", Scopes: []string{"citizens:read", "events:read"}})
	if err != nil {
		t.Fatalf("create the machine client: %v", err)
	}

	source := func(secret string, scopes ...string) *auth.ClientCredentials {
		return &auth.ClientCredentials{TokenURL: srv.URL + auth.TokenPath, ClientID: client.ID.String(), ClientSecret: secret, Scopes: scopes}
	}
	cc := source(client.Secret, "citizens:read")
	at, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("Token() from identity: %v", err)
	}
	claims, err := auth.NewVerifier(auth.NewJWKS(srv.URL+"/.well-known/jwks.json", nil), "csi-identity").Verify(ctx, at)
	if err != nil {
		t.Fatalf("identity's token does not verify with its keys: %v", err)
	}
	if claims.Kind != auth.KindClient || claims.Subject != client.ID.String() || !cmp.Equal(claims.Scopes, []string{"citizens:read"}) {
		t.Errorf("claims = kind %q, subject %q, scopes %q; want the client with the scope asked for", claims.Kind, claims.Subject, claims.Scopes)
	}
	if again, err := cc.Token(ctx); err != nil || again != at {
		t.Errorf("second Token() = new %v, %v; want the cached token", again != at, err)
	}
	if all, err := source(client.Secret).Token(ctx); err != nil {
		t.Errorf("Token() with no scopes asked: %v", err)
	} else if cl, err := auth.NewVerifier(auth.NewJWKS(srv.URL+"/.well-known/jwks.json", nil), "csi-identity").Verify(ctx, all); err != nil ||
		!cmp.Equal(cl.Scopes, []string{"citizens:read", "events:read"}) {
		t.Errorf("scopes with none asked = %q, %v; want all of the client's", cl.Scopes, err)
	}

	for _, tc := range []struct {
		name   string
		cc     *auth.ClientCredentials
		detail string
	}{
		{name: "wrong secret", cc: source("not-the-secret"), detail: "client credentials"},
		{name: "scope not held", cc: source(client.Secret, "citizens:write"), detail: "scopes"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := tc.cc.Token(ctx)
			if !errs.Is(err, errs.Internal) || !strings.Contains(err.Error(), tc.detail) {
				t.Errorf("Token() error = %v, want kind internal about the %s", err, tc.detail)
			}
			if strings.Contains(err.Error(), client.Secret) {
				t.Errorf("the error shows the secret: %v", err)
			}
		})
	}
}
