package interventions_test

import (
	"context"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/cache"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/events"
	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/pkg/servicetest"
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/services/interventions/postgres"
)

var sets = app.Sets(events.ConsumerMigrations, postgres.Migrations)

// identityDouble is identity as interventions sees it (interventions.Identity): the
// accreditations it holds, and a switch that makes it unreachable. The real HTTP client is
// tested against identity's contract in identityhttp.
type identityDouble struct {
	mu    sync.Mutex
	down  bool
	calls int
	list  []interventions.Accreditation
	// operators are the profiles of the operators identity knows (visits_test.go).
	operators     map[uuid.UUID][]interventions.OperatorProfile
	operatorCalls int
}

func (d *identityDouble) Accreditations(_ context.Context, coop uuid.UUID, serviceType string) ([]interventions.Accreditation, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls++
	if d.down {
		return nil, &errs.Error{Kind: errs.Unavailable, Message: "identity unreachable", RetryAfter: 7 * time.Second}
	}
	var out []interventions.Accreditation
	for _, a := range d.list {
		if a.CooperativeID == coop && a.ServiceType == serviceType {
			out = append(out, a)
		}
	}
	return out, nil
}

func (d *identityDouble) OperatorProfiles(_ context.Context, id uuid.UUID) ([]interventions.OperatorProfile, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.operatorCalls++
	if d.down {
		return nil, &errs.Error{Kind: errs.Unavailable, Message: "identity unreachable", RetryAfter: 7 * time.Second}
	}
	p, ok := d.operators[id]
	if !ok {
		return nil, errs.E(errs.NotFound, "operator not found")
	}
	return p, nil
}

func (d *identityDouble) setDown(down bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.down = down
}

// accredit gives coop an accreditation of ambito for serviceType from from to to ("" open-ended)
// at 21.50 euro an hour.
func (d *identityDouble) accredit(ambito, coop uuid.UUID, serviceType, from, to string) interventions.Accreditation {
	d.mu.Lock()
	defer d.mu.Unlock()
	a := interventions.Accreditation{ID: uuid.Must(uuid.NewV7()), AmbitoID: ambito, CooperativeID: coop, ServiceType: serviceType,
		ValidFrom: from, HourlyTariffCents: 2150}
	if to != "" {
		a.ValidTo = &to
	}
	d.list = append(d.list, a)
	return a
}

// suite is a running interventions on a fresh database, with a token per role (servicetest)
// and the identity double; the suite's cooperative is accredited for SAD and ADM in 2025.
type suite struct {
	*servicetest.Suite
	identity *identityDouble
	registry *registryDouble
	cache    cache.Cache // in-process, unless redisURL is set
	redisURL string      // the cache is Redis at redisURL (reachable or not): TestRedisDown
	svc      *interventions.Service
	docs     *docstore.Documents // a directory's unless an option gives another (documents_test.go)
}

// clientScopes are the machine clients of the suite and their scopes.
var clientScopes = map[string][]string{"authorizations": {interventions.ScopeAuthorizationsRead}, "events": {events.ScopeRead},
	"visits":     {interventions.ScopeVisitsWrite, interventions.ScopeVisitsRead},
	"statements": {interventions.ScopeStatementsRead, interventions.ScopeStatementsWrite}}

func newSuite(t testing.TB, opts ...func(*suite)) *suite {
	t.Helper()
	s := &suite{identity: &identityDouble{}, registry: &registryDouble{}, cache: cache.NewMemory("interventions", 1000)}
	for _, o := range opts {
		o(s)
	}
	if s.docs == nil {
		s.docs = dirDocuments(t, docstore.DocumentsConfig{})
	}
	s.Suite = servicetest.New(t, servicetest.Config{Service: "interventions", Sets: sets, OpenAPI: interventions.OpenAPI(), Clients: clientScopes,
		Mount: func(ctx context.Context, a *app.App, iss *authtest.Issuer) (http.Handler, error) {
			if s.redisURL != "" {
				c, closeCache, err := cache.Open(ctx, s.redisURL, "interventions-"+uuid.NewString()[:8], a.Log, a.Registry)
				if err != nil {
					return nil, err
				}
				t.Cleanup(func() { _ = closeCache() })
				s.cache = c
			}
			svc, h, err := interventions.Mount(ctx, a, interventions.Parts{Store: postgres.New(a.Pool), Identity: s.identity, Registry: s.registry, Cache: s.cache,
				Places: places.Default(), Config: interventions.DefaultConfig(), Verifier: iss.Verifier(), Documents: s.docs})
			s.svc = svc
			return h, err
		}})
	s.identity.accredit(s.Ambito, s.Coop, "SAD", "2025-01-01", "2025-12-31")
	s.identity.accredit(s.Ambito, s.Coop, "ADM", "2024-01-01", "")
	return s
}

func (s *suite) tok(role auth.Role) string { return s.Tokens[role] }

// body is a valid authorization of SAD at Milano for the suite's cooperative.
func (s *suite) body() map[string]any {
	return map[string]any{"istat_code": servicetest.Milano, "case_id": uuid.New(), "citizen_id": uuid.New(), "service_type": "SAD",
		"cooperative_id": s.Coop, "period": map[string]any{"from": "2025-04-01", "to": "2025-12-31"},
		"hours": map[string]any{"per_week": 4.5}, "schedule": []map[string]any{{"weekday": "mon", "from": "09:00", "to": "11:30"}}}
}

func (s *suite) create(token string, body map[string]any) interventions.Authorization {
	s.T.Helper()
	var a interventions.Authorization
	s.Must(201, s.Do("POST", "/v1/authorizations", token, body, &a))
	return a
}

// activate activates the draft a as token's operator.
func (s *suite) activate(token string, a interventions.Authorization) interventions.Authorization {
	s.T.Helper()
	s.Must(200, s.Do("POST", statusPath(a), token, map[string]any{"status": "active", "reason": "PAI approvato"}, &a))
	return a
}

// active creates an authorization from body as the comune's service manager and activates it:
// what a cooperative sees (a draft is not yet assigned to it).
func (s *suite) active(body map[string]any) interventions.Authorization {
	s.T.Helper()
	sm := s.tok(auth.RoleServiceManager)
	return s.activate(sm, s.create(sm, body))
}
