package demo_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

// snapshot is what the demo ambito holds, as the administrator sees it through the API.
type snapshot struct {
	Orgs           []string // kind|name|istat|tax
	Accreditations []string // cooperative|type|tariff
	Operators      []string // email|role|organization kind
	Clients        []string // name|scopes
}

func take(t *testing.T, ctx context.Context, c *idclient.Client) snapshot {
	t.Helper()
	var s snapshot
	orgs, err := c.Organizations(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range orgs {
		s.Orgs = append(s.Orgs, fmt.Sprintf("%s|%s|%s|%s", o.Kind, o.Name, o.ISTATCode, o.TaxCode))
	}
	accs, err := c.Accreditations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range accs {
		s.Accreditations = append(s.Accreditations, fmt.Sprintf("%s|%s|%d", a.CooperativeName, a.ServiceType, a.HourlyTariffCents))
	}
	ops, err := c.Operators(ctx, nil, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range ops {
		for _, p := range o.Profiles {
			s.Operators = append(s.Operators, fmt.Sprintf("%s|%s|%s", o.Email, p.Role, p.OrganizationKind))
		}
	}
	clients, err := c.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range clients {
		s.Clients = append(s.Clients, cl.Name+"|"+strings.Join(cl.Scopes, " "))
	}
	for _, l := range [][]string{s.Orgs, s.Accreditations, s.Operators, s.Clients} {
		slices.Sort(l)
	}
	return s
}

// claims decodes the payload of a JWT (its signature is the service's business).
func claims(t *testing.T, token string) map[string]any {
	t.Helper()
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", token)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatalf("token payload: %v", err)
	}
	return m
}

// TestSeed loads the demo data into the real identity service, checks what the ambito holds
// and that every demo sign-in works in its role, then loads it again: nothing changes.
func TestSeed(t *testing.T) {
	d := generate(t, demo.DefaultSeed)
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: d.Bootstrap()})
	ctx := context.Background()
	c := idclient.New(srv.URL, nil)
	admin := d.Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		t.Fatalf("sign in as the bootstrapped administrator: %v", err)
	}
	c.SetToken(tok.AccessToken)

	began := time.Now()
	res, err := demo.Seed(ctx, c, d, demo.Options{})
	if err != nil {
		t.Fatalf("Seed: %v", err)
	}
	t.Logf("first seed took %s", time.Since(began))
	wantAccs := 0
	for _, coop := range d.Cooperatives {
		wantAccs += len(coop.Accreditations)
	}
	type counts struct{ Orgs, Accs, DemoUsers, Operators int }
	if diff := cmp.Diff(counts{res.Organizations, res.Accreditations, res.DemoUsers, res.Operators},
		counts{8 + 20 + 2, wantAccs, len(auth.Roles) - 1 + len(d.ComuneWorkers), len(d.Operators)}); diff != "" {
		t.Errorf("created by the first seed (-got +want):\n%s", diff)
	}
	if res.ClientSecret == "" {
		t.Errorf("the first seed created no machine client secret")
	}

	first := take(t, ctx, c)
	byKind := map[identity.OrgKind]int{}
	for _, o := range first.Orgs {
		byKind[identity.OrgKind(strings.Split(o, "|")[0])]++
	}
	if diff := cmp.Diff(byKind, map[identity.OrgKind]int{identity.OrgComune: 8, identity.OrgAzienda: 1,
		identity.OrgCooperativa: 20, identity.OrgATS: 1, identity.OrgRegion: 1}); diff != "" {
		t.Errorf("organizations by kind (-got +want):\n%s", diff)
	}
	accs, err := c.Accreditations(ctx)
	if err != nil {
		t.Fatal(err)
	}
	coopsByType := map[identity.ServiceType]map[string]bool{}
	for _, a := range accs {
		if coopsByType[a.ServiceType] == nil {
			coopsByType[a.ServiceType] = map[string]bool{}
		}
		coopsByType[a.ServiceType][a.CooperativeID.String()] = true
	}
	for _, st := range identity.ServiceTypes {
		if n := len(coopsByType[st]); n < 3 {
			t.Errorf("%s is accredited to %d cooperatives, want at least 3", st, n)
		}
	}
	if got := len(accs); got != wantAccs {
		t.Errorf("%d accreditations, want %d", got, wantAccs)
	}
	opsByKind := map[identity.OrgKind]int{}
	for _, o := range first.Operators {
		opsByKind[identity.OrgKind(strings.Split(o, "|")[2])]++
	}
	demoByKind := map[identity.OrgKind]int{}
	for _, u := range d.DemoUsers {
		o, _ := d.Org(u.OrgKey)
		demoByKind[o.Kind]++
	}
	wantOps := map[identity.OrgKind]int{
		identity.OrgCooperativa: demo.CooperativeOperators + demoByKind[identity.OrgCooperativa],
		identity.OrgComune:      demo.MunicipalOperators + demoByKind[identity.OrgComune] + len(d.ComuneWorkers),
		identity.OrgAzienda:     demo.PlanningStaff + demoByKind[identity.OrgAzienda],
		identity.OrgATS:         demoByKind[identity.OrgATS],
		identity.OrgRegion:      demoByKind[identity.OrgRegion],
	}
	if diff := cmp.Diff(opsByKind, wantOps); diff != "" {
		t.Errorf("operators' profiles by organization kind (-got +want):\n%s", diff)
	}

	// Every role signs in with its demo user and gets a token of that role, in the right
	// organization.
	for _, u := range append(slices.Clone(d.DemoUsers), d.ComuneWorkers...) {
		t.Run(u.Email, func(t *testing.T) {
			tok, err := idclient.New(srv.URL, nil).SignIn(ctx, u.Email, u.Password, "")
			if err != nil {
				t.Fatalf("sign in as %s: %v", u.Email, err)
			}
			org, _ := d.Org(u.OrgKey)
			got := claims(t, tok.AccessToken)
			want := map[string]any{"role": string(u.Role), "org": res.OrgIDs[u.OrgKey].String(), "org_kind": string(org.Kind), "kind": "operator"}
			if org.ISTATCode != "" {
				want["istat"] = org.ISTATCode
			}
			for k, v := range want {
				if got[k] != v {
					t.Errorf("claim %s = %v, want %v", k, got[k], v)
				}
			}
		})
	}
	ct, err := c.ClientCredentials(ctx, res.Client.ID.String(), res.ClientSecret)
	if err != nil {
		t.Fatalf("client credentials of the demo machine client: %v", err)
	}
	if got, want := claims(t, ct.AccessToken)["scope"], strings.Join(demo.ClientScopes, " "); got != want {
		t.Errorf("machine client's token scope = %v, want %q", got, want)
	}
	intakeClient, intakeSecret, err := demo.IntakeClient(ctx, c)
	if err != nil || intakeSecret == "" {
		t.Fatalf("IntakeClient: %v (secret given: %v)", err, intakeSecret != "")
	}
	if again, secret, err := demo.IntakeClient(ctx, c); err != nil || again.ID != intakeClient.ID || secret != "" {
		t.Fatalf("IntakeClient again = %v, %q, %v; want the same client, no new secret", again.ID, secret, err)
	}
	it, err := c.ClientCredentials(ctx, intakeClient.ID.String(), intakeSecret)
	if err != nil {
		t.Fatalf("client credentials of the intake service's client: %v", err)
	}
	if got, want := claims(t, it.AccessToken)["scope"], strings.Join(demo.IntakeClientScopes, " "); got != want {
		t.Errorf("intake client's token scope = %v, want %q", got, want)
	}
	ft, err := c.ClientCredentials(ctx, res.FeedClient.ID.String(), res.FeedClientSecret)
	if err != nil {
		t.Fatalf("client credentials of the demo population-register feed: %v", err)
	}
	if got, want := claims(t, ft.AccessToken)["scope"], strings.Join(demo.FeedClientScopes, " "); got != want {
		t.Errorf("feed client's token scope = %v, want %q", got, want)
	}

	// Again: nothing to do, nothing changes (intake's client, made above, included).
	first = take(t, ctx, c)
	res2, err := demo.Seed(ctx, c, d, demo.Options{})
	if err != nil {
		t.Fatalf("second Seed: %v", err)
	}
	if res2.Created() {
		t.Errorf("the second seed created %+v, want nothing", res2)
	}
	if res2.Client.ID != res.Client.ID {
		t.Errorf("the second seed found client %s, want %s", res2.Client.ID, res.Client.ID)
	}
	if diff := cmp.Diff(take(t, ctx, c), first); diff != "" {
		t.Errorf("the second seed changed the ambito (-after +before):\n%s", diff)
	}
}

