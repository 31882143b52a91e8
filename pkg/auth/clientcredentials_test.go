package auth_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/openapitest"
)

// identityDoc is the identity service's contract, read by path: pkg never imports a service.
const identityDoc = "../../services/identity/api/openapi.yaml"

var (
	identityOnce     sync.Once
	identityContract *openapitest.Contract
)

func identity(t *testing.T) *openapitest.Contract {
	t.Helper()
	identityOnce.Do(func() {
		doc, err := os.ReadFile(identityDoc)
		if err != nil {
			t.Fatalf("read the identity contract: %v", err)
		}
		identityContract = openapitest.Load(t, doc)
	})
	if identityContract == nil {
		t.Fatal("the identity contract did not load")
	}
	return identityContract
}

// checked is an HTTP client whose every request to the token endpoint and every answer is
// checked against identity's contract: the token source speaks identity's protocol, and the
// stand-in answers as identity documents.
func checked(t *testing.T) *http.Client {
	c := identity(t)
	next := c.Transport(t, http.DefaultTransport)
	return &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		c.CheckRequest(t, r)
		return next.RoundTrip(r)
	})}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// clock is a settable clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

func newSource(t *testing.T, ts *authtest.TokenServer, scopes ...string) *auth.ClientCredentials {
	return &auth.ClientCredentials{TokenURL: ts.URL, ClientID: ts.ClientID, ClientSecret: ts.ClientSecret,
		Scopes: scopes, HTTP: checked(t)}
}

func TestClientCredentialsToken(t *testing.T) {
	iss := authtest.New(t)
	ts := iss.TokenServer(t, "citizens:read", "events:read")
	cc := newSource(t, ts, "citizens:read")
	ctx := context.Background()

	tok, err := cc.Token(ctx)
	if err != nil {
		t.Fatalf("Token() error = %v", err)
	}
	claims, err := iss.Verifier().Verify(ctx, tok)
	if err != nil {
		t.Fatalf("the token does not verify: %v", err)
	}
	if got, want := claims.Scopes, []string{"citizens:read"}; !cmp.Equal(got, want) {
		t.Errorf("token scopes = %q, want %q (the scopes asked for)", got, want)
	}
	if claims.Subject != ts.ClientID || claims.Kind != auth.KindClient {
		t.Errorf("token subject, kind = %q, %q; want %q, client", claims.Subject, claims.Kind, ts.ClientID)
	}
	// Cached: no second request.
	for range 3 {
		again, err := cc.Token(ctx)
		if err != nil || again != tok {
			t.Fatalf("Token() again = %.20q, %v; want the cached token", again, err)
		}
	}
	if n := ts.Requests(); n != 1 {
		t.Errorf("token requests = %d, want 1", n)
	}
}

func TestClientCredentialsRefreshBeforeExpiry(t *testing.T) {
	ts := authtest.New(t).TokenServer(t, "citizens:read")
	ts.SetTTL(100 * time.Second) // refreshed 25 s before expiry
	cc := newSource(t, ts)
	clk := &clock{now: time.Now()}
	cc.SetClock(clk.Now)
	ctx := context.Background()

	first, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clk.Add(74 * time.Second)
	if tok, err := cc.Token(ctx); err != nil || tok != first || ts.Requests() != 1 {
		t.Fatalf("at 74 s: Token() = %v, same %v, requests %d; want the cached token", err, tok == first, ts.Requests())
	}
	clk.Add(2 * time.Second)
	second, err := cc.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if second == first || ts.Requests() != 2 {
		t.Errorf("at 76 s: new token %v, requests %d; want a new token from a second request", second != first, ts.Requests())
	}

	// Identity down while the token is in its refresh margin: the token still works, so it is kept.
	clk.Add(80 * time.Second) // 4 s into the margin of the second token
	ts.Fail(http.StatusServiceUnavailable)
	if tok, err := cc.Token(ctx); err != nil || tok != second {
		t.Errorf("identity down, token not expired: Token() = same %v, %v; want the current token", tok == second, err)
	}
	// Once it has expired, the failure shows.
	clk.Add(30 * time.Second)
	if _, err := cc.Token(ctx); !errs.Is(err, errs.Unavailable) {
		t.Errorf("identity down, token expired: Token() error = %v, want kind unavailable", err)
	}
	ts.Fail(0)
	if tok, err := cc.Token(ctx); err != nil || tok == second {
		t.Errorf("identity back: Token() = new %v, %v; want a new token", tok != second, err)
	}
}

func TestClientCredentialsSingleFlight(t *testing.T) {
	ts := authtest.New(t).TokenServer(t, "citizens:read")
	ts.Delay(150 * time.Millisecond)
	cc := newSource(t, ts)

	const callers = 20
	tokens := make([]string, callers)
	var wg sync.WaitGroup
	var failed atomic.Int32
	for i := range callers {
		wg.Go(func() {
			tok, err := cc.Token(context.Background())
			if err != nil {
				failed.Add(1)
			}
			tokens[i] = tok
		})
	}
	wg.Wait()
	if failed.Load() > 0 {
		t.Fatalf("%d callers failed", failed.Load())
	}
	for _, tok := range tokens {
		if tok != tokens[0] {
			t.Fatal("concurrent callers got different tokens")
		}
	}
	if n := ts.Requests(); n != 1 {
		t.Errorf("token requests for %d concurrent callers = %d, want 1", callers, n)
	}

	// After a 401 from a peer, every caller that saw it invalidates the same token: one refresh.
	old := tokens[0]
	for range 5 {
		cc.Invalidate(old)
	}
	for i := range callers {
		wg.Go(func() { tokens[i], _ = cc.Token(context.Background()) })
	}
	wg.Wait()
	if n := ts.Requests(); n != 2 {
		t.Errorf("token requests after invalidating one token = %d, want 2", n)
	}
	if tokens[0] == old {
		t.Error("after Invalidate the old token is still served")
	}
	// Invalidating a token that is not the cached one does nothing.
	cc.Invalidate(old)
	cc.Invalidate("")
	if tok, _ := cc.Token(context.Background()); tok != tokens[0] || ts.Requests() != 2 {
		t.Errorf("Invalidate(stale token) caused a refresh (requests %d)", ts.Requests())
	}
}

