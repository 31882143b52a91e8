package identityhttp_test

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/openapitest"
	"github.com/csi-lombardia/csi/pkg/peers"
	"github.com/csi-lombardia/csi/services/interventions/identityhttp"
)

// identityDoc is the identity service's contract, read by path: interventions never imports
// identity.
const identityDoc = "../../identity/api/openapi.yaml"

// fakeIdentity answers GET /v1/accreditations as identity's contract documents it, one
// accreditation a page: it verifies the bearer token and the scope, checks every request against
// the contract and filters by cooperative and service type.
type fakeIdentity struct {
	mu    sync.Mutex
	down  bool
	items []map[string]any
	srv   *httptest.Server
}

func newFake(t *testing.T, contract *openapitest.Contract, iss *authtest.Issuer) *fakeIdentity {
	f := &fakeIdentity{}
	v := iss.Verifier()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/accreditations", func(w http.ResponseWriter, r *http.Request) {
		contract.CheckRequest(t, r)
		ctx := httpapi.WithRequestID(r.Context(), "id-"+uuid.NewString()[:8])
		w.Header().Set(httpapi.RequestIDHeader, httpapi.RequestID(ctx))
		problem := func(err error) { httpapi.WriteProblem(ctx, nil, w, r, err) }
		tok, _ := auth.BearerToken(r)
		c, err := v.Verify(ctx, tok)
		if err != nil {
			problem(errs.E(errs.Unauthenticated, "the access token is not valid"))
			return
		}
		if !c.HasScope(identityhttp.Scope) {
			problem(errs.E(errs.Forbidden, "requires scope accreditations:read"))
			return
		}
		f.mu.Lock()
		defer f.mu.Unlock()
		if f.down {
			problem(&errs.Error{Kind: errs.Unavailable, Message: "the database is unavailable", RetryAfter: 9 * time.Second})
			return
		}
		q := r.URL.Query()
		match := []map[string]any{}
		for _, a := range f.items {
			if a["cooperative_id"] == q.Get("cooperative_id") && a["service_type"] == q.Get("service_type") {
				match = append(match, a)
			}
		}
		start := 0
		if cur := q.Get("cursor"); cur != "" {
			for i, a := range match {
				if a["id"] == cur {
					start = i + 1
				}
			}
		}
		page := map[string]any{"items": match[start:min(start+1, len(match))]}
		if start+1 < len(match) {
			page["next_cursor"] = match[start]["id"]
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(page)
	})
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

func (f *fakeIdentity) add(coop uuid.UUID, serviceType, from string, to any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.items = append(f.items, map[string]any{"id": uuid.NewString(), "ambito_id": "0190a3c4-1111-7000-8000-000000000001",
		"cooperative_id": coop.String(), "cooperative_name": "Coop Sociale Esempio", "service_type": serviceType, "valid_from": from,
		"valid_to": to, "hourly_tariff_cents": 2150, "version": 1, "created_at": "2026-01-10T09:00:00Z", "updated_at": "2026-01-10T09:00:00Z"})
}

