package peers_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/peers"
)

const scope = "things:read"

// thing is what the fake peer serves.
type thing struct {
	ID       string `json:"id"`
	Instance string `json:"instance"`
}

// peer is a fake instance of a service with GET /v1/things/{id}: it verifies the bearer token
// (real JWTs from an authtest issuer) and its scope, and answers by id.
type peer struct {
	name     string
	srv      *httptest.Server
	requests atomic.Int64

	mu        sync.Mutex
	revoked   map[string]bool // tokens it answers 401 to
	requestID string          // the X-Request-Id of the last request
}

func newPeer(t *testing.T, name string, iss *authtest.Issuer) *peer {
	t.Helper()
	p := &peer{name: name, revoked: map[string]bool{}}
	v := iss.Verifier()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("GET /v1/things/{id}", func(w http.ResponseWriter, r *http.Request) {
		p.requests.Add(1)
		problem := func(err error) { httpapi.WriteProblem(r.Context(), nil, w, r, err) }
		p.mu.Lock()
		p.requestID = r.Header.Get(httpapi.RequestIDHeader)
		p.mu.Unlock()
		tok, ok := auth.BearerToken(r)
		if !ok {
			problem(errs.E(errs.Unauthenticated, "a bearer access token is required"))
			return
		}
		p.mu.Lock()
		revoked := p.revoked[tok]
		p.mu.Unlock()
		c, err := v.Verify(r.Context(), tok)
		if err != nil || revoked {
			problem(errs.E(errs.Unauthenticated, "the access token is not valid"))
			return
		}
		if !c.HasScope(scope) {
			problem(errs.E(errs.Forbidden, "requires scope %s", scope))
			return
		}
		id := r.PathValue("id")
		switch id {
		case "missing":
			problem(errs.E(errs.NotFound, "no such thing"))
		case "bad":
			problem(errs.InvalidField("id", "is not a thing id"))
		case "conflict":
			problem(errs.E(errs.Conflict, "the thing changed"))
		case "down":
			problem(&errs.Error{Kind: errs.Unavailable, Message: "the database is unavailable", RetryAfter: 9 * time.Second})
		case "boom":
			problem(errors.New("a bug"))
		case "slow":
			select {
			case <-time.After(2 * time.Second):
			case <-r.Context().Done():
			}
		case "moved":
			w.Header().Set("Location", "/v1/things/elsewhere")
			w.WriteHeader(http.StatusPermanentRedirect)
		default:
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(thing{ID: id, Instance: p.name})
		}
	})
	p.srv = httptest.NewServer(mux)
	t.Cleanup(p.srv.Close)
	return p
}

func (p *peer) revoke(tok string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.revoked[tok] = true
}

func (p *peer) lastRequestID() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.requestID
}

// closedURL returns the URL of a port nobody listens on.
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

// getThing is the go-kit endpoint of GET /v1/things/{id}; a 308 decodes to the Location.
func getThing(c *peers.Client) func(ctx context.Context, id string) (thing, error) {
	ep := c.Endpoint(
		func(ctx context.Context, base *url.URL, request any) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("v1", "things", request.(string)).String(), nil)
		},
		func(ctx context.Context, resp *http.Response) (any, error) {
			if resp.StatusCode == http.StatusPermanentRedirect {
				return thing{ID: "moved to " + resp.Header.Get("Location")}, nil
			}
			var th thing
			return th, c.DecodeJSON(resp, &th)
		})
	return func(ctx context.Context, id string) (thing, error) {
		v, err := ep(ctx, id)
		if err != nil {
			return thing{}, err
		}
		return v.(thing), nil
	}
}

type fixture struct {
	iss    *authtest.Issuer
	tokens *authtest.TokenServer
	cc     *auth.ClientCredentials
	logs   *syncBuffer
}