// A service's machine client made by an earlier checkout with fewer scopes than the service
// needs now is disabled and made again with all of them; one with every scope is kept.
func TestEnsureServiceClientScopes(t *testing.T) {
	d := generate(t, demo.DefaultSeed)
	srv := identitytest.Start(t, identitytest.Options{Bootstrap: d.Bootstrap()})
	ctx := context.Background()
	c := idclient.New(srv.URL, nil)
	admin := d.Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		t.Fatal(err)
	}
	c.SetToken(tok.AccessToken)
	old := demo.ServiceClient{Service: "interventions", Name: "Interventions service", Scopes: []string{"accreditations:read"}}
	first, secret, err := demo.EnsureServiceClient(ctx, c, old)
	if err != nil || secret == "" {
		t.Fatalf("first client: %v (secret %q)", err, secret)
	}
	now := old
	now.Scopes = []string{"accreditations:read", "operators:read"}
	second, secret, err := demo.EnsureServiceClient(ctx, c, now)
	if err != nil || secret == "" || second.ID == first.ID {
		t.Fatalf("with a scope more: client %s (the first %s), secret %q, %v: want a new client", second.ID, first.ID, secret, err)
	}
	if _, err := idclient.New(srv.URL, nil).ClientCredentials(ctx, second.ID.String(), secret, "operators:read"); err != nil {
		t.Errorf("the new client's token with operators:read: %v", err)
	}
	third, secret, err := demo.EnsureServiceClient(ctx, c, now)
	if err != nil || secret != "" || third.ID != second.ID {
		t.Errorf("again: client %s, secret %q, %v: want the second client kept", third.ID, secret, err)
	}
	clients, err := c.Clients(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, cl := range clients {
		if cl.ID == first.ID && cl.Active {
			t.Error("the client without operators:read is still active")
		}
	}
}
