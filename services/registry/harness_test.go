package registry_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/services/registry"
	"github.com/csi-lombardia/csi/services/registry/postgres"
)

var sets = []pgdb.MigrationSet{audit.Migrations, events.Migrations, idempotency.Migrations, postgres.Migrations}

// The comuni of the test ambito: the comune's operators work in Milano.
const (
	milano  = "015146"
	bergamo = "016024"
)

// suite is a running registry on a fresh database, with a token per role.
type suite struct {
	t       testing.TB
	srv     *httptest.Server
	app     *app.App
	svc     *registry.Service
	iss     *authtest.Issuer
	ambito  uuid.UUID
	comune  uuid.UUID // Milano's organization
	tokens  map[auth.Role]string
	clients map[string]string // scope set name -> token
	httpc   *http.Client
}

type options struct {
	redisURL string
	chunk    int64
}

// newSuite starts the service. With redisURL set the cache is Redis there (reachable or not),
// otherwise the in-process cache.
func newSuite(t testing.TB, o options) *suite {
	t.Helper()
	ctx := context.Background()
	pool := pgtest.New(t, sets...)
	var logOut io.Writer = io.Discard
	if os.Getenv("CSI_TEST_LOG") != "" {
		logOut = os.Stderr
	}
	log := slog.New(slog.NewTextHandler(logOut, nil))
	a := app.New(app.Base{Service: "registry", Audit: apptest.AuditConfig(t)}, log, prometheus.NewRegistry(), pool, sets...)
	c, closeCache, err := cache.Open(ctx, o.redisURL, "registry-"+uuid.NewString()[:8], log, a.Registry) // as in main: the cache metrics on /metrics
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = closeCache() })
	auditLog, err := a.OpenAudit(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = a.Close(context.Background()) })
	cfg := registry.DefaultConfig()
	for _, p := range []string{"reporting", "sinba", "research"} {
		k := make([]byte, 32)
		_, _ = rand.Read(k)
		cfg.PseudonymKeys[p] = k
	}
	if o.chunk > 0 {
		cfg.ImportChunk = o.chunk
	}
	svc := registry.NewService(postgres.New(pool), auditLog, places.Default(), c, cfg, log)
	t.Cleanup(svc.Close)
	iss := authtest.New(t)
	idem := idempotency.New(pool, log)
	h := a.Handler(iss.Verifier(), func(mux *httpapi.Mux) {
		registry.Routes(mux, registry.MakeEndpoints(svc), log, idem.Middleware)
		mux.Handle("GET /v1/events", httpapi.NewServer(log, events.FeedEndpoint(pool), events.DecodeFeedRequest))
	})
	s := &suite{srv: httptest.NewServer(h), app: a, svc: svc, iss: iss, ambito: uuid.Must(uuid.NewV7()), comune: uuid.Must(uuid.NewV7()),
		tokens: map[auth.Role]string{}, clients: map[string]string{}}
	s.t = t
	t.Cleanup(s.srv.Close)
	azienda, coop, ats, region := uuid.NewString(), uuid.NewString(), uuid.NewString(), uuid.NewString()
	orgOf := map[auth.Role][2]string{
		auth.RoleAmbitoAdmin: {azienda, "azienda"}, auth.RoleServiceManager: {s.comune.String(), "comune"},
		auth.RoleSocialWorker: {s.comune.String(), "comune"}, auth.RoleAdministrative: {s.comune.String(), "comune"},
		auth.RolePlanningOffice: {azienda, "azienda"}, auth.RoleCoopCoordinator: {coop, "cooperativa"},
		auth.RoleEducator: {coop, "cooperativa"}, auth.RoleASA: {coop, "cooperativa"}, auth.RoleOSS: {coop, "cooperativa"},
		auth.RoleATSMonitor: {ats, "ats"}, auth.RoleRegionMonitor: {region, "region"}, auth.RolePrivacyOfficer: {azienda, "azienda"},
	}
	for role, org := range orgOf {
		istat := ""
		if org[1] == "comune" {
			istat = milano
		}
		s.tokens[role] = s.operator(role, org[0], org[1], istat)
	}
	for name, scopes := range clientScopes {
		s.clients[name] = iss.Token(t, auth.Claims{Subject: uuid.NewString(), Kind: auth.KindClient, AmbitoID: s.ambito.String(),
			Role: auth.RoleClient, Scopes: scopes})
	}
	return s
}

// operator returns a token of an operator with role in an organization of the ambito.
// A comune's operator's token carries the comune's ISTAT code.
func (s *suite) operator(role auth.Role, org, kind, istat string) string {
	return s.iss.Token(s.tb(), auth.Claims{Subject: uuid.NewString(), Kind: auth.KindOperator, AmbitoID: s.ambito.String(),
		OrgID: org, OrgKind: kind, ISTATCode: istat, Role: role, ProfileID: uuid.NewString()})
}

func (s *suite) tb() testing.TB { return s.t }

