package clienttest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/services/interventions/client"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/identitytest"
)

const (
	password = "Sicura-Parola-42!"
	milano   = "015146"
)

// world is identity and interventions running, with a comune (Milano) and its service manager,
// a cooperative accredited for SAD with an ASA, the cooperative's machine client, and
// interventions behind a proxy.
type world struct {
	t         *testing.T
	identity  *identitytest.Server
	ivURL     string // interventions, directly
	proxy     *proxy
	coop      uuid.UUID
	asa       uuid.UUID // an ASA of the cooperative
	manager   string    // the service manager's token
	clientID  string
	secret    string
	otherCoop uuid.UUID
}

// clientTTL is the lifetime of the machine clients' tokens: short, so that the client must
// renew its token during the test.
const clientTTL = 3 * time.Second

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	admin := person(t, "Verdi", "Anna", "1980-05-17", codicefiscale.Female)
	w := &world{t: t}
	w.identity = identitytest.Start(t, identitytest.Options{Bootstrap: identity.Bootstrap{AmbitoCode: "ambito-cl",
		AmbitoName: "Ambito CL", AziendaName: "Azienda CL", AdminEmail: "admin@cl.example", AdminPassword: password,
		AdminFiscalCode: admin, AdminGivenName: "Anna", AdminFamilyName: "Verdi"},
		Env: []string{"CSI_IDENTITY_CLIENT_ACCESS_TTL=" + clientTTL.String()}})
	ic := idclient.New(w.identity.URL, nil)
	tok, err := ic.SignIn(ctx, "admin@cl.example", password, "")
	if err != nil {
		t.Fatal(err)
	}
	ic.SetToken(tok.AccessToken)
	comune, err := ic.CreateOrganization(ctx, identity.OrganizationInput{Kind: identity.OrgComune, Name: "Comune di Milano",
		ISTATCode: milano})
	if err != nil {
		t.Fatal(err)
	}
	coop, err := ic.CreateOrganization(ctx, identity.OrganizationInput{Kind: identity.OrgCooperativa, Name: "Cooperativa Sociale Esempio",
		TaxCode: "01234567897"})
	if err != nil {
		t.Fatal(err)
	}
	w.coop = coop.ID
	other, err := ic.CreateOrganization(ctx, identity.OrganizationInput{Kind: identity.OrgCooperativa, Name: "Cooperativa Sociale Altra",
		TaxCode: "00000010215"})
	if err != nil {
		t.Fatal(err)
	}
	w.otherCoop = other.ID
	for _, c := range []uuid.UUID{coop.ID, other.ID} {
		if _, err := ic.CreateAccreditation(ctx, identity.AccreditationInput{CooperativeID: c, ServiceType: "SAD", ValidFrom: "2025-01-01",
			HourlyTariffCents: 2150}); err != nil {
			t.Fatal(err)
		}
	}
	mk := func(family, given, birth, email string, org uuid.UUID, role auth.Role) identity.Operator {
		op, err := ic.CreateOperator(ctx, identity.OperatorInput{FiscalCode: person(t, family, given, birth, codicefiscale.Female),
			GivenName: given, FamilyName: family, Email: email, Password: password,
			Profiles: []identity.ProfileInput{{OrganizationID: org, Role: role, ValidFrom: "2024-01-01"}}})
		if err != nil {
			t.Fatalf("create %s: %v", email, err)
		}
		return op
	}
	mk("Galli", "Francesca", "1970-06-02", "manager@cl.example", comune.ID, auth.RoleServiceManager)
	w.asa = mk("Popescu", "Ioana", "1985-02-12", "asa@cl.example", coop.ID, auth.RoleASA).ID
	mtok, err := idclient.New(w.identity.URL, nil).SignIn(ctx, "manager@cl.example", password, "")
	if err != nil {
		t.Fatal(err)
	}
	w.manager = mtok.AccessToken
	scopes := []string{client.ScopeAuthorizationsRead, client.ScopeVisitsRead, client.ScopeVisitsWrite,
		client.ScopeStatementsRead, client.ScopeStatementsWrite}
	cl, err := ic.CreateClient(ctx, identity.ClientInput{Name: "Gestionale della cooperativa", OrganizationID: &coop.ID, Scopes: scopes})
	if err != nil {
		t.Fatal(err)
	}
	w.clientID, w.secret = cl.ID.String(), cl.Secret

	// interventions' own client, for the accreditations at identity.
	var sc demo.ServiceClient
	for _, s := range demo.ServiceClients {
		if s.Service == "interventions" {
			sc = s
		}
	}
	ivc, ivSecret, err := demo.EnsureServiceClient(ctx, ic, sc)
	if err != nil {
		t.Fatal(err)
	}
	w.ivURL, _ = identitytest.StartService(t, "interventions", []string{"CSI_DATABASE_URL=" + pgtest.NewURL(t),
		"CSI_JWKS_URL=" + w.identity.URL + "/.well-known/jwks.json", "CSI_IDENTITY_URL=" + w.identity.URL,
		"CSI_INTERVENTIONS_CLIENT_ID=" + ivc.ID.String(), "CSI_INTERVENTIONS_CLIENT_SECRET=" + ivSecret, "CSI_REDIS_URL="})
	w.proxy = newProxy(t, w.ivURL)
	return w
}

