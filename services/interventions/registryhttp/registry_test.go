package registryhttp_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"sync"
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
	"github.com/csi-lombardia/csi/services/interventions"
	"github.com/csi-lombardia/csi/services/interventions/registryhttp"
)

// registryDoc is the registry service's contract, read by path: interventions never imports
// registry.
const registryDoc = "../../registry/api/openapi.yaml"

// fakeRegistry answers GET /v1/citizens/{id} and GET /v1/citizens/{id}/household as registry's
// contract documents them (every request and answer is checked against it by the client's
// transport and CheckRequest): it verifies the token and the scope citizens:read.
type fakeRegistry struct {
	mu         sync.Mutex
	down       bool
	citizens   map[uuid.UUID]map[string]any
	merged     map[uuid.UUID]uuid.UUID
	households map[uuid.UUID][]map[string]any
	purposes   []string
	srv        *httptest.Server
}

func newFake(t *testing.T, contract *openapitest.Contract, iss *authtest.Issuer) *fakeRegistry {
	f := &fakeRegistry{citizens: map[uuid.UUID]map[string]any{}, merged: map[uuid.UUID]uuid.UUID{}, households: map[uuid.UUID][]map[string]any{}}
	v := iss.Verifier()
	guard := func(next func(w http.ResponseWriter, r *http.Request, id uuid.UUID)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			contract.CheckRequest(t, r)
			ctx := httpapi.WithRequestID(r.Context(), "reg-"+uuid.NewString()[:8])
			w.Header().Set(httpapi.RequestIDHeader, httpapi.RequestID(ctx))
			problem := func(err error) { httpapi.WriteProblem(ctx, nil, w, r, err) }
			tok, _ := auth.BearerToken(r)
			c, err := v.Verify(ctx, tok)
			if err != nil {
				problem(errs.E(errs.Unauthenticated, "the access token is not valid"))
				return
			}
			if !c.HasScope(registryhttp.Scope) {
				problem(errs.E(errs.Forbidden, "requires scope citizens:read"))
				return
			}
			f.mu.Lock()
			down := f.down
			f.mu.Unlock()
			if down {
				problem(&errs.Error{Kind: errs.Unavailable, Message: "the database is unavailable", RetryAfter: 9 * time.Second})
				return
			}
			id, err := uuid.Parse(r.PathValue("id"))
			if err != nil {
				problem(errs.InvalidField("id", "must be a UUID"))
				return
			}
			f.mu.Lock()
			_, found := f.citizens[id]
			into, merged := f.merged[id]
			f.mu.Unlock()
			switch {
			case merged:
				w.Header().Set("Location", "/v1/citizens/"+into.String())
				w.Header().Set("Content-Type", "application/problem+json")
				w.WriteHeader(http.StatusPermanentRedirect)
				_ = json.NewEncoder(w).Encode(map[string]any{"type": "urn:csi:problem:merged", "title": "Permanent Redirect",
					"status": 308, "detail": "merged", "id": id, "merged_into": into, "request_id": httpapi.RequestID(ctx)})
			case !found:
				problem(errs.E(errs.NotFound, "citizen not found"))
			default:
				w.Header().Set("Content-Type", "application/json")
				next(w, r, id)
			}
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/citizens/{id}", guard(func(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.purposes = append(f.purposes, r.URL.Query().Get("purpose"))
		w.Header().Set("ETag", `"1"`)
		_ = json.NewEncoder(w).Encode(f.citizens[id])
	}))
	mux.HandleFunc("GET /v1/citizens/{id}/household", guard(func(w http.ResponseWriter, r *http.Request, id uuid.UUID) {
		f.mu.Lock()
		defer f.mu.Unlock()
		members, ok := f.households[id]
		h := map[string]any{"members": []map[string]any{}}
		if ok {
			h = map[string]any{"id": uuid.NewString(), "family_number": "F1", "members": members}
		}
		_ = json.NewEncoder(w).Encode(h)
	}))
	f.srv = httptest.NewServer(mux)
	t.Cleanup(f.srv.Close)
	return f
}

