package identity_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/app/apptest"
	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/services/identity/postgres"
)

// password is the demo password every test operator gets: it passes the policy.
const password = "Quattro-Stagioni-77"

var sets = []pgdb.MigrationSet{audit.Migrations, events.Migrations, idempotency.Migrations, postgres.Migrations}

// suite is a running identity service on a fresh database, with an ambito populated with one
// operator per role.
type suite struct {
	t       *testing.T
	srv     *httptest.Server
	app     *app.App
	svc     *identity.Service
	keys    *identity.KeyRing
	proxy   *pgtest.Proxy
	ambito  identity.Ambito
	azienda identity.Organization
	comune  identity.Organization
	coopA   identity.Organization
	coopB   identity.Organization
	ats     identity.Organization
	region  identity.Organization
	users   map[auth.Role]string // role -> e-mail
	tokens  map[auth.Role]string // role -> access token
	admin   string
	cfg     identity.Config
	httpc   *http.Client
}

type option func(*identity.Config)

func newSuite(t *testing.T, opts ...option) *suite {
	t.Helper()
	ctx := context.Background()
	// The service reaches the database through a proxy, so a test can take the database away.
	proxy, dbURL := pgtest.NewProxy(t, pgtest.NewURL(t))
	pool, err := pgdb.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pool.Close)
	if err := pgdb.Migrate(ctx, pool, nil, sets...); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	a := app.New(app.Base{Service: "identity", Audit: apptest.AuditConfig(t)}, log, prometheus.NewRegistry(), pool, sets...)
	store := postgres.New(pool)
	master := make([]byte, 32)
	_, _ = rand.Read(master)
	cfg := identity.DefaultConfig()
	for _, o := range opts {
		o(&cfg)
	}
	keys, err := identity.NewKeyRing(store, master, 24*time.Hour, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if err := keys.Rotate(ctx, time.Now().UTC()); err != nil {
		t.Fatal(err)
	}
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	svc := identity.NewService(store, keys, auditLog, places.Default(), cfg, log)
	idem := idempotency.New(pool, log)
	idem.MaxBody = identity.MaxImportBytes
	h := a.Handler(auth.NewVerifier(keys, cfg.Issuer), func(mux *httpapi.Mux) {
		identity.Routes(mux, identity.MakeEndpoints(svc), log, idem.Middleware, keys.Public)
		mux.Handle("GET /v1/events", httpapi.NewServer(log, events.FeedEndpoint(pool), events.DecodeFeedRequest))
	})
	s := &suite{t: t, srv: httptest.NewServer(h), app: a, svc: svc, keys: keys, proxy: proxy, users: map[auth.Role]string{},
		tokens: map[auth.Role]string{}, cfg: cfg}
	t.Cleanup(s.srv.Close)
	s.populate(ctx)
	return s
}

var seq atomic.Int64

// person returns unique, valid operator data.
func person(t *testing.T) (fiscal, given, family, email string) {
	n := seq.Add(1)
	given = []string{"Giulia", "Marco", "Chiara", "Luca", "Sara", "Paolo", "Elena", "Davide"}[n%8]
	family = []string{"Bianchi", "Colombo", "Ferrari", "Galli", "Brambilla", "Villa", "Fumagalli", "Sala"}[(n/8)%8]
	birth := time.Date(1960+int(n%30), time.Month(1+n%12), 1+int(n%28), 0, 0, 0, 0, time.UTC)
	sex := codicefiscale.Female
	if n%2 == 0 {
		sex = codicefiscale.Male
	}
	fiscal, err := codicefiscale.Compute(family, given, birth, sex, "F205")
	if err != nil {
		t.Fatal(err)
	}
	r, _ := rand.Int(rand.Reader, big.NewInt(1<<40))
	email = fmt.Sprintf("op%d.%x@test.csi.example", n, r)
	return
}

