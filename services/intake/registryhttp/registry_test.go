package registryhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/services/intake"
	"github.com/csi-lombardia/csi/services/intake/registryhttp"
)

// registryDoc is the registry service's contract, read by path: intake never imports registry.
const registryDoc = "../../registry/api/openapi.yaml"

func loadRegistry(t *testing.T) *openapitest.Contract {
	t.Helper()
	doc, err := os.ReadFile(registryDoc)
	if err != nil {
		t.Fatalf("read the registry contract: %v", err)
	}
	return openapitest.Load(t, doc)
}

// fakeRegistry answers GET /v1/citizens/{id} as registry's contract documents it: it verifies
// the bearer token and the scope citizens:read, checks every request against the contract and
// answers from its records (a citizen, or a merged record pointing to its survivor).
type fakeRegistry struct {
	srv      *httptest.Server
	requests atomic.Int64

	mu       sync.Mutex
	citizens map[uuid.UUID]map[string]any
	merged   map[uuid.UUID]uuid.UUID // merged record → survivor
	revoked  map[string]bool
	down     bool          // answer 503
	delay    time.Duration // before answering
}

func newFakeRegistry(t *testing.T, contract *openapitest.Contract, iss *authtest.Issuer) *fakeRegistry {
	t.Helper()
	f := &fakeRegistry{citizens: map[uuid.UUID]map[string]any{}, merged: map[uuid.UUID]uuid.UUID{}, revoked: map[string]bool{}}
	v := iss.Verifier()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/citizens/{id}", func(w http.ResponseWriter, r *http.Request) {
		f.requests.Add(1)
		contract.CheckRequest(t, r)
		ctx := httpapi.WithRequestID(r.Context(), "reg-"+uuid.NewString()[:8])
		w.Header().Set(httpapi.RequestIDHeader, httpapi.RequestID(ctx))
		problem := func(err error) { httpapi.WriteProblem(ctx, nil, w, r, err) }
		f.mu.Lock()
		delay, down := f.delay, f.down
		f.mu.Unlock()
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		tok, ok := auth.BearerToken(r)
		if !ok {
			problem(errs.E(errs.Unauthenticated, "a bearer access token is required"))
			return
		}
		c, err := v.Verify(ctx, tok)
		f.mu.Lock()
		revoked := f.revoked[tok]
		f.mu.Unlock()
		if err != nil || revoked {
			problem(errs.E(errs.Unauthenticated, "the access token is not valid"))
			return
		}
		if c.Kind != auth.KindClient || !c.HasScope(registryhttp.Scope) {
			problem(errs.E(errs.Forbidden, "requires scope citizens:read"))
			return
		}
		if down {
			problem(&errs.Error{Kind: errs.Unavailable, Message: "the database is unavailable", RetryAfter: 11 * time.Second})
			return
		}
		id, err := uuid.Parse(r.PathValue("id"))
		if err != nil {
			problem(errs.InvalidField("id", "must be a UUID"))
			return
		}
		f.mu.Lock()
		cit, found := f.citizens[id]
		into, merged := f.merged[id]
		f.mu.Unlock()
		switch {
		case merged:
			w.Header().Set("Location", "/v1/citizens/"+into.String()+"?"+r.URL.RawQuery)
			w.Header().Set("Content-Type", "application/problem+json")
			w.WriteHeader(http.StatusPermanentRedirect)
			_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:csi:problem:merged", "title": "Permanent Redirect",
				"status": 308, "detail": "this record was merged into " + into.String(), "id": id, "merged_into": into,
				"request_id": httpapi.RequestID(ctx)})
		case found:
			w.Header().Set("Content-Type", "application/json")
			w.Header().Set("ETag", `"3"`)
			w.Header().Set("Cache-Control", "no-store")
			_ = json.NewEncoder(w).Encode(cit)
		default:
			problem(errs.E(errs.NotFound, "citizen not found"))
		}
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// add stores a citizen as registry serves it (every required member of the Citizen schema).
func (f *fakeRegistry) add(id uuid.UUID, extra map[string]any) {
	c := map[string]any{
		"id": id, "ambito_id": "0190a3c4-1111-7000-8000-000000000001",
		"family_name": "Rossi", "given_name": "Maria", "sex": "F", "birth_date": "1948-03-09",
		"status": "alive", "privacy": map[string]any{}, "fiscal_code_history": []any{},
		"version": 3, "created_at": "2026-01-10T09:00:00Z", "updated_at": "2026-02-01T10:30:00Z",
	}
	for k, v := range extra {
		c[k] = v
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.citizens[id] = c
}

func (f *fakeRegistry) merge(id, into uuid.UUID) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.merged[id] = into
	if c, ok := f.citizens[into]; ok {
		c["merged_from"] = append(c["merged_from"].([]any), id)
	}
}