// citizen adds a citizen as registry serves it: every member the card does not take too.
func (f *fakeRegistry) citizen(extra map[string]any) uuid.UUID {
	id := uuid.New()
	c := map[string]any{"id": id, "ambito_id": uuid.NewString(), "fiscal_code": "RSSMRA40A01F205X", "family_name": "Rossi",
		"given_name": "Maria", "sex": "F", "birth_date": "1940-01-01", "status": "alive",
		"privacy": map[string]any{"notice_given_on": "2026-01-10", "consents": []any{}}, "fiscal_code_history": []any{}, "version": 1,
		"residence": map[string]any{"istat_code": "015146", "municipality": "Milano", "address": "Via Roma 1", "postal_code": "20121"},
		"phone":     "+39 02 1234567", "email": "maria.rossi@example.it",
		"created_at": "2026-01-10T09:00:00Z", "updated_at": "2026-01-10T09:00:00Z"}
	for k, v := range extra {
		c[k] = v
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.citizens[id] = c
	return id
}

func TestCitizenCard(t *testing.T) {
	doc, err := os.ReadFile(registryDoc)
	if err != nil {
		t.Fatal(err)
	}
	contract := openapitest.Load(t, doc)
	iss := authtest.New(t)
	tokens := iss.TokenServer(t, registryhttp.Scope)
	f := newFake(t, contract, iss)
	c, err := peers.New(peers.Config{Name: "registry", Peers: discovery.NewStatic(map[string][]string{"csi-registry": {f.srv.URL}}),
		Tokens:  &auth.ClientCredentials{TokenURL: tokens.URL, ClientID: tokens.ClientID, ClientSecret: tokens.ClientSecret},
		Timeout: 2 * time.Second, HTTP: &http.Client{Transport: contract.Transport(t, peers.NewTransport())}, Log: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	reg := registryhttp.New(c)
	ctx := context.Background()

	maria := f.citizen(map[string]any{"domicile": map[string]any{"istat_code": "015146", "address": "Via Verdi 2"}})
	head := uuid.New()
	f.households[maria] = []map[string]any{
		{"citizen_id": head, "family_name": "Bianchi", "given_name": "Luigi", "birth_date": "1938-02-02", "relationship": "head", "valid_from": "1970-01-01"},
		{"citizen_id": maria, "family_name": "Rossi", "given_name": "Maria", "birth_date": "1940-01-01", "relationship": "spouse", "valid_from": "1970-01-01"},
	}
	guarded := f.citizen(map[string]any{"legal_representative": map[string]any{"kind": "support_administrator", "name": "Avv. Carla Neri",
		"valid_from": "2024-01-01"}})
	alone := f.citizen(map[string]any{"phone": nil, "email": nil})
	delete(f.citizens[alone], "phone")
	delete(f.citizens[alone], "email")
	old := uuid.New()
	f.merged[old] = maria

	residence := &interventions.CardAddress{Address: "Via Roma 1", PostalCode: "20121", Municipality: "Milano", ISTATCode: "015146"}
	tests := []struct {
		name string
		id   uuid.UUID
		want interventions.CitizenCard
	}{
		{"household head as contact", maria, interventions.CitizenCard{ID: maria, FamilyName: "Rossi", GivenName: "Maria", Residence: residence,
			Domicile: &interventions.CardAddress{Address: "Via Verdi 2", ISTATCode: "015146"}, Phone: "+39 02 1234567", Email: "maria.rossi@example.it",
			Contact: &interventions.ContactPerson{Role: "household_head", Name: "Luigi Bianchi"}}},
		{"legal representative as contact", guarded, interventions.CitizenCard{ID: guarded, FamilyName: "Rossi", GivenName: "Maria",
			Residence: residence, Phone: "+39 02 1234567", Email: "maria.rossi@example.it",
			Contact: &interventions.ContactPerson{Role: "legal_representative", Kind: "support_administrator", Name: "Avv. Carla Neri"}}},
		{"no household, no contacts", alone, interventions.CitizenCard{ID: alone, FamilyName: "Rossi", GivenName: "Maria", Residence: residence}},
		{"merged record: the survivor's card", old, interventions.CitizenCard{ID: maria, FamilyName: "Rossi", GivenName: "Maria", Residence: residence,
			Domicile: &interventions.CardAddress{Address: "Via Verdi 2", ISTATCode: "015146"}, Phone: "+39 02 1234567", Email: "maria.rossi@example.it",
			Contact: &interventions.ContactPerson{Role: "household_head", Name: "Luigi Bianchi"}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := reg.CitizenCard(ctx, tc.id)
			if err != nil {
				t.Fatalf("CitizenCard() = %v", err)
			}
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("CitizenCard() (-want +got):\n%s", diff)
			}
		})
	}
	for _, p := range f.purposes {
		if p != registryhttp.Purpose {
			t.Errorf("purpose sent = %q, want %q (registry's audit trail)", p, registryhttp.Purpose)
		}
	}

	if _, err := reg.CitizenCard(ctx, uuid.New()); !errs.Is(err, errs.NotFound) {
		t.Errorf("CitizenCard(unknown) = %v, want NotFound", err)
	}
	f.mu.Lock()
	f.down = true
	f.mu.Unlock()
	if _, err := reg.CitizenCard(ctx, maria); !errs.Is(err, errs.Unavailable) {
		t.Errorf("CitizenCard() with registry down = %v, want Unavailable", err)
	}
	f.srv.Close()
	if _, err := reg.CitizenCard(ctx, maria); !errs.Is(err, errs.Unavailable) {
		t.Errorf("CitizenCard() with registry unreachable = %v, want Unavailable", err)
	}
}
