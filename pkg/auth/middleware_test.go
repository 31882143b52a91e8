package auth_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

func TestAuthenticate(t *testing.T) {
	pub, priv := newKey(t)
	now := time.Now()
	valid, err := auth.Sign(priv, "k1", testIssuer, operator(), 15*time.Minute, now)
	if err != nil {
		t.Fatal(err)
	}
	expired, err := auth.Sign(priv, "k1", testIssuer, operator(), 15*time.Minute, now.Add(-time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name          string
		path          string
		authorization string
		wantStatus    int
		wantClaims    bool
		wantDetail    string
	}{
		{name: "open healthz", path: "/healthz", wantStatus: 200},
		{name: "open readyz", path: "/readyz", wantStatus: 200},
		{name: "open metrics", path: "/metrics", wantStatus: 200},
		{name: "open jwks", path: "/.well-known/jwks.json", wantStatus: 200},
		{name: "open token endpoint", path: "/v1/oauth/token", wantStatus: 200},
		{name: "open path with a garbage token still open", path: "/healthz", authorization: "Bearer garbage", wantStatus: 200},
		{name: "a path below an open one is not open", path: "/healthz/x", wantStatus: 401},
		{name: "missing token", path: "/v1/things", wantStatus: 401, wantDetail: "bearer access token is required"},
		{name: "basic auth", path: "/v1/things", authorization: "Basic dXNlcjpwYXNz", wantStatus: 401, wantDetail: "bearer access token is required"},
		{name: "bearer without token", path: "/v1/things", authorization: "Bearer   ", wantStatus: 401, wantDetail: "bearer access token is required"},
		{name: "garbage token", path: "/v1/things", authorization: "Bearer garbage", wantStatus: 401, wantDetail: "not valid"},
		{name: "expired token", path: "/v1/things", authorization: "Bearer " + expired, wantStatus: 401, wantDetail: "expired"},
		{name: "valid token", path: "/v1/things", authorization: "Bearer " + valid, wantStatus: 200, wantClaims: true},
		{name: "scheme is case-insensitive", path: "/v1/things", authorization: "bearer " + valid, wantStatus: 200, wantClaims: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var got auth.Claims
			var gotOK, called bool
			next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				called = true
				got, gotOK = auth.FromContext(r.Context())
			})
			v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
			h := httpapi.Chain(next, httpapi.RequestIDs(), auth.Authenticate(v, slog.New(slog.DiscardHandler)))
			r := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.authorization != "" {
				r.Header.Set("Authorization", tc.authorization)
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, r)
			if rec.Code != tc.wantStatus {
				t.Errorf("status = %d, want %d (body %s)", rec.Code, tc.wantStatus, rec.Body.String())
			}
			if tc.wantStatus == 401 {
				if called {
					t.Error("the handler ran for an unauthenticated request")
				}
				if got := rec.Header().Get("WWW-Authenticate"); !strings.HasPrefix(got, "Bearer") {
					t.Errorf("WWW-Authenticate = %q, want a Bearer challenge", got)
				}
				if got := rec.Header().Get("Content-Type"); got != httpapi.ProblemContentType {
					t.Errorf("Content-Type = %q, want %q", got, httpapi.ProblemContentType)
				}
				var p map[string]any
				if err := json.Unmarshal(rec.Body.Bytes(), &p); err != nil {
					t.Fatalf("body %q: %v", rec.Body.String(), err)
				}
				if d, _ := p["detail"].(string); !strings.Contains(d, tc.wantDetail) {
					t.Errorf("detail = %q, want it to mention %q", d, tc.wantDetail)
				}
				if p["request_id"] == nil {
					t.Errorf("problem %v has no request_id", p)
				}
				return
			}
			if gotOK != tc.wantClaims {
				t.Errorf("claims in context = %v, want %v", gotOK, tc.wantClaims)
			}
			if tc.wantClaims && got.Subject != "op-1" {
				t.Errorf("claims subject = %q, want op-1", got.Subject)
			}
		})
	}
}

func TestAuthenticateOwnOpenPaths(t *testing.T) {
	v := auth.NewVerifier(auth.StaticKeys{}, testIssuer)
	h := auth.Authenticate(v, nil, "/public")(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	for path, want := range map[string]int{"/public": 200, "/healthz": 401} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, path, nil))
		if rec.Code != want {
			t.Errorf("GET %s = %d, want %d", path, rec.Code, want)
		}
	}
}