func newFixture(t *testing.T, scopes ...string) *fixture {
	iss := authtest.New(t)
	ts := iss.TokenServer(t, scopes...)
	return &fixture{iss: iss, tokens: ts, logs: &syncBuffer{},
		cc: &auth.ClientCredentials{TokenURL: ts.URL, ClientID: ts.ClientID, ClientSecret: ts.ClientSecret}}
}

func (f *fixture) client(t *testing.T, p discovery.Peers, timeout time.Duration) *peers.Client {
	t.Helper()
	c, err := peers.New(peers.Config{Name: "things", Peers: p, Tokens: f.cc, Timeout: timeout,
		Log: slog.New(slog.NewJSONHandler(f.logs, nil))})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func static(urls ...string) *discovery.Static {
	return discovery.NewStatic(map[string][]string{"csi-things": urls})
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestAnswers(t *testing.T) {
	f := newFixture(t, scope)
	p := newPeer(t, "a", f.iss)
	get := getThing(f.client(t, static(p.srv.URL), 300*time.Millisecond))

	for _, tc := range []struct {
		name           string
		id             string
		want           thing
		wantKind       errs.Kind
		wantRetryAfter time.Duration
		wantStatus     int // of the *peers.Problem cause
	}{
		{name: "found", id: "t1", want: thing{ID: "t1", Instance: "a"}},
		{name: "redirect reaches the decoder", id: "moved", want: thing{ID: "moved to /v1/things/elsewhere"}},
		{name: "not found", id: "missing", wantKind: errs.NotFound, wantStatus: 404},
		{name: "peer unavailable", id: "down", wantKind: errs.Unavailable, wantRetryAfter: 9 * time.Second, wantStatus: 503},
		{name: "peer fails", id: "boom", wantKind: errs.Unavailable, wantRetryAfter: peers.DefaultRetryAfter, wantStatus: 500},
		{name: "peer refuses the request", id: "bad", wantKind: errs.Internal, wantStatus: 400},
		{name: "peer conflict", id: "conflict", wantKind: errs.Internal, wantStatus: 409},
		{name: "peer too slow", id: "slow", wantKind: errs.Unavailable, wantRetryAfter: peers.DefaultRetryAfter},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			got, err := get(context.Background(), tc.id)
			if elapsed := time.Since(start); elapsed > time.Second {
				t.Errorf("the call took %v, past its 300 ms deadline", elapsed)
			}
			if tc.wantKind == 0 && tc.wantStatus == 0 && tc.wantRetryAfter == 0 {
				if err != nil {
					t.Fatalf("get(%s) error = %v", tc.id, err)
				}
				if diff := cmp.Diff(got, tc.want); diff != "" {
					t.Errorf("get(%s) (-got +want):\n%s", tc.id, diff)
				}
				return
			}
			var e *errs.Error
			if !errors.As(err, &e) {
				t.Fatalf("get(%s) error = %v (%T), want an *errs.Error", tc.id, err, err)
			}
			if e.Kind != tc.wantKind || e.RetryAfter != tc.wantRetryAfter {
				t.Errorf("get(%s) error = %v: kind %v, Retry-After %v; want %v, %v", tc.id, err, e.Kind, e.RetryAfter, tc.wantKind, tc.wantRetryAfter)
			}
			if tc.wantStatus != 0 {
				var pr *peers.Problem
				if !errors.As(err, &pr) || pr.Status != tc.wantStatus || pr.Peer != "things" || pr.Path != "/v1/things/"+tc.id {
					t.Errorf("get(%s) cause = %+v, want a *peers.Problem of status %d", tc.id, pr, tc.wantStatus)
				}
			}
		})
	}
	// The problem's fields are kept for the log.
	_, err := get(context.Background(), "bad")
	var pr *peers.Problem
	if !errors.As(err, &pr) || len(pr.Fields) != 1 || pr.Fields[0].Field != "id" {
		t.Errorf("400 cause = %+v, want the field id", pr)
	}
	// Nothing but connection errors is retried: one request per call.
	before := p.requests.Load()
	_, _ = get(context.Background(), "down")
	if n := p.requests.Load() - before; n != 1 {
		t.Errorf("requests for one call answered 503 = %d, want 1", n)
	}
}

