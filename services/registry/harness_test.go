package registry_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/registry"
	"github.com/csi-lombardia/csi/services/registry/postgres"
)

// The comuni of the test ambito: the comune's operators work in Milano.
const (
	milano  = servicetest.Milano
	bergamo = "016024"
)

// suite is a running registry with a token per role (servicetest).
type suite struct {
	*servicetest.Suite
	svc *registry.Service
}

// options change the suite: the cache is Redis at redisURL (reachable or not) rather than the
// in-process one; imports apply chunk rows a transaction; the suite runs on the database at
// dbURL, in ambito.
type options struct {
	redisURL, dbURL string
	chunk           int64
	ambito          uuid.UUID
}

// newSuite starts the service through registry.Mount, as main does.
func newSuite(t testing.TB, o options) *suite {
	t.Helper()
	s := &suite{}
	s.Suite = servicetest.New(t, servicetest.Config{Service: "registry", Sets: []pgdb.MigrationSet{postgres.Migrations},
		OpenAPI: registry.OpenAPI(), Clients: clientScopes, DatabaseURL: o.dbURL, Ambito: o.ambito,
		Mount: func(ctx context.Context, a *app.App, iss *authtest.Issuer) (http.Handler, error) {
			c, closeCache, err := cache.Open(ctx, o.redisURL, "registry-"+uuid.NewString()[:8], a.Log, a.Registry)
			if err != nil {
				return nil, err
			}
			t.Cleanup(func() { _ = closeCache() })
			cfg := registry.DefaultConfig()
			for _, p := range []string{"reporting", "sinba", "research"} {
				cfg.PseudonymKeys[p] = make([]byte, 32)
				_, _ = rand.Read(cfg.PseudonymKeys[p])
			}
			if o.chunk > 0 {
				cfg.ImportChunk = o.chunk
			}
			svc, h, err := registry.Mount(ctx, a, registry.Parts{Store: postgres.New(a.Pool), Cache: c, Places: places.Default(),
				Config: cfg, Verifier: iss.Verifier()})
			s.svc = svc
			return h, err
		}})
	return s
}

// clientScopes are the machine clients of the suite (Clients) and their scopes.
var clientScopes = map[string][]string{
	"reader": {registry.ScopeCitizensRead}, "writer": {registry.ScopeCitizensRead, registry.ScopeCitizensWrite},
	"pseudonyms": {registry.ScopePseudonymsRead}, "events": {events.ScopeRead},
	"coop": {"visits:write", "authorizations:read"},
}

var seq atomic.Int64

// citizenBody returns a valid create body for a new person resident in istat.
func citizenBody(istat string) map[string]any {
	n := seq.Add(1) + 1_000_000
	p := servicetest.PersonN(n)
	return map[string]any{"fiscal_code": p.FiscalCode, "family_name": p.FamilyName, "given_name": p.GivenName, "sex": p.Sex,
		"birth_date": p.Birth.Format(time.DateOnly), "citizenship": "IT",
		"residence": map[string]any{"istat_code": istat, "address": fmt.Sprintf("Via Roma %d", n%300+1), "postal_code": "20100"}}
}

func (s *suite) createCitizen(token string, body map[string]any) registry.CreateResult {
	s.T.Helper()
	var c registry.CreateResult
	s.Must(201, s.Do("POST", "/v1/citizens", token, body, &c))
	return c
}