func TestAuthenticateKeysUnavailable(t *testing.T) {
	_, priv := newKey(t)
	tok, err := auth.Sign(priv, "k1", testIssuer, operator(), time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	h := auth.Authenticate(auth.NewVerifier(unavailableKeys{}, testIssuer), nil)(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {
		t.Error("handler ran without verified claims")
	}))
	r := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
	r.Header.Set("Authorization", "Bearer "+tok)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, r)
	if rec.Code != http.StatusServiceUnavailable {
		t.Errorf("status = %d, want 503 when keys cannot be fetched", rec.Code)
	}
	if rec.Header().Get("Retry-After") == "" {
		t.Error("no Retry-After on 503")
	}
}

func TestRequire(t *testing.T) {
	admin := operator()
	admin.Role = auth.RoleAmbitoAdmin
	operatorWithScope := operator()
	operatorWithScope.Scopes = []string{"events:read"}
	clientNoScope := client()
	clientNoScope.Scopes = nil

	adminOrWorker := auth.AnyRole(auth.RoleAmbitoAdmin, auth.RoleSocialWorker)
	tests := []struct {
		name   string
		policy auth.Policy
		claims *auth.Claims // nil: unauthenticated
		want   int          // 0: allowed
	}{
		{name: "no claims", policy: auth.Authenticated(), claims: nil, want: 401},
		{name: "authenticated admits anyone", policy: auth.Authenticated(), claims: ptr(client())},
		{name: "role held", policy: auth.AnyRole(auth.RoleSocialWorker), claims: ptr(operator())},
		{name: "wrong role", policy: auth.AnyRole(auth.RoleAmbitoAdmin), claims: ptr(operator()), want: 403},
		{name: "one of the roles", policy: adminOrWorker, claims: ptr(admin)},
		{name: "client is not a role holder", policy: auth.AnyRole(auth.RoleClient), claims: ptr(client()), want: 403},
		{name: "client with scope", policy: auth.Scope("events:read"), claims: ptr(client())},
		{name: "client without scope", policy: auth.Scope("events:read"), claims: ptr(clientNoScope), want: 403},
		{name: "client with another scope", policy: auth.Scope("audit:read"), claims: ptr(client()), want: 403},
		{name: "operator never passes a scope policy", policy: auth.Scope("events:read"), claims: ptr(operatorWithScope), want: 403},
		{name: "any of: the scope", policy: auth.AnyOf(auth.AnyRole(auth.RoleAmbitoAdmin), auth.Scope("events:read")), claims: ptr(client())},
		{name: "any of: the role", policy: auth.AnyOf(auth.AnyRole(auth.RoleAmbitoAdmin), auth.Scope("events:read")), claims: ptr(admin)},
		{name: "any of: neither", policy: auth.AnyOf(auth.AnyRole(auth.RoleAmbitoAdmin), auth.Scope("events:read")), claims: ptr(operator()), want: 403},
		{name: "any of nothing", policy: auth.AnyOf(), claims: ptr(admin), want: 403},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			called := false
			e := auth.Require(tc.policy)(func(ctx context.Context, req any) (any, error) {
				called = true
				return "ok", nil
			})
			ctx := context.Background()
			if tc.claims != nil {
				ctx = auth.WithClaims(ctx, *tc.claims)
			}
			resp, err := e(ctx, nil)
			if tc.want == 0 {
				if err != nil || resp != "ok" {
					t.Errorf("endpoint = %v, %v; want ok, nil", resp, err)
				}
				return
			}
			if called {
				t.Error("the endpoint ran though the policy refused")
			}
			if got := httpapi.StatusOf(err); got != tc.want {
				t.Errorf("status of %v = %d, want %d", err, got, tc.want)
			}
			if tc.want == 403 && errs.KindOf(err) != errs.Forbidden {
				t.Errorf("kind = %v, want forbidden", errs.KindOf(err))
			}
		})
	}
}

func TestBearerToken(t *testing.T) {
	tests := []struct {
		header string
		want   string
		ok     bool
	}{
		{header: "Bearer abc", want: "abc", ok: true},
		{header: "BEARER abc ", want: "abc", ok: true},
		{header: "Bearer", ok: false},
		{header: "Bearer ", ok: false},
		{header: "Token abc", ok: false},
		{header: "", ok: false},
	}
	for _, tc := range tests {
		t.Run(tc.header, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodGet, "/", nil)
			r.Header.Set("Authorization", tc.header)
			got, ok := auth.BearerToken(r)
			if diff := cmp.Diff(struct {
				Token string
				OK    bool
			}{tc.want, tc.ok}, struct {
				Token string
				OK    bool
			}{got, ok}); diff != "" {
				t.Errorf("BearerToken(%q) (-want +got):\n%s", tc.header, diff)
			}
		})
	}
}

func ptr[T any](v T) *T { return &v }