// client returns the cooperative's client, through the proxy, with quick retries.
func (w *world) client(cfg client.Config) *client.Client {
	w.t.Helper()
	if cfg.ClientID == "" {
		cfg.ClientID, cfg.ClientSecret = w.clientID, w.secret
	}
	cfg.IdentityURL, cfg.BaseURL = w.identity.URL, w.proxy.srv.URL
	if cfg.MinBackoff == 0 {
		cfg.MinBackoff, cfg.MaxBackoff = 10*time.Millisecond, 100*time.Millisecond
	}
	c, err := client.New(cfg)
	if err != nil {
		w.t.Fatal(err)
	}
	return c
}

// authorize creates and activates an authorization of SAD at Milano for the cooperative, as the
// service manager.
func (w *world) authorize(coop uuid.UUID, from, to string) interventions.Authorization {
	w.t.Helper()
	var a interventions.Authorization
	w.call("POST", "/v1/authorizations", map[string]any{"istat_code": milano,
		"case_id": uuid.New(), "citizen_id": uuid.New(), "service_type": "SAD", "cooperative_id": coop,
		"period": map[string]any{"from": from, "to": to}, "hours": map[string]any{"per_week": 6},
		"schedule": []map[string]any{{"weekday": "mon", "from": "09:00", "to": "11:00"}}}, &a)
	w.call("POST", "/v1/authorizations/"+a.ID.String()+"/status", map[string]any{"status": "active", "reason": "Progetto approvato"}, &a)
	return a
}

// call sends a request to interventions as the service manager and decodes its 2xx answer.
func (w *world) call(method, path string, in, out any) {
	w.t.Helper()
	b, err := json.Marshal(in)
	if err != nil {
		w.t.Fatal(err)
	}
	req, _ := http.NewRequest(method, w.ivURL+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+w.manager)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Idempotency-Key", uuid.NewString())
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		w.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		w.t.Fatalf("%s %s = %d %s", method, path, resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		w.t.Fatal(err)
	}
}

func person(t *testing.T, family, given, birth string, sex codicefiscale.Sex) string {
	t.Helper()
	d, err := time.Parse(time.DateOnly, birth)
	if err != nil {
		t.Fatal(err)
	}
	code, err := codicefiscale.Compute(family, given, d, sex, "F205")
	if err != nil {
		t.Fatal(err)
	}
	return code
}

// exchange is a request the proxy saw.
type exchange struct {
	Method, Path, Key, Token string
	Status                   int // 0: the answer was dropped
	Body                     []byte
}