func (s *suite) populate(ctx context.Context) {
	t := s.t
	_, _, _, adminEmail := person(t)
	fiscal, _, _, _ := person(t)
	res, err := s.svc.EnsureBootstrap(ctx, identity.Bootstrap{AmbitoCode: "test-" + uuid.NewString()[:8], AmbitoName: "Ambito Test",
		AdminEmail: adminEmail, AdminPassword: password, AdminFiscalCode: fiscal, AdminGivenName: "Anna", AdminFamilyName: "Admin"})
	if err != nil {
		t.Fatalf("bootstrap: %v", err)
	}
	s.ambito, s.azienda = res.Ambito, res.Azienda
	s.admin = s.token(adminEmail, password, "")
	s.users[auth.RoleAmbitoAdmin], s.tokens[auth.RoleAmbitoAdmin] = adminEmail, s.admin
	s.comune = s.createOrg(map[string]any{"kind": "comune", "name": "Comune di Milano", "istat_code": "015146"})
	s.coopA = s.createOrg(map[string]any{"kind": "cooperativa", "name": "Cooperativa Alfa", "tax_code": "00743110157"})
	s.coopB = s.createOrg(map[string]any{"kind": "cooperativa", "name": "Cooperativa Beta", "tax_code": "02876990587"})
	s.ats = s.createOrg(map[string]any{"kind": "ats", "name": "ATS Città Metropolitana"})
	s.region = s.createOrg(map[string]any{"kind": "region", "name": "Regione Lombardia"})
	orgFor := map[auth.Role]uuid.UUID{
		auth.RoleServiceManager: s.comune.ID, auth.RoleSocialWorker: s.comune.ID, auth.RoleAdministrative: s.comune.ID,
		auth.RolePlanningOffice: s.azienda.ID, auth.RoleCoopCoordinator: s.coopA.ID, auth.RoleEducator: s.coopA.ID,
		auth.RoleASA: s.coopA.ID, auth.RoleOSS: s.coopA.ID, auth.RoleATSMonitor: s.ats.ID, auth.RoleRegionMonitor: s.region.ID,
		auth.RolePrivacyOfficer: s.azienda.ID,
	}
	for role, org := range orgFor {
		op := s.createOperator(s.admin, org, role, true)
		s.users[role] = op.Email
		s.tokens[role] = s.token(op.Email, password, "")
	}
}

// do sends a request and decodes the JSON answer into out (when not nil).
func (s *suite) do(method, path, token string, body any, out any, headers ...string) *http.Response {
	s.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd = strings.NewReader(b)
	case []byte:
		rd = bytes.NewReader(b)
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			s.t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
	if err != nil {
		s.t.Fatal(err)
	}
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := s.client().Do(req)
	if err != nil {
		s.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			s.t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp
}

func (s *suite) client() *http.Client {
	if s.httpc == nil {
		s.httpc = contractClient(s.t, s.srv.Client())
	}
	return s.httpc
}

func (s *suite) must(status int, resp *http.Response) {
	s.t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		s.t.Fatalf("%s %s = %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
}

func (s *suite) token(email, pw, profile string) string {
	s.t.Helper()
	var tr identity.TokenResponse
	form := url.Values{"grant_type": {"password"}, "username": {email}, "password": {pw}}
	if profile != "" {
		form.Set("profile_id", profile)
	}
	s.must(200, s.do("POST", "/v1/oauth/token", "", form, &tr))
	return tr.AccessToken
}

func (s *suite) createOrg(body map[string]any) identity.Organization {
	s.t.Helper()
	var o identity.Organization
	s.must(201, s.do("POST", "/v1/organizations", s.admin, body, &o))
	return o
}

func (s *suite) operatorBody(org uuid.UUID, role auth.Role, withPassword bool) map[string]any {
	fiscal, given, family, email := person(s.t)
	body := map[string]any{"fiscal_code": fiscal, "given_name": given, "family_name": family, "email": email,
		"profiles": []map[string]any{{"organization_id": org, "role": role, "valid_from": "2024-01-01"}}}
	if withPassword {
		body["password"] = password
	}
	return body
}

func (s *suite) createOperator(token string, org uuid.UUID, role auth.Role, withPassword bool) identity.Operator {
	s.t.Helper()
	var op identity.Operator
	s.must(201, s.do("POST", "/v1/operators", token, s.operatorBody(org, role, withPassword), &op))
	return op
}

func (s *suite) count(table string) int {
	s.t.Helper()
	var n int
	if err := s.app.Pool.QueryRow(context.Background(), "SELECT count(*) FROM "+table).Scan(&n); err != nil {
		s.t.Fatal(err)
	}
	return n
}

// problem is an RFC 9457 answer.
type problem struct {
	Type, Title, Detail, RequestID string
	Status                         int
	Errors                         []struct{ Field, Message string }
}

func (p problem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}
