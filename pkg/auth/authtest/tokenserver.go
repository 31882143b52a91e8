package authtest

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// TokenServer is a stand-in for identity's token endpoint (POST /v1/oauth/token), for the
// client credentials grant only, as identity's contract documents it: a form-encoded body with
// grant_type=client_credentials and an optional space-separated scope narrowing the client's
// scopes; the client's id and secret in HTTP Basic (each form-url-encoded) or in the body; the
// answer a TokenResponse with Cache-Control: no-store, or a problem whose `error` member is the
// RFC 6749 code (401 invalid_client, 400 invalid_scope, invalid_request,
// unsupported_grant_type). The tokens are signed by the Issuer, so a service under test verifies
// them with Issuer.Verifier.
type TokenServer struct {
	URL          string // the token endpoint: server URL + auth.TokenPath
	ClientID     string // a UUID
	ClientSecret string // random, with characters that must be form-url-encoded in Basic
	Scopes       []string

	iss *Issuer
	srv *httptest.Server

	requests atomic.Int64
	mu       sync.Mutex
	ttl      time.Duration
	fail     int // when non-zero, the status answered instead of a token
	delay    time.Duration
	issued   []string
}

// TokenServer starts a token endpoint for one machine client holding scopes, whose tokens are
// valid 15 minutes. It stops when the test ends.
func (i *Issuer) TokenServer(tb testing.TB, scopes ...string) *TokenServer {
	tb.Helper()
	s := &TokenServer{ClientID: uuid.Must(uuid.NewV7()).String(), ClientSecret: "s3cr+t/" + rand.Text() + "=&%",
		Scopes: scopes, iss: i, ttl: 15 * time.Minute}
	mux := http.NewServeMux()
	mux.HandleFunc("POST "+auth.TokenPath, s.serve)
	s.srv = httptest.NewServer(mux)
	tb.Cleanup(s.srv.Close)
	s.URL = s.srv.URL + auth.TokenPath
	return s
}

// Requests counts the token requests received.
func (s *TokenServer) Requests() int { return int(s.requests.Load()) }

// Issued lists the tokens issued, oldest first.
func (s *TokenServer) Issued() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.issued)
}

// SetTTL sets the lifetime of the next tokens (expires_in, whole seconds).
func (s *TokenServer) SetTTL(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ttl = d
}

// Fail makes the endpoint answer every request with status (503, 500, 429 carry Retry-After:
// 7); 0 heals it.
func (s *TokenServer) Fail(status int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.fail = status
}

// Delay makes the endpoint wait d before answering.
func (s *TokenServer) Delay(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.delay = d
}

// Close stops the server: later requests are refused.
func (s *TokenServer) Close() { s.srv.Close() }

// RetryAfter is the Retry-After the endpoint sends with the statuses Fail sets.
const RetryAfter = 7 * time.Second

func oauthProblem(kind errs.Kind, code, format string, args ...any) error {
	e := errs.E(kind, format, args...)
	e.Extra = map[string]any{"error": code}
	return e
}

func (s *TokenServer) serve(w http.ResponseWriter, r *http.Request) {
	s.requests.Add(1)
	s.mu.Lock()
	ttl, fail, delay := s.ttl, s.fail, s.delay
	s.mu.Unlock()
	if delay > 0 {
		select {
		case <-time.After(delay):
		case <-r.Context().Done():
			return
		}
	}
	problem := func(err error) { httpapi.WriteProblem(r.Context(), nil, w, r, err) }
	switch fail {
	case 0:
	case http.StatusServiceUnavailable:
		problem(&errs.Error{Kind: errs.Unavailable, Message: "the database is unavailable", RetryAfter: RetryAfter,
			Extra: map[string]any{"error": "temporarily_unavailable"}})
		return
	case http.StatusTooManyRequests:
		problem(&errs.Error{Kind: errs.TooManyRequests, Message: "slow down", RetryAfter: RetryAfter,
			Extra: map[string]any{"error": "slow_down"}})
		return
	default:
		problem(oauthProblem(errs.Internal, "server_error", "failure"))
		return
	}
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) != "application/x-www-form-urlencoded" {
		problem(oauthProblem(errs.UnsupportedMediaType, "invalid_request", "the body must be form-encoded"))
		return
	}
	if err := r.ParseForm(); err != nil {
		problem(oauthProblem(errs.Invalid, "invalid_request", "the body is not form-encoded"))
		return
	}
	if g := r.PostForm.Get("grant_type"); g != "client_credentials" {
		problem(oauthProblem(errs.Invalid, "unsupported_grant_type", "grant_type must be client_credentials"))
		return
	}
	id, secret := r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	if bid, bsecret, ok := r.BasicAuth(); ok {
		id, _ = url.QueryUnescape(bid)
		secret, _ = url.QueryUnescape(bsecret)
	}
	if id != s.ClientID || secret != s.ClientSecret {
		problem(oauthProblem(errs.Unauthenticated, "invalid_client", "wrong client_id or client_secret"))
		return
	}
	scopes := s.Scopes
	if sc := r.PostForm.Get("scope"); sc != "" {
		scopes = strings.Fields(sc)
		for _, x := range scopes {
			if !slices.Contains(s.Scopes, x) {
				problem(oauthProblem(errs.Invalid, "invalid_scope", "asks for a scope this client does not hold"))
				return
			}
		}
	}
	tok, err := auth.Sign(s.iss.key, s.iss.KID, s.iss.Name, auth.Claims{Subject: s.ClientID, Kind: auth.KindClient,
		Role: auth.RoleClient, Name: "test client", Scopes: scopes, TokenID: uuid.Must(uuid.NewV7()).String()}, ttl, time.Now())
	if err != nil {
		problem(err)
		return
	}
	s.mu.Lock()
	s.issued = append(s.issued, tok)
	s.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	_ = json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer",
		"expires_in": max(1, int(ttl.Seconds())), "scope": strings.Join(scopes, " ")})
}