// proxy forwards to interventions; on demand it drops the answer of the next request to a
// path after interventions processed it (the connection is cut: the client sees a network
// error), or refuses the next request with 401 as if its token had expired.
type proxy struct {
	srv    *httptest.Server
	target *url.URL
	mu     sync.Mutex
	seen   []exchange
	drop   map[string]int // path -> answers still to drop
	reject int            // requests still to refuse with 401
}

func newProxy(t *testing.T, target string) *proxy {
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{target: u, drop: map[string]int{}}
	p.srv = httptest.NewServer(p)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	ex := exchange{Method: r.Method, Path: r.URL.Path, Key: r.Header.Get("Idempotency-Key"),
		Token: strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")}
	p.mu.Lock()
	refuse := p.reject > 0
	if refuse {
		p.reject--
	}
	drop := p.drop[r.URL.Path] > 0
	if drop {
		p.drop[r.URL.Path]--
	}
	p.mu.Unlock()
	if refuse {
		ex.Status = 401
		p.record(ex)
		w.Header().Set("Content-Type", "application/problem+json")
		w.Header().Set("WWW-Authenticate", `Bearer realm="csi"`)
		w.WriteHeader(401)
		_, _ = io.WriteString(w, `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"the token has expired"}`)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI, out.URL.Scheme, out.URL.Host, out.Host = "", p.target.Scheme, p.target.Host, p.target.Host
	out.Body, out.ContentLength = io.NopCloser(bytes.NewReader(body)), int64(len(body))
	resp, err := http.DefaultTransport.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	answer, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	ex.Body = answer
	if drop { // interventions has answered: the answer is lost on the way back
		p.record(ex)
		panic(http.ErrAbortHandler)
	}
	ex.Status = resp.StatusCode
	p.record(ex)
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	_, _ = w.Write(answer)
}

func (p *proxy) record(ex exchange) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.seen = append(p.seen, ex)
}

// take returns the exchanges seen since the last take.
func (p *proxy) take() []exchange {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := p.seen
	p.seen = nil
	return out
}

// TestClient runs the client against identity and interventions: the token and its renewal,
// the authorizations, and the refusals as typed errors.
func TestClient(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mine := []interventions.Authorization{w.authorize(w.coop, "2025-01-01", "2026-12-31"), w.authorize(w.coop, "2025-03-01", "2025-12-31")}
	w.authorize(w.otherCoop, "2025-01-01", "2026-12-31")

	t.Run("token", func(t *testing.T) {
		c := w.client(client.Config{})
		first, err := c.Token(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if again, err := c.Token(ctx); err != nil || again != first {
			t.Errorf("second Token() = new %v, %v; want the token held", again != first, err)
		}
		id, err := c.CooperativeID(ctx)
		if err != nil || id != w.coop.String() {
			t.Errorf("CooperativeID() = %q, %v; want %s", id, err, w.coop)
		}
		time.Sleep(clientTTL * 4 / 5) // into the last fifth of its life: renewed before it expires
		renewed, err := c.Token(ctx)
		if err != nil || renewed == first {
			t.Errorf("Token() near expiry = new %v, %v; want a new token", renewed != first, err)
		}
	})

	t.Run("a 401 gets a new token once", func(t *testing.T) {
		c := w.client(client.Config{})
		if _, err := c.GetAuthorization(ctx, mine[0].ID.String()); err != nil {
			t.Fatal(err)
		}
		w.proxy.take()
		w.proxy.reject = 1
		a, err := c.GetAuthorization(ctx, mine[0].ID.String())
		if err != nil || a.ID != mine[0].ID.String() {
			t.Fatalf("GetAuthorization after a 401 = %v, %v", a.ID, err)
		}
		seen := w.proxy.take()
		if len(seen) != 2 || seen[0].Status != 401 || seen[1].Status != 200 || seen[0].Token == seen[1].Token {
			t.Errorf("exchanges %+v, want a 401 then a 200 with a new token", statuses(seen))
		}
		w.proxy.reject = 2 // refused again with the new token: the caller is told
		_, err = c.GetAuthorization(ctx, mine[0].ID.String())
		if !errors.Is(err, client.ErrUnauthorized) {
			t.Errorf("two 401s = %v, want ErrUnauthorized", err)
		}
		if n := len(w.proxy.take()); n != 2 {
			t.Errorf("%d requests for two 401s, want 2 (one new token, no more)", n)
		}
	})

	t.Run("wrong secret", func(t *testing.T) {
		c := w.client(client.Config{ClientID: w.clientID, ClientSecret: "not-the-secret"})
		_, err := c.GetAuthorization(ctx, mine[0].ID.String())
		var p *client.Problem
		if !errors.Is(err, client.ErrUnauthorized) || !errors.As(err, &p) || p.Code != "invalid_client" {
			t.Errorf("GetAuthorization with a wrong secret = %v, want ErrUnauthorized, invalid_client", err)
		}
		if err != nil && strings.Contains(err.Error(), w.secret) {
			t.Errorf("the error shows the secret")
		}
	})

	t.Run("list authorizations", func(t *testing.T) {
		c := w.client(client.Config{})
		w.proxy.take()
		var got []string
		for a, err := range c.ListAuthorizations(ctx, client.AuthorizationFilter{Status: client.AuthorizationActive, PageSize: 1}) {
			if err != nil {
				t.Fatal(err)
			}
			if a.CooperativeID != w.coop.String() || a.Status != client.AuthorizationActive || a.HourlyTariffCents != 2150 {
				t.Errorf("authorization %+v, want an active one of the cooperative at 21.50", a)
			}
			got = append(got, a.ID)
		}
		want := []string{mine[1].ID.String(), mine[0].ID.String()} // newest first; never the other cooperative's
		if strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("authorizations %v, want %v", got, want)
		}
		if n := len(w.proxy.take()); n != 2 {
			t.Errorf("%d requests for two pages of one, want 2", n)
		}
		for range c.ListAuthorizations(ctx, client.AuthorizationFilter{Status: client.AuthorizationDraft}) {
			t.Errorf("a draft listed")
		}
		// Stopping the loop stops the requests.
		for range c.ListAuthorizations(ctx, client.AuthorizationFilter{PageSize: 1}) {
			break
		}
		if n := len(w.proxy.take()); n != 2 {
			t.Errorf("%d requests, want 2 (one per loop)", n)
		}
	})

	t.Run("typed errors", func(t *testing.T) {
		c := w.client(client.Config{})
		var p *client.Problem
		_, err := c.GetAuthorization(ctx, uuid.NewString())
		if !errors.Is(err, client.ErrNotFound) || !errors.As(err, &p) || p.Status != 404 || p.RequestID == "" {
			t.Errorf("an unknown authorization = %v (%+v), want a 404 problem with its request id", err, p)
		}
		_, err = c.GetAuthorization(ctx, "not-a-uuid")
		if !errors.Is(err, client.ErrInvalid) || !errors.As(err, &p) {
			t.Errorf("a malformed id = %v, want ErrInvalid", err)
		} else if _, named := p.Field("id"); !named {
			t.Errorf("problem %+v names no field id", p)
		}
		narrow := w.client(client.Config{Scopes: []string{client.ScopeVisitsWrite}})
		for _, err := range narrow.ListAuthorizations(ctx, client.AuthorizationFilter{}) {
			if !errors.Is(err, client.ErrForbidden) {
				t.Errorf("listing without authorizations:read = %v, want ErrForbidden", err)
			}
		}
		w.proxy.take()
		w.proxy.drop["/v1/authorizations/"+mine[0].ID.String()] = 1
		if a, err := c.GetAuthorization(ctx, mine[0].ID.String()); err != nil || a.ID != mine[0].ID.String() {
			t.Errorf("GetAuthorization after a lost answer = %v, %v; want it retried", a.ID, err)
		}
		if n := len(w.proxy.take()); n != 2 {
			t.Errorf("%d requests, want 2 (the lost one and its retry)", n)
		}
	})
}

func statuses(xs []exchange) []int {
	var out []int
	for _, x := range xs {
		out = append(out, x.Status)
	}
	return out
}