// do sends a request and decodes the JSON answer into out (when not nil).
func (s *suite) do(method, path, token string, body any, out any, headers ...string) *http.Response {
	t := s.tb()
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
	default:
		j, err := json.Marshal(b)
		if err != nil {
			t.Fatal(err)
		}
		rd = bytes.NewReader(j)
	}
	req, err := http.NewRequest(method, s.srv.URL+path, rd)
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
	resp, err := s.client().Do(req)
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

func (s *suite) client() *http.Client {
	if s.httpc == nil {
		if t, ok := s.t.(*testing.T); ok {
			s.httpc = contractClient(t, s.srv.Client())
		} else {
			c := *s.srv.Client()
			c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			s.httpc = &c
		}
	}
	return s.httpc
}

func (s *suite) must(status int, resp *http.Response) {
	t := s.tb()
	t.Helper()
	if resp.StatusCode != status {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("%s %s = %d, want %d: %s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, status, b)
	}
}

func (s *suite) count(query string, args ...any) int {
	t := s.tb()
	t.Helper()
	var n int
	if err := s.app.Pool.QueryRow(context.Background(), query, args...).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

var seq atomic.Int64

var (
	givenNames = []string{"Giulia", "Marco", "Chiara", "Luca", "Sara", "Paolo", "Elena", "Davide", "Nicolò", "Anna", "Matteo",
		"Francesca", "Giuseppe", "Maria", "Giovanni", "Rosa", "Antonio", "Lucia", "Francesco", "Angela", "Alessandro", "Giovanna",
		"Andrea", "Teresa", "Stefano", "Laura", "Roberto", "Silvia", "Fabio", "Valentina", "Simone", "Federica", "Ahmed", "Fatima",
		"Mohamed", "Ioana", "Andrei", "Elena Maria", "Pietro", "Beatrice"}
)

// personN returns the n-th synthetic person, distinct for every n: names, sex, birth date in
// Milan and the codice fiscale. The consonants of the family name and the birth date are digits
// of n in a mixed radix, so that no two people share a code; the vowels, a fourth syllable and
// the given name come from a hash of n, so that names are as varied as real ones.
func personN(tb testing.TB, n int64) (family, given, sex string, birth time.Time, code string) {
	const cons, vow = "bcdfglmnprstvz", "aeiou"
	h := uint64(n)*0x9E3779B97F4A7C15 + 0x632BE59BD9B4E019
	h ^= h >> 29
	syl := func(c uint64) string {
		v := vow[h%5]
		h /= 5
		return string(cons[c%14]) + string(v)
	}
	m := n
	family = syl(uint64(m % 14))
	m /= 14
	family += syl(uint64(m % 14))
	m /= 14
	family += syl(uint64(m%14)) + syl(h%14)
	m /= 14
	family = strings.ToUpper(family[:1]) + family[1:]
	given = givenNames[h%uint64(len(givenNames))]
	day := m%28 + 1
	m /= 28
	month := m%12 + 1
	m /= 12
	year := 1930 + m%80
	m /= 80
	sex = "M"
	cs := codicefiscale.Male
	if m%2 == 1 {
		sex, cs = "F", codicefiscale.Female
	}
	birth = time.Date(int(year), time.Month(month), int(day), 0, 0, 0, 0, time.UTC)
	code, err := codicefiscale.Compute(family, given, birth, cs, "F205")
	if err != nil {
		tb.Fatal(err)
	}
	return
}

// citizenBody returns a valid create body for a new person resident in istat.
func citizenBody(tb testing.TB, istat string) map[string]any {
	n := seq.Add(1) + 1_000_000
	family, given, sex, birth, code := personN(tb, n)
	return map[string]any{"fiscal_code": code, "family_name": family, "given_name": given, "sex": sex,
		"birth_date": birth.Format(time.DateOnly), "citizenship": "IT",
		"residence": map[string]any{"istat_code": istat, "address": fmt.Sprintf("Via Roma %d", n%300+1), "postal_code": "20100"}}
}

func (s *suite) createCitizen(token string, body map[string]any) registry.CreateResult {
	s.tb().Helper()
	var c registry.CreateResult
	s.must(201, s.do("POST", "/v1/citizens", token, body, &c))
	return c
}

// clientScopes are the machine clients of the suite (s.clients) and their scopes.
var clientScopes = map[string][]string{
	"reader": {registry.ScopeCitizensRead}, "writer": {registry.ScopeCitizensRead, registry.ScopeCitizensWrite},
	"pseudonyms": {registry.ScopePseudonymsRead}, "events": {events.ScopeRead},
	"coop": {"visits:write", "authorizations:read"},
}

// problem is an RFC 9457 answer.
type problem struct {
	Type, Title, Detail string
	Status              int
	Errors              []struct{ Field, Message string }
	ExistingID          string `json:"existing_id"`
}

func (p problem) fields() []string {
	var out []string
	for _, e := range p.Errors {
		out = append(out, e.Field)
	}
	return out
}

func decodeProblem(t testing.TB, resp *http.Response) problem {
	t.Helper()
	var p problem
	if err := json.NewDecoder(resp.Body).Decode(&p); err != nil {
		t.Fatalf("decode problem: %v", err)
	}
	return p
}