func TestAccreditations(t *testing.T) {
	doc, err := os.ReadFile(identityDoc)
	if err != nil {
		t.Fatal(err)
	}
	contract := openapitest.Load(t, doc)
	iss := authtest.New(t)
	tokens := iss.TokenServer(t, identityhttp.Scope)
	f := newFake(t, contract, iss)
	client := func(url string) *identityhttp.Identity {
		c, err := peers.New(peers.Config{Name: "identity", Peers: discovery.NewStatic(map[string][]string{"csi-identity": {url}}),
			Tokens:  &auth.ClientCredentials{TokenURL: tokens.URL, ClientID: tokens.ClientID, ClientSecret: tokens.ClientSecret},
			Timeout: 2 * time.Second, HTTP: &http.Client{Transport: contract.Transport(t, peers.NewTransport())}, Log: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		return identityhttp.New(c)
	}
	coop, other := uuid.New(), uuid.New()
	f.add(coop, "SAD", "2025-01-01", "2025-06-30")
	f.add(coop, "SAD", "2025-07-01", nil)
	f.add(coop, "ADM", "2025-01-01", nil)
	f.add(other, "SAD", "2025-01-01", nil)
	id := client(f.srv.URL)
	ctx := context.Background()

	got, err := id.Accreditations(ctx, coop, "SAD")
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ValidTo == nil || *got[0].ValidTo != "2025-06-30" || got[1].ValidTo != nil || got[1].HourlyTariffCents != 2150 ||
		got[0].CooperativeID != coop || got[0].ServiceType != "SAD" {
		t.Errorf("both pages of the SAD accreditations: %+v", got)
	}
	if none, err := id.Accreditations(ctx, coop, "AES"); err != nil || len(none) != 0 {
		t.Errorf("no AES accreditation: %v, %v", none, err)
	}

	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	var e *errs.Error
	if _, err := id.Accreditations(ctx, coop, "SAD"); !errs.Is(err, errs.Unavailable) {
		t.Errorf("identity answering 503: %v, want Unavailable", err)
	} else if errors.As(err, &e); e.RetryAfter != 9*time.Second {
		t.Errorf("Retry-After %s, want identity's 9s", e.RetryAfter)
	}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	if _, err := client(closed.URL).Accreditations(ctx, coop, "SAD"); !errs.Is(err, errs.Unavailable) {
		t.Errorf("identity unreachable: %v, want Unavailable", err)
	}
}

// TestOperatorProfiles: GET /v1/operators/{id} as identity's contract documents it (scope
// operators:read): the profiles; an unknown operator NotFound; identity down Unavailable.
func TestOperatorProfiles(t *testing.T) {
	doc, err := os.ReadFile(identityDoc)
	if err != nil {
		t.Fatal(err)
	}
	contract := openapitest.Load(t, doc)
	iss := authtest.New(t)
	tokens := iss.TokenServer(t, identityhttp.OperatorsScope)
	v := iss.Verifier()
	known, coop := uuid.New(), uuid.New()
	var mu sync.Mutex
	down := false
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/operators/{id}", func(w http.ResponseWriter, r *http.Request) {
		contract.CheckRequest(t, r)
		ctx := httpapi.WithRequestID(r.Context(), "id-"+uuid.NewString()[:8])
		w.Header().Set(httpapi.RequestIDHeader, httpapi.RequestID(ctx))
		problem := func(err error) { httpapi.WriteProblem(ctx, nil, w, r, err) }
		tok, _ := auth.BearerToken(r)
		c, err := v.Verify(ctx, tok)
		if err != nil {
			problem(errs.E(errs.Unauthenticated, "the access token is not valid"))
			return
		}
		if !c.HasScope(identityhttp.OperatorsScope) {
			problem(errs.E(errs.Forbidden, "requires scope operators:read"))
			return
		}
		mu.Lock()
		isDown := down
		mu.Unlock()
		if isDown {
			problem(&errs.Error{Kind: errs.Unavailable, Message: "the database is unavailable", RetryAfter: 9 * time.Second})
			return
		}
		if r.PathValue("id") != known.String() {
			problem(errs.E(errs.NotFound, "operator not found"))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("ETag", `"2"`)
		_ = json.NewEncoder(w).Encode(map[string]any{"id": known, "ambito_id": "0190a3c4-1111-7000-8000-000000000001",
			"fiscal_code": "RSSMRA80A01F205X", "given_name": "Maria", "family_name": "Rossi", "email": "maria.rossi@example.org",
			"status": "active", "password_set": true, "version": 2, "created_at": "2026-01-10T09:00:00Z", "updated_at": "2026-01-10T09:00:00Z",
			"profiles": []map[string]any{
				{"id": uuid.New(), "organization_id": coop, "organization_name": "Coop Sociale Esempio", "organization_kind": "cooperativa",
					"role": "educator", "valid_from": "2025-01-01", "valid_to": "2025-12-31"},
				{"id": uuid.New(), "organization_id": coop, "organization_name": "Coop Sociale Esempio", "organization_kind": "cooperativa",
					"role": "asa", "valid_from": "2026-01-01", "valid_to": nil},
			}})
	})
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	c, err := peers.New(peers.Config{Name: "identity", Peers: discovery.NewStatic(map[string][]string{"csi-identity": {srv.URL}}),
		Tokens:  &auth.ClientCredentials{TokenURL: tokens.URL, ClientID: tokens.ClientID, ClientSecret: tokens.ClientSecret},
		Timeout: 2 * time.Second, HTTP: &http.Client{Transport: contract.Transport(t, peers.NewTransport())}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	id := identityhttp.New(c)
	ctx := context.Background()
	got, err := id.OperatorProfiles(ctx, known)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].OrganizationID != coop || got[0].Role != auth.RoleEducator || got[0].ValidTo == nil || *got[0].ValidTo != "2025-12-31" ||
		got[1].Role != auth.RoleASA || got[1].ValidTo != nil {
		t.Errorf("profiles: %+v", got)
	}
	if _, err := id.OperatorProfiles(ctx, uuid.New()); !errs.Is(err, errs.NotFound) {
		t.Errorf("unknown operator: %v, want NotFound", err)
	}
	mu.Lock()
	down = true
	mu.Unlock()
	if _, err := id.OperatorProfiles(ctx, known); !errs.Is(err, errs.Unavailable) {
		t.Errorf("identity answering 503: %v, want Unavailable", err)
	}
}