func TestClientCredentialsCallerDeadline(t *testing.T) {
	ts := authtest.New(t).TokenServer(t, "citizens:read")
	ts.Delay(300 * time.Millisecond)
	cc := newSource(t, ts)

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := cc.Token(ctx)
	if elapsed := time.Since(start); elapsed > 250*time.Millisecond {
		t.Errorf("Token() with a 50 ms deadline returned after %v", elapsed)
	}
	var e *errs.Error
	if !errs.Is(err, errs.Unavailable) || !errors.As(err, &e) || e.RetryAfter <= 0 {
		t.Fatalf("Token() past the caller's deadline error = %v, want kind unavailable with Retry-After", err)
	}
	// The request went on without the impatient caller, and its token is kept for the next one.
	deadline := time.Now().Add(5 * time.Second)
	for ts.Requests() != 1 || len(ts.Issued()) != 1 {
		if time.Now().After(deadline) {
			t.Fatal("the token request did not complete")
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	if tok, err := cc.Token(context.Background()); err != nil || tok != ts.Issued()[0] || ts.Requests() != 1 {
		t.Errorf("Token() after the request completed = %v, requests %d; want the token it brought", err, ts.Requests())
	}
}

func TestClientCredentialsErrors(t *testing.T) {
	iss := authtest.New(t)
	ts := iss.TokenServer(t, "citizens:read")
	closed := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		_ = ln.Close()
		return "http://" + addr + auth.TokenPath
	}()
	notJSON := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		_, _ = fmt.Fprint(w, "<html>a proxy's page</html>")
	}))
	defer notJSON.Close()

	for _, tc := range []struct {
		name           string
		url            string
		secret         string
		scopes         []string
		fail           int
		fetchTimeout   time.Duration
		delay          time.Duration
		wantKind       errs.Kind
		wantRetryAfter time.Duration
		wantMessage    string
	}{
		{name: "wrong secret", secret: "not-the-secret-42", wantKind: errs.Internal,
			wantMessage: "the identity service refused the service's client credentials"},
		{name: "scope not held", scopes: []string{"citizens:write"}, wantKind: errs.Internal,
			wantMessage: "the service's client does not hold the scopes it asks for"},
		{name: "identity unavailable", fail: http.StatusServiceUnavailable, wantKind: errs.Unavailable,
			wantRetryAfter: authtest.RetryAfter},
		{name: "identity slows down", fail: http.StatusTooManyRequests, wantKind: errs.Unavailable,
			wantRetryAfter: authtest.RetryAfter},
		{name: "identity fails", fail: http.StatusInternalServerError, wantKind: errs.Unavailable,
			wantRetryAfter: auth.DefaultTokenRetryAfter},
		{name: "identity down", url: closed, wantKind: errs.Unavailable, wantRetryAfter: auth.DefaultTokenRetryAfter},
		{name: "identity too slow", delay: 500 * time.Millisecond, fetchTimeout: 50 * time.Millisecond,
			wantKind: errs.Unavailable, wantRetryAfter: auth.DefaultTokenRetryAfter},
		{name: "not identity", url: notJSON.URL, wantKind: errs.Internal},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts.Fail(tc.fail)
			ts.Delay(tc.delay)
			defer ts.Fail(0)
			defer ts.Delay(0)
			cc := newSource(t, ts, tc.scopes...)
			if tc.url != "" {
				cc.TokenURL = tc.url
				cc.HTTP = nil // not identity: its answers are not checked against the contract
			}
			if tc.secret != "" {
				cc.ClientSecret = tc.secret
			}
			cc.FetchTimeout = tc.fetchTimeout
			_, err := cc.Token(context.Background())
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("Token() error = %v (%T), want an *errs.Error", err, err)
			}
			if e.Kind != tc.wantKind || e.RetryAfter != tc.wantRetryAfter {
				t.Errorf("Token() error = %v, kind %v, Retry-After %v; want kind %v, Retry-After %v",
					err, e.Kind, e.RetryAfter, tc.wantKind, tc.wantRetryAfter)
			}
			if tc.wantMessage != "" && e.Message != tc.wantMessage {
				t.Errorf("Token() error message = %q, want %q", e.Message, tc.wantMessage)
			}
			if strings.Contains(err.Error(), ts.ClientSecret) || (tc.secret != "" && strings.Contains(err.Error(), tc.secret)) {
				t.Errorf("the error shows the client secret: %v", err)
			}
		})
	}
}

func TestClientCredentialsHidesSecret(t *testing.T) {
	cc := &auth.ClientCredentials{TokenURL: "http://identity.test/v1/oauth/token", ClientID: "0190a3c4-0000-7000-8000-000000000001",
		ClientSecret: "hunter2-very-secret", Scopes: []string{"citizens:read"}}
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("peers", "tokens", cc)
	for name, s := range map[string]string{"String": cc.String(), "%v": fmt.Sprintf("%v", cc), "log": logs.String()} {
		if strings.Contains(s, cc.ClientSecret) {
			t.Errorf("%s shows the secret: %s", name, s)
		}
		if !strings.Contains(s, cc.ClientID) {
			t.Errorf("%s does not name the client: %s", name, s)
		}
	}
}
