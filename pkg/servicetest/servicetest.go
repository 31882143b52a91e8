// Package servicetest is the test harness every service shares: the service composed by its own
// Mount function (the path its main takes) on a fresh database behind httptest, an ambito with an
// organization of every kind and a token of every role, machine clients, requests whose answers
// are checked against the service's OpenAPI document, and the role × endpoint table that both the
// role matrix (RoleMatrix) and the contract sweep (Sweep) read.
package servicetest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/app/apptest"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

// Milano is the ISTAT code of the comune whose operators the suite's comune tokens carry.
const Milano = "015146"

// Config describes the service under test.
type Config struct {
	// Service is the service's name (metrics, audit chains).
	Service string
	// Sets are the service's own migrations, in order (after the skeleton's: app.Sets).
	Sets []pgdb.MigrationSet
	// OpenAPI is the service's contract: every answer of Do is checked against it.
	OpenAPI []byte
	// Pool, when set, is the database the service runs on, as the test prepared it.
	Pool *pgxpool.Pool
	// DatabaseURL, when set (and Pool is not), names a database that exists already (a second
	// suite on the database of a first, a restart); it is migrated. Otherwise a fresh one.
	DatabaseURL string
	// Proxy puts a pgtest.Proxy between the service and its database (Suite.Proxy), so that a
	// test can take the database away.
	Proxy bool
	// Ambito, when set, is the suite's ambito (a second suite in the ambito of a first).
	Ambito uuid.UUID
	// ISTAT is the ISTAT code of the suite's comune (default Milano).
	ISTAT string
	// Clients are the machine clients of the suite: name -> scopes.
	Clients map[string][]string
	// Mount composes the service on the started App, as its main does, and returns its
	// handler; iss is the suite's token issuer (its Verifier checks the suite's tokens).
	Mount func(ctx context.Context, a *app.App, iss *authtest.Issuer) (http.Handler, error)
}

// Suite is a running service with an ambito of organizations and a token of every role.
type Suite struct {
	T        testing.TB
	Srv      *httptest.Server
	App      *app.App
	Iss      *authtest.Issuer
	Log      *slog.Logger
	Contract *openapitest.Contract
	Ambito   uuid.UUID
	ISTAT    string
	// The ambito's organizations: the comune (ISTAT) and one of every other kind.
	Comune, Azienda, Coop, ATS, Region uuid.UUID
	// Tokens is a token of every role, held in the organization of its kind (OrgOf).
	Tokens map[auth.Role]string
	// Clients is a token of every machine client of Config.Clients, by name.
	Clients map[string]string
	// ClientScopes are Config.Clients.
	ClientScopes map[string][]string
	// Proxy stands between the service and its database (Config.Proxy).
	Proxy *pgtest.Proxy
	httpc *http.Client
}

// New starts the service for the test; everything stops with the test.
func New(t testing.TB, cfg Config) *Suite {
	t.Helper()
	ctx := context.Background()
	sets := app.Sets(cfg.Sets...)
	s := &Suite{T: t, Ambito: cfg.Ambito, ISTAT: cfg.ISTAT, Comune: uuid.Must(uuid.NewV7()), Azienda: uuid.Must(uuid.NewV7()),
		Coop: uuid.Must(uuid.NewV7()), ATS: uuid.Must(uuid.NewV7()), Region: uuid.Must(uuid.NewV7()), Tokens: map[auth.Role]string{},
		Clients: map[string]string{}, ClientScopes: cfg.Clients}
	pool := cfg.Pool
	if pool == nil {
		url := cfg.DatabaseURL
		if url == "" {
			url = pgtest.NewURL(t)
		}
		if cfg.Proxy {
			s.Proxy, url = pgtest.NewProxy(t, url)
		}
		var err error
		if pool, err = pgdb.Open(ctx, url); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(pool.Close)
		if err := pgdb.Migrate(ctx, pool, nil, sets...); err != nil {
			t.Fatal(err)
		}
	}
	var logOut io.Writer = io.Discard
	if os.Getenv("CSI_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	s.Log = slog.New(slog.NewTextHandler(logOut, nil))
	s.App = app.New(app.Base{Service: cfg.Service, Audit: apptest.AuditConfig(t)}, s.Log, prometheus.NewRegistry(), pool, sets...)
	t.Cleanup(func() { _ = s.App.Close(context.Background()) })
	s.Iss = authtest.New(t)
	h, err := cfg.Mount(ctx, s.App, s.Iss)
	if err != nil {
		t.Fatal(err)
	}
	s.Srv = httptest.NewServer(h)
	if s.Ambito == uuid.Nil {
		s.Ambito = uuid.Must(uuid.NewV7())
	}
	if s.ISTAT == "" {
		s.ISTAT = Milano
	}
	if cfg.OpenAPI != nil {
		s.Contract = openapitest.Load(t, cfg.OpenAPI)
	}
	t.Cleanup(s.Srv.Close)
	for _, role := range auth.Roles {
		s.Tokens[role] = s.Iss.Token(t, s.Claims(role))
	}
	for name, scopes := range cfg.Clients {
		s.Clients[name] = s.ClientToken(s.Ambito, scopes)
	}
	return s
}

// OrgOf is the organization of the suite in which role is held, its kind and, for a comune, its
// ISTAT code.
func (s *Suite) OrgOf(role auth.Role) (org uuid.UUID, kind, istat string) {
	switch role {
	case auth.RoleServiceManager, auth.RoleSocialWorker, auth.RoleAdministrative:
		return s.Comune, "comune", s.ISTAT
	case auth.RoleCoopCoordinator, auth.RoleEducator, auth.RoleASA, auth.RoleOSS:
		return s.Coop, "cooperativa", ""
	case auth.RoleATSMonitor:
		return s.ATS, "ats", ""
	case auth.RoleRegionMonitor:
		return s.Region, "region", ""
	}
	return s.Azienda, "azienda", ""
}

// Claims are the claims of a new operator holding role in its organization of the suite's
// ambito (OrgOf).
func (s *Suite) Claims(role auth.Role) auth.Claims {
	org, kind, istat := s.OrgOf(role)
	return auth.Claims{Subject: uuid.NewString(), Kind: auth.KindOperator, AmbitoID: s.Ambito.String(), OrgID: org.String(),
		OrgKind: kind, ISTATCode: istat, Role: role, ProfileID: uuid.NewString()}
}

// Operator returns the token of a new operator with role in organization org of the given kind
// (with istat for a comune) of the suite's ambito.
func (s *Suite) Operator(role auth.Role, org uuid.UUID, kind, istat string) string {
	return s.Iss.Token(s.T, auth.Claims{Subject: uuid.NewString(), Kind: auth.KindOperator, AmbitoID: s.Ambito.String(),
		OrgID: org.String(), OrgKind: kind, ISTATCode: istat, Role: role, ProfileID: uuid.NewString()})
}

// ClientToken returns the token of a new machine client of ambito with scopes.
func (s *Suite) ClientToken(ambito uuid.UUID, scopes []string) string {
	return s.Iss.Token(s.T, auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: ambito.String(),
		Role: auth.RoleClient, Scopes: scopes})
}

