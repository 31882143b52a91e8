package identitytest_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// TestInterventionsReadsAccreditations asks the real identity service what interventions'
// identity adapter asks, with the machine client make run gives interventions (demo.ServiceClients):
// the client's scopes admit it, and the accreditations come back as identity stores them.
func TestInterventionsReadsAccreditations(t *testing.T) {
	fiscal, err := codicefiscale.Compute("Verdi", "Anna", time.Date(1980, 5, 17, 0, 0, 0, 0, time.UTC), codicefiscale.Female, "F205")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Sicura-Parola-42!"
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: identity.Bootstrap{AmbitoCode: "ambito-iv", AmbitoName: "Ambito IV",
		AziendaName: "Azienda IV", AdminEmail: "admin@iv.example", AdminPassword: password, AdminFiscalCode: fiscal,
		AdminGivenName: "Anna", AdminFamilyName: "Verdi"}})
	ctx := context.Background()
	c := idclient.New(srv.URL, nil)
	tok, err := c.SignIn(ctx, "admin@iv.example", password, "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok.AccessToken)
	coop, err := c.CreateOrganization(ctx, identity.OrganizationInput{Kind: identity.OrgCooperativa, Name: "Cooperativa Sociale Esempio",
		TaxCode: "01234567897"})
	if err != nil {
		t.Fatal(err)
	}
	to := "2026-12-31"
	acc, err := c.CreateAccreditation(ctx, identity.AccreditationInput{CooperativeID: coop.ID, ServiceType: "SAD", ValidFrom: "2026-01-01",
		ValidTo: &to, HourlyTariffCents: 2150})
	if err != nil {
		t.Fatal(err)
	}
	var sc demo.ServiceClient
	for _, s := range demo.ServiceClients {
		if s.Service == "interventions" {
			sc = s
		}
	}
	cl, secret, err := demo.EnsureServiceClient(ctx, c, sc)
	if err != nil || secret == "" {
		t.Fatalf("interventions' client: %v (secret given: %v)", err, secret != "")
	}
	// What interventions' adapter (services/interventions/identityhttp) asks, with the
	// client's token; its own test checks the adapter against identity's contract.
	cc := &auth.ClientCredentials{TokenURL: srv.URL + auth.TokenPath, ClientID: cl.ID.String(), ClientSecret: secret}
	list := func(coop uuid.UUID) []interventions.Accreditation {
		at, err := cc.Token(ctx)
		if err != nil {
			t.Fatalf("interventions' client token: %v", err)
		}
		q := url.Values{"cooperative_id": {coop.String()}, "service_type": {"SAD"}, "limit": {"200"}}
		req, _ := http.NewRequestWithContext(ctx, "GET", srv.URL+"/v1/accreditations?"+q.Encode(), nil)
		req.Header.Set("Authorization", "Bearer "+at)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct{ Items []interventions.Accreditation }
		if resp.StatusCode != 200 {
			t.Fatalf("GET /v1/accreditations with interventions' client: %s", resp.Status)
		}
		if err := json.NewDecoder(resp.Body).Decode(&page); err != nil {
			t.Fatal(err)
		}
		return page.Items
	}
	got := list(coop.ID)
	if len(got) != 1 || got[0].ID != acc.ID || got[0].AmbitoID != acc.AmbitoID || got[0].ValidFrom != "2026-01-01" || got[0].ValidTo == nil ||
		*got[0].ValidTo != to || got[0].HourlyTariffCents != 2150 {
		t.Errorf("accreditations %+v, want %+v", got, acc)
	}
	if none := list(uuid.New()); len(none) != 0 {
		t.Errorf("another cooperative: %v", none)
	}
}
