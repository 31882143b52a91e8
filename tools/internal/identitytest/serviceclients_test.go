package identitytest_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// TestServiceClientGetsNewScopes: a service's machine client made before the service needed
// one more scope (interventions' had accreditations:read only, before it followed intake's feed
// and read registry's citizens) is disabled and made anew with the scopes demo.ServiceClients
// names; one that has them all is kept.
func TestServiceClientGetsNewScopes(t *testing.T) {
	fiscal, err := codicefiscale.Compute("Verdi", "Anna", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), codicefiscale.Female, "F205")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Sicura-Parola-42!"
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: identity.Bootstrap{AmbitoCode: "ambito-sc", AmbitoName: "Ambito SC",
		AziendaName: "Azienda SC", AdminEmail: "admin@sc.example", AdminPassword: password, AdminFiscalCode: fiscal,
		AdminGivenName: "Anna", AdminFamilyName: "Verdi"}})
	ctx := context.Background()
	c := idclient.New(srv.URL, nil)
	tok, err := c.SignIn(ctx, "admin@sc.example", password, "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok.AccessToken)
	var sc demo.ServiceClient
	for _, s := range demo.ServiceClients {
		if s.Service == "interventions" {
			sc = s
		}
	}
	old, err := c.CreateClient(ctx, identity.ClientInput{Name: sc.Name, Scopes: []string{"accreditations:read"}})
	if err != nil {
		t.Fatal(err)
	}
	cl, secret, err := demo.EnsureServiceClient(ctx, c, sc)
	if err != nil || secret == "" || cl.ID == old.Client.ID {
		t.Fatalf("EnsureServiceClient() = %v, secret given %v, id %s (old %s); want a new client with a secret", err, secret != "", cl.ID, old.Client.ID)
	}
	if !slices.Equal(cl.Scopes, sc.Scopes) {
		t.Errorf("new client's scopes = %v, want %v", cl.Scopes, sc.Scopes)
	}
	clients, err := c.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range clients {
		if x.ID == old.Client.ID && x.Active {
			t.Errorf("the old client %s is still active", x.ID)
		}
	}
	again, secret, err := demo.EnsureServiceClient(ctx, c, sc)
	if err != nil || secret != "" || again.ID != cl.ID {
		t.Errorf("EnsureServiceClient() again = %s, %v (secret given %v); want the same client %s kept", again.ID, err, secret != "", cl.ID)
	}
}