// Raw is a request body of a given media type (a document upload: a PDF, a multipart form).
type Raw struct {
	Body        []byte
	ContentType string
}

// Do sends a request and decodes a 2xx JSON answer into out (when not nil). A body of type
// string, []byte or io.Reader is sent as text/csv, url.Values as a form, Raw as its media type,
// any other as JSON;
// headers are name, value pairs ("If-Match", etag; a Content-Type given replaces the body's).
// Redirects are not followed. Every answer is checked against the contract when the test is a
// *testing.T and the suite has one.
func (s *Suite) Do(method, path, token string, body any, out any, headers ...string) *http.Response {
	t := s.T
	t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = strings.NewReader(b), "text/csv"
	case []byte:
		rd, ctype = bytes.NewReader(b), "text/csv"
	case io.Reader:
		rd, ctype = b, "text/csv"
	case url.Values:
		rd, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case Raw:
		rd, ctype = bytes.NewReader(b.Body), b.ContentType
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.Srv.URL+path, rd)
	if err != nil {
		t.Fatal(err)
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
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if out != nil && len(data) > 0 && resp.StatusCode < 300 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: decode %q: %v", method, path, data, err)
		}
	}
	return resp
}

// Client is the suite's HTTP client: no redirects followed, answers checked against the contract.
func (s *Suite) Client() *http.Client {
	if s.httpc == nil {
		c := *s.Srv.Client()
		c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
		s.httpc = &c
		if t, ok := s.T.(*testing.T); ok && s.Contract != nil {
			s.httpc = s.Contract.Client(t, &c)
		}
	}
	return s.httpc
}

// Must fails the test unless resp has status.
func (s *Suite) Must(status int, resp *http.Response) {
	s.T.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		s.T.Fatalf("%s %s = %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
}

// ETag reads path with token (200 required) and returns its ETag, for a following If-Match.
func (s *Suite) ETag(path, token string) string {
	s.T.Helper()
	resp := s.Do("GET", path, token, nil, nil)
	s.Must(200, resp)
	return resp.Header.Get("ETag")
}

// Count runs a query returning one integer on the service's database.
func (s *Suite) Count(query string, args ...any) int {
	s.T.Helper()
	var n int
	if err := s.App.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		s.T.Fatal(err)
	}
	return n
}

// Problem is an RFC 9457 answer.
type Problem struct {
	Type, Title, Detail string
	Status              int
	Errors              []struct{ Field, Message string }
	RequestID           string `json:"request_id"`
	ExistingID          string `json:"existing_id"`
}

// Fields are the names of the problem's invalid fields.
func (p Problem) Fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

// DecodeProblem reads the problem of an error answer.
func DecodeProblem(t testing.TB, resp *http.Response) Problem {
	t.Helper()
	var p Problem
	Decode(t, resp, &p)
	return p
}

// Decode reads the JSON body of an answer of Do (of any status) into v; the body can be read
// again.
func Decode(t testing.TB, resp *http.Response, v any) {
	t.Helper()
	data, _ := io.ReadAll(resp.Body)
	resp.Body = io.NopCloser(bytes.NewReader(data))
	if err := json.Unmarshal(data, v); err != nil {
		t.Fatalf("decode %s %s: %q: %v", resp.Request.Method, resp.Request.URL.Path, data, err)
	}
}