func (f *fakeRegistry) set(fn func(f *fakeRegistry)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn(f)
}

type fixture struct {
	contract *openapitest.Contract
	iss      *authtest.Issuer
	tokens   *authtest.TokenServer
	reg      *fakeRegistry
}

func newFixture(t *testing.T) *fixture {
	f := &fixture{contract: loadRegistry(t), iss: authtest.New(t)}
	f.tokens = f.iss.TokenServer(t, registryhttp.Scope, "events:read")
	f.reg = newFakeRegistry(t, f.contract, f.iss)
	return f
}

// registry returns the adapter calling the instances at urls, every answer checked against
// registry's contract.
func (f *fixture) registry(t *testing.T, timeout time.Duration, urls ...string) *registryhttp.Registry {
	t.Helper()
	c, err := peers.New(peers.Config{Name: "registry",
		Peers:   discovery.NewStatic(map[string][]string{"csi-registry": urls}),
		Tokens:  &auth.ClientCredentials{TokenURL: f.tokens.URL, ClientID: f.tokens.ClientID, ClientSecret: f.tokens.ClientSecret},
		Timeout: timeout,
		HTTP:    &http.Client{Transport: f.contract.Transport(t, peers.NewTransport())},
		Log:     slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return registryhttp.New(c)
}

func closedURL(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + ln.Addr().String()
	_ = ln.Close()
	return u
}

func newID() uuid.UUID { return uuid.Must(uuid.NewV7()) }

func TestCitizen(t *testing.T) {
	f := newFixture(t)
	full, bare, merged, survivor, twice, middle, last := newID(), newID(), newID(), newID(), newID(), newID(), newID()
	f.reg.add(full, map[string]any{"fiscal_code": "RSSMRA48C49F205X", "fiscal_code_canonical": "RSSMRA48C49F205X",
		"residence": map[string]any{"istat_code": "015146", "municipality": "Milano", "address": "Via Roma 1"},
		"phone":     "+39 02 1234567", "merged_from": []any{}})
	f.reg.add(bare, map[string]any{"no_fiscal_code_reason": "homeless", "family_name": "Bianchi", "given_name": "Luca",
		"sex": "M", "birth_date": "1990-07-01", "status": "moved_away", "moved_on": "2025-12-01"})
	f.reg.add(survivor, map[string]any{"fiscal_code": "VRDGNN60A01F205Z", "family_name": "Verdi", "given_name": "Giovanni",
		"sex": "M", "birth_date": "1960-01-01", "merged_from": []any{}})
	f.reg.merge(merged, survivor)
	f.reg.add(last, map[string]any{"family_name": "Neri", "merged_from": []any{}})
	f.reg.merge(twice, middle)
	f.reg.merge(middle, last)
	reg := f.registry(t, 2*time.Second, f.reg.srv.URL)

	for _, tc := range []struct {
		name     string
		id       uuid.UUID
		want     intake.CitizenSummary
		wantKind errs.Kind
		requests int64
	}{
		{name: "found", id: full, requests: 1, want: intake.CitizenSummary{ID: full, FiscalCode: "RSSMRA48C49F205X",
			FamilyName: "Rossi", GivenName: "Maria", Sex: "F", BirthDate: "1948-03-09", ResidenceISTAT: "015146", Status: "alive"}},
		{name: "without codice fiscale or residence", id: bare, requests: 1, want: intake.CitizenSummary{ID: bare,
			FamilyName: "Bianchi", GivenName: "Luca", Sex: "M", BirthDate: "1990-07-01", Status: "moved_away"}},
		{name: "merged: the survivor", id: merged, requests: 2, want: intake.CitizenSummary{ID: survivor,
			FiscalCode: "VRDGNN60A01F205Z", FamilyName: "Verdi", GivenName: "Giovanni", Sex: "M", BirthDate: "1960-01-01", Status: "alive"}},
		{name: "merged twice: the last survivor", id: twice, requests: 3, want: intake.CitizenSummary{ID: last,
			FamilyName: "Neri", GivenName: "Maria", Sex: "F", BirthDate: "1948-03-09", Status: "alive"}},
		{name: "not found", id: newID(), requests: 1, wantKind: errs.NotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := f.reg.requests.Load()
			got, err := reg.Citizen(context.Background(), tc.id)
			if n := f.reg.requests.Load() - before; n != tc.requests {
				t.Errorf("requests to registry = %d, want %d", n, tc.requests)
			}
			if tc.wantKind != 0 {
				if errs.KindOf(err) != tc.wantKind {
					t.Fatalf("Citizen(%s) error = %v, want kind %v", tc.id, err, tc.wantKind)
				}
				return
			}
			if err != nil {
				t.Fatalf("Citizen(%s) error = %v", tc.id, err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("Citizen(%s) (-got +want):\n%s", tc.id, diff)
			}
		})
	}

	// A chain of merges longer than the adapter follows is a fault, not a loop.
	a, b := newID(), newID()
	f.reg.merge(a, b)
	f.reg.merge(b, a)
	if _, err := reg.Citizen(context.Background(), a); !errs.Is(err, errs.Internal) {
		t.Errorf("Citizen(merge loop) error = %v, want kind internal", err)
	}
	// One token for all of it.
	if n := f.tokens.Requests(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestCitizenRegistryUnavailable(t *testing.T) {
	f := newFixture(t)
	id := newID()
	f.reg.add(id, nil)

	check := func(t *testing.T, err error, retryAfter time.Duration) {
		t.Helper()
		var e *errs.Error
		if !errors.As(err, &e) || e.Kind != errs.Unavailable || e.RetryAfter != retryAfter {
			t.Fatalf("error = %v, want kind unavailable with Retry-After %v", err, retryAfter)
		}
		// What the intake caller gets: a 503 with Retry-After.
		rec := httptest.NewRecorder()
		httpapi.WriteProblem(context.Background(), nil, rec, httptest.NewRequest(http.MethodGet, "/v1/accesses", nil), err)
		if rec.Code != http.StatusServiceUnavailable || rec.Header().Get("Retry-After") == "" {
			t.Errorf("intake would answer %d, Retry-After %q; want 503 with Retry-After", rec.Code, rec.Header().Get("Retry-After"))
		}
	}

	t.Run("registry down", func(t *testing.T) {
		_, err := f.registry(t, 2*time.Second, closedURL(t)).Citizen(context.Background(), id)
		check(t, err, peers.DefaultRetryAfter)
	})
	t.Run("registry answers 503", func(t *testing.T) {
		f.reg.set(func(r *fakeRegistry) { r.down = true })
		defer f.reg.set(func(r *fakeRegistry) { r.down = false })
		_, err := f.registry(t, 2*time.Second, f.reg.srv.URL).Citizen(context.Background(), id)
		check(t, err, 11*time.Second)
	})
	t.Run("registry too slow", func(t *testing.T) {
		f.reg.set(func(r *fakeRegistry) { r.delay = 2 * time.Second })
		defer f.reg.set(func(r *fakeRegistry) { r.delay = 0 })
		start := time.Now()
		_, err := f.registry(t, 200*time.Millisecond, f.reg.srv.URL).Citizen(context.Background(), id)
		if elapsed := time.Since(start); elapsed > time.Second {
			t.Errorf("Citizen took %v with a 200 ms deadline", elapsed)
		}
		check(t, err, peers.DefaultRetryAfter)
	})
	t.Run("one instance down", func(t *testing.T) {
		reg := f.registry(t, 2*time.Second, closedURL(t), f.reg.srv.URL)
		for range 3 {
			if _, err := reg.Citizen(context.Background(), id); err != nil {
				t.Fatalf("Citizen with one of two instances down: %v", err)
			}
		}
	})
}

func TestCitizenTokenRefresh(t *testing.T) {
	f := newFixture(t)
	id := newID()
	f.reg.add(id, nil)
	reg := f.registry(t, 2*time.Second, f.reg.srv.URL)
	if _, err := reg.Citizen(context.Background(), id); err != nil {
		t.Fatal(err)
	}
	// Registry stops accepting the token: the adapter gets a new one and reads again, once.
	f.reg.set(func(r *fakeRegistry) { r.revoked[f.tokens.Issued()[0]] = true })
	before := f.reg.requests.Load()
	got, err := reg.Citizen(context.Background(), id)
	if err != nil || got.ID != id {
		t.Fatalf("Citizen after the token was refused = %+v, %v; want the citizen", got, err)
	}
	if n, m := f.tokens.Requests(), f.reg.requests.Load()-before; n != 2 || m != 2 {
		t.Errorf("token requests %d, registry requests %d; want 2 and 2", n, m)
	}
}

func TestCitizenClientWithoutScope(t *testing.T) {
	f := newFixture(t)
	id := newID()
	f.reg.add(id, nil)
	ts := f.iss.TokenServer(t, "events:read")
	c, err := peers.New(peers.Config{Name: "registry", Peers: discovery.NewStatic(map[string][]string{"csi-registry": {f.reg.srv.URL}}),
		Tokens: &auth.ClientCredentials{TokenURL: ts.URL, ClientID: ts.ClientID, ClientSecret: ts.ClientSecret},
		HTTP:   &http.Client{Transport: f.contract.Transport(t, nil)}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := registryhttp.New(c).Citizen(context.Background(), id); !errs.Is(err, errs.Internal) {
		t.Errorf("Citizen with a client lacking citizens:read: error = %v, want kind internal", err)
	}
}
