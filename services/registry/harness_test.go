package registry_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/codicefiscale"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/idempotency"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
	"github.com/csi-lombardia/csi/services/registry/postgres"
)

var sets = []pgdb.MigrationSet{audit.Migrations, events.Migrations, idempotency.Migrations, postgres.Migrations}

// The comuni of the test ambito: the comune's operators work in Milano.
const (
	milano  = "015146"
	bergamo = "016024"
)

// suite is a running registry on a fresh database, with a token per role (servicetest).
type suite struct {
	*servicetest.Suite
	svc     *registry.Service
	comune  uuid.UUID // Milano's organization
	tokens  map[auth.Role]string
	clients map[string]string // scope set name -> token
}

type options struct {
	redisURL string
	chunk    int64
}

// newSuite starts the service through registry.Mount, as main does. With redisURL set the cache
// is Redis there (reachable or not), otherwise the in-process cache.
func newSuite(t testing.TB, o options) *suite {
	t.Helper()
	s := &suite{}
	s.Suite = servicetest.New(t, servicetest.Config{Service: "registry", Sets: sets, OpenAPI: registry.OpenAPI(), Clients: clientScopes,
		Mount: func(ctx context.Context, a *app.App, iss *authtest.Issuer) (http.Handler, error) {
			c, closeCache, err := cache.Open(ctx, o.redisURL, "registry-"+uuid.NewString()[:8], a.Log, a.Registry) // as in main: the cache metrics on /metrics
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { _ = closeCache() })
			cfg := registry.DefaultConfig()
			for _, p := range []string{"reporting", "sinba", "research"} {
				k := make([]byte, 32)
				_, _ = rand.Read(k)
				cfg.PseudonymKeys[p] = k
			}
			if o.chunk > 0 {
				cfg.ImportChunk = o.chunk
			}
			svc, h, err := registry.Mount(ctx, a, registry.Parts{Store: postgres.New(a.Pool), Cache: c, Places: places.Default(),
				Config: cfg, Verifier: iss.Verifier()})
			s.svc = svc
			return h, err
		}})
	s.comune, s.tokens, s.clients = s.Comune, s.Tokens, s.Clients
	return s
}

// operator returns a token of an operator with role in an organization of the ambito.
// A comune's operator's token carries the comune's ISTAT code.
func (s *suite) operator(role auth.Role, org, kind, istat string) string {
	return s.Operator(role, uuid.MustParse(org), kind, istat)
}

func (s *suite) tb() testing.TB { return s.T }

func (s *suite) do(method, path, token string, body any, out any, headers ...string) *http.Response {
	s.T.Helper()
	return s.Do(method, path, token, body, out, headers...)
}

func (s *suite) must(status int, resp *http.Response) {
	s.T.Helper()
	s.Must(status, resp)
}

func (s *suite) count(query string, args ...any) int {
	s.T.Helper()
	return s.Count(query, args...)
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

type problem = servicetest.Problem

func decodeProblem(t testing.TB, resp *http.Response) problem {
	return servicetest.DecodeProblem(t, resp)
}
