package openapitest_test

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// identityDoc is the identity service's contract, read by path: pkg never imports a service.
const identityDoc = "../../services/identity/api/openapi.yaml"

func loadIdentity(t *testing.T) *openapitest.Contract {
	t.Helper()
	doc, err := os.ReadFile(identityDoc)
	if err != nil {
		t.Fatalf("read the identity contract: %v", err)
	}
	return openapitest.Load(t, doc)
}

func TestIdentityDocument(t *testing.T) {
	c := loadIdentity(t)
	ops := c.Operations()
	if len(ops) == 0 {
		t.Fatal("the identity contract has no operations")
	}
	seen := map[string]openapitest.Operation{}
	for _, op := range ops {
		if op.OperationID == "" {
			t.Errorf("%s %s has no operationId", op.Method, op.Path)
			continue
		}
		if prev, dup := seen[op.OperationID]; dup {
			t.Errorf("operationId %q is used by %s and %s", op.OperationID, prev, op)
		}
		seen[op.OperationID] = op
	}
}

// TestIdentityPlatformResponses checks that the answers the identity service gets from the
// platform packages (problems, health, JWKS) match its contract. The service's own endpoints
// are checked by the service's transport tests.
func TestIdentityPlatformResponses(t *testing.T) {
	c := loadIdentity(t)
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	health := &httpapi.Health{Service: "identity", Version: "test", Commit: "abc",
		Checks: []httpapi.Check{{Name: "database", Check: func(context.Context) error { return nil }}}}
	mux := httpapi.NewMux()
	health.Register(mux)
	mux.HandleFunc("GET /.well-known/jwks.json", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/jwk-set+json")
		w.Header().Set("Cache-Control", "public, max-age=60")
		_ = json.NewEncoder(w).Encode(auth.JWKSDocument(map[string]ed25519.PublicKey{"k1": pub}))
	})
	failures := map[string]error{
		"/v1/operators/0190c0de-0000-7000-8000-000000000001": errs.E(errs.NotFound, "operator not found"),
		"/v1/organizations": &errs.Error{Kind: errs.Invalid, Message: "the request has invalid fields",
			Fields: []errs.FieldError{{Field: "name", Message: "is required"}}},
		"/v1/accreditations": &errs.Error{Kind: errs.Unavailable, Message: "database unavailable", Err: errors.New("dial")},
		"/v1/oauth/token": &errs.Error{Kind: errs.Invalid, Message: "choose the profile to act in",
			Extra: map[string]any{"error": "invalid_request", "profiles": []map[string]string{
				{"id": "0190c0de-0000-7000-8000-000000000002", "role": "educator", "organization_name": "Coop"}}}},
	}
	for path, err := range failures {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) { httpapi.WriteProblem(r.Context(), nil, w, r, err) })
	}
	srv := httptest.NewServer(httpapi.Chain(mux, httpapi.RequestIDs()))
	t.Cleanup(srv.Close)
	client := &http.Client{Transport: c.Transport(t, srv.Client().Transport)}

	tests := []struct {
		method, path string
		body         string
		wantStatus   int
	}{
		{"GET", "/healthz", "", http.StatusOK},
		{"GET", "/readyz", "", http.StatusOK},
		{"GET", "/.well-known/jwks.json", "", http.StatusOK},
		{"GET", "/v1/operators/0190c0de-0000-7000-8000-000000000001", "", http.StatusNotFound},
		{"POST", "/v1/organizations", `{}`, http.StatusBadRequest},
		{"GET", "/v1/accreditations", "", http.StatusServiceUnavailable},
		{"POST", "/v1/oauth/token", "grant_type=password", http.StatusBadRequest},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			req, err := http.NewRequest(tt.method, srv.URL+tt.path, strings.NewReader(tt.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := client.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.wantStatus {
				t.Errorf("status %d, want %d", resp.StatusCode, tt.wantStatus)
			}
		})
	}

	// Readiness while draining: a 503 that is not a problem.
	health.SetDraining()
	resp, err := client.Get(srv.URL + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("draining /readyz status %d, want 503", resp.StatusCode)
	}
}