func TestRequestIDForwarded(t *testing.T) {
	f := newFixture(t, scope)
	p := newPeer(t, "a", f.iss)
	get := getThing(f.client(t, static(p.srv.URL), time.Second))
	ctx := httpapi.WithRequestID(context.Background(), "req-42")
	if _, err := get(ctx, "t1"); err != nil {
		t.Fatal(err)
	}
	if got := p.lastRequestID(); got != "req-42" {
		t.Errorf("the peer saw X-Request-Id %q, want req-42", got)
	}
}

func TestRoundRobinAndConnectionRetry(t *testing.T) {
	f := newFixture(t, scope)
	a, b := newPeer(t, "a", f.iss), newPeer(t, "b", f.iss)
	down := closedURL(t)

	// Two live instances share the calls.
	get := getThing(f.client(t, static(a.srv.URL, b.srv.URL), time.Second))
	seen := map[string]int{}
	for range 4 {
		th, err := get(context.Background(), "t1")
		if err != nil {
			t.Fatal(err)
		}
		seen[th.Instance]++
	}
	if diff := cmp.Diff(seen, map[string]int{"a": 2, "b": 2}); diff != "" {
		t.Errorf("instances answering (-got +want):\n%s", diff)
	}

	// An instance refusing connections is skipped: every call succeeds on the live one.
	get = getThing(f.client(t, static(down, a.srv.URL), time.Second))
	for i := range 4 {
		if th, err := get(context.Background(), "t1"); err != nil || th.Instance != "a" {
			t.Fatalf("call %d with one instance down = %+v, %v; want an answer from a", i, th, err)
		}
	}

	// With every instance down: Unavailable with Retry-After, after a bounded number of dials.
	var dials atomic.Int64
	tr := peers.NewTransport()
	dial := tr.DialContext
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		dials.Add(1)
		return dial(ctx, network, addr)
	}
	c, err := peers.New(peers.Config{Name: "things", Peers: static(down, closedURL(t)), Tokens: f.cc,
		HTTP: &http.Client{Transport: tr}, Attempts: 3})
	if err != nil {
		t.Fatal(err)
	}
	_, err = getThing(c)(context.Background(), "t1")
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Unavailable || e.RetryAfter != peers.DefaultRetryAfter {
		t.Fatalf("every instance down: error = %v, want kind unavailable with Retry-After %v", err, peers.DefaultRetryAfter)
	}
	if !strings.Contains(e.Message, "things service is unavailable") {
		t.Errorf("every instance down: message %q does not name the peer", e.Message)
	}
	if n := dials.Load(); n != 3 {
		t.Errorf("dials with every instance down = %d, want 3 (Attempts)", n)
	}
}

func TestNoInstance(t *testing.T) {
	f := newFixture(t, scope)
	get := getThing(f.client(t, discovery.NewStatic(nil), time.Second))
	_, err := get(context.Background(), "t1")
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Unavailable || e.RetryAfter != peers.DefaultRetryAfter {
		t.Fatalf("no instance: error = %v, want kind unavailable with Retry-After", err)
	}
	if n := f.tokens.Requests(); n != 0 {
		t.Errorf("token requests with no instance = %d, want 0", n)
	}
}

func TestIdentityDown(t *testing.T) {
	f := newFixture(t, scope)
	p := newPeer(t, "a", f.iss)
	f.tokens.Fail(http.StatusServiceUnavailable)
	_, err := getThing(f.client(t, static(p.srv.URL), time.Second))(context.Background(), "t1")
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Unavailable || e.RetryAfter != authtest.RetryAfter {
		t.Fatalf("identity down: error = %v, want kind unavailable with identity's Retry-After", err)
	}
	if p.requests.Load() != 0 {
		t.Error("the peer was called without a token")
	}
}

func TestTokenRefreshOn401(t *testing.T) {
	f := newFixture(t, scope)
	p := newPeer(t, "a", f.iss)
	get := getThing(f.client(t, static(p.srv.URL), time.Second))
	if _, err := get(context.Background(), "t1"); err != nil {
		t.Fatal(err)
	}
	// The peer stops accepting the token (say, its key was rotated out): one refresh, one retry.
	p.revoke(f.tokens.Issued()[0])
	before := p.requests.Load()
	if _, err := get(context.Background(), "t1"); err != nil {
		t.Fatalf("after the token was refused: error = %v, want success with a new token", err)
	}
	if n, m := f.tokens.Requests(), p.requests.Load()-before; n != 2 || m != 2 {
		t.Errorf("token requests = %d, peer requests = %d; want 2 and 2 (one refresh, one retry)", n, m)
	}

	// A peer that refuses every token: one retry only, then Internal.
	p2 := newPeer(t, "b", authtest.New(t)) // trusts another issuer
	get = getThing(f.client(t, static(p2.srv.URL), time.Second))
	_, err := get(context.Background(), "t1")
	if !errs.Is(err, errs.Internal) {
		t.Fatalf("every token refused: error = %v, want kind internal", err)
	}
	if n := p2.requests.Load(); n != 2 {
		t.Errorf("peer requests when every token is refused = %d, want 2", n)
	}
}

func TestMissingScope(t *testing.T) {
	f := newFixture(t, "other:read")
	p := newPeer(t, "a", f.iss)
	_, err := getThing(f.client(t, static(p.srv.URL), time.Second))(context.Background(), "t1")
	var e *errs.Error
	if !errors.As(err, &e) || e.Kind != errs.Internal || !strings.Contains(e.Message, "missing scope") {
		t.Fatalf("token without the scope: error = %v, want kind internal saying a scope is missing", err)
	}
	if logs := f.logs.String(); !strings.Contains(logs, `"level":"WARN"`) || !strings.Contains(logs, "requires scope things:read") {
		t.Errorf("the 403 was not logged with the peer's detail:\n%s", logs)
	}
	if n := f.tokens.Requests(); n != 1 {
		t.Errorf("token requests after a 403 = %d, want 1 (a 403 is not a bad token)", n)
	}
}

func TestCallerDeadline(t *testing.T) {
	f := newFixture(t, scope)
	p := newPeer(t, "a", f.iss)
	get := getThing(f.client(t, static(p.srv.URL), 5*time.Second))
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := get(ctx, "slow")
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("the call outlived its caller's 100 ms deadline by far: %v", elapsed)
	}
	if !errs.Is(err, errs.Unavailable) {
		t.Errorf("error = %v, want kind unavailable", err)
	}
}

func TestNewValidates(t *testing.T) {
	_, err := peers.New(peers.Config{})
	var e *errs.Error
	if !errors.As(err, &e) {
		t.Fatalf("New(zero Config) error = %v", err)
	}
	var fields []string
	for _, fe := range e.Fields {
		fields = append(fields, fe.Field)
	}
	if diff := cmp.Diff(fields, []string{"name", "peers"}); diff != "" {
		t.Errorf("invalid fields (-got +want):\n%s", diff)
	}
}

func ExampleClient_Endpoint() {
	peer := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprintf(w, `{"id": %q}`, strings.TrimPrefix(r.URL.Path, "/v1/things/"))
	}))
	defer peer.Close()
	c, _ := peers.New(peers.Config{Name: "things", Peers: discovery.NewStatic(map[string][]string{"csi-things": {peer.URL}})})
	get := c.Endpoint(
		func(ctx context.Context, base *url.URL, id any) (*http.Request, error) {
			return http.NewRequestWithContext(ctx, http.MethodGet, base.JoinPath("v1", "things", id.(string)).String(), nil)
		},
		func(ctx context.Context, resp *http.Response) (any, error) {
			var th thing
			return th, c.DecodeJSON(resp, &th)
		})
	th, err := get(context.Background(), "t1")
	fmt.Println(th.(thing).ID, err)
	// Output: t1 <nil>
}
