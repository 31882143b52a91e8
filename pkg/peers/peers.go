// Package peers calls another service of the suite over its HTTP API, as DESIGN.md says a
// consumer must: a go-kit HTTP client per operation, instances found through pkg/discovery
// (Consul or static URLs) and balanced round robin (go-kit sd/lb), a service token from
// identity (auth.ClientCredentials), one deadline for the whole call. A consumer's adapter
// (services/<name>/<peer>http) declares the operations it needs with Client.Endpoint and maps
// the answers to its own domain types; this package maps the failures to the error kinds every
// service answers with:
//
//   - no instance, connection refused, no answer before the deadline, 5xx, 408 or 429 from the
//     peer: errs.Unavailable with RetryAfter (the peer's Retry-After when it sent one), so the
//     caller's own answer is a 503 with Retry-After;
//   - 404 or 410: errs.NotFound;
//   - 401: the token is invalidated and the call made once more with a new one; a second 401
//     is errs.Internal;
//   - 403: errs.Internal (the service's machine client lacks a scope, or is bound to no ambito:
//     a deployment mistake), logged as a warning;
//   - any other 4xx: errs.Internal (a request the peer refuses is a bug of the caller).
//
// The cause of each error is a *Problem with the peer's answer, for the log. Adapters that want
// to pass some refusal through (a 409 of the peer as a Conflict) look for it with errors.As.
//
// A connection error (the instance refused the connection or could not be dialled, so the
// request was not sent) is retried on the next instance, up to Config.Attempts in all; nothing
// else is retried, so a POST is never sent twice. Redirects are not followed: a 3xx reaches
// the operation's decoder (registry answers 308 for a merged citizen).
package peers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/kit/endpoint"
	"github.com/go-kit/kit/sd/lb"
	httptransport "github.com/go-kit/kit/transport/http"

	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

const (
	// DefaultTimeout bounds a whole call when Config.Timeout is zero: the token, every attempt,
	// the retry after a 401.
	DefaultTimeout = 2 * time.Second
	// DefaultRetryAfter is told to the caller of an unavailable peer that did not say when to
	// come back.
	DefaultRetryAfter = 5 * time.Second
	// DefaultAttempts is how many instances a call tries on connection errors.
	DefaultAttempts = 3
	// maxBody bounds the answer body DecodeJSON reads.
	maxBody = 4 << 20
	// maxProblem bounds the problem body read for the log.
	maxProblem = 64 << 10
)

// Tokens is the source of the calling service's access token (an *auth.ClientCredentials).
type Tokens interface {
	Token(ctx context.Context) (string, error)
	// Invalidate forgets token if it is the current one: the peer refused it.
	Invalidate(token string)
}

// Config describes one peer service.
type Config struct {
	Name       string          // the peer's name in messages and logs: "registry"
	Service    string          // its name in discovery: "csi-registry"; default "csi-" + Name
	Peers      discovery.Peers // where its instances are
	Tokens     Tokens          // the caller's token source; nil sends no Authorization
	Timeout    time.Duration   // for a whole call; default DefaultTimeout
	Attempts   int             // instances tried on connection errors; default DefaultAttempts
	RetryAfter time.Duration   // default DefaultRetryAfter
	HTTP       *http.Client    // default: a client with pooled connections; redirects are never followed
	Log        *slog.Logger    // default: slog.Default()
}

// Client calls one peer service. It is safe for concurrent use.
type Client struct {
	cfg  Config
	http *http.Client
}

// New returns a client of the peer cfg describes.
func New(cfg Config) (*Client, error) {
	var f errs.Fields
	f.Check(strings.TrimSpace(cfg.Name) != "", "name", "is required")
	f.Check(cfg.Peers != nil, "peers", "is required")
	f.Check(cfg.Timeout >= 0, "timeout", "must not be negative")
	f.Check(cfg.Attempts >= 0, "attempts", "must not be negative")
	if err := f.Err(); err != nil {
		return nil, err
	}
	if cfg.Service == "" {
		cfg.Service = "csi-" + cfg.Name
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts == 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.RetryAfter <= 0 {
		cfg.RetryAfter = DefaultRetryAfter
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	var hc http.Client
	if cfg.HTTP != nil {
		hc = *cfg.HTTP
	} else {
		hc.Transport = NewTransport()
	}
	hc.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Client{cfg: cfg, http: &hc}, nil
}

// NewTransport returns the transport of the default HTTP client: http.DefaultTransport's
// settings with more idle connections per peer instance and a short dial timeout.
func NewTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.DialContext = (&net.Dialer{Timeout: time.Second, KeepAlive: 30 * time.Second}).DialContext
	t.MaxIdleConnsPerHost = 32
	return t
}

// Name returns the peer's name.
func (c *Client) Name() string { return c.cfg.Name }

// Timeout returns the bound of one call. An adapter that makes several calls for one answer
// (following a redirect) bounds them all with it.
func (c *Client) Timeout() time.Duration { return c.cfg.Timeout }

// EncodeFunc builds the request of one call to the instance at base (scheme and host, no
// path). The Authorization, X-Request-Id and (unless set) Accept headers are added after it.
type EncodeFunc func(ctx context.Context, base *url.URL, request any) (*http.Request, error)

// DecodeFunc decodes an answer whose status is below 400: 2xx and, as redirects are not
// followed, 3xx. Answers of 400 and above never reach it. Its errors are returned as they are.
type DecodeFunc func(ctx context.Context, resp *http.Response) (any, error)

// Endpoint returns the go-kit endpoint of one operation of the peer: enc builds the request for
// the instance chosen, dec reads the answer. Each call finds the peer's instances, takes the
// next one round robin and sends the request with the service's token, all within
// Config.Timeout; failures are mapped as the package documentation says.
func (c *Client) Endpoint(enc EncodeFunc, dec DecodeFunc) endpoint.Endpoint {
	ep := &endpointer{c: c, factory: func(base *url.URL) endpoint.Endpoint {
		return httptransport.NewExplicitClient(c.request(base, enc), c.decode(dec), httptransport.SetClient(c.http)).Endpoint()
	}}
	balanced := lb.RetryWithCallback(c.cfg.Timeout, lb.NewRoundRobin(ep), c.retryable)
	return func(ctx context.Context, request any) (any, error) {
		ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
		defer cancel()
		resp, err := balanced(ctx, request)
		if r, ok := errors.AsType[*rejected](final(err)); ok && c.cfg.Tokens != nil {
			c.cfg.Tokens.Invalidate(r.token)
			resp, err = balanced(ctx, request)
		}
		if err != nil {
			return nil, c.translate(ctx, err)
		}
		return resp, nil
	}
}

// request builds the CreateRequestFunc of the go-kit client of one instance.
func (c *Client) request(base *url.URL, enc EncodeFunc) httptransport.CreateRequestFunc {
	return func(ctx context.Context, request any) (*http.Request, error) {
		req, err := enc(ctx, base, request)
		if err != nil {
			return nil, err
		}
		if c.cfg.Tokens != nil {
			tok, err := c.cfg.Tokens.Token(ctx)
			if err != nil {
				return nil, err
			}
			req.Header.Set("Authorization", "Bearer "+tok)
		}
		if id := httpapi.RequestID(ctx); id != "" {
			req.Header.Set(httpapi.RequestIDHeader, id)
		}
		if req.Header.Get("Accept") == "" {
			req.Header.Set("Accept", "application/json, application/problem+json")
		}
		return req, nil
	}
}

// decode reads the statuses of 400 and above itself and hands the others to dec.
func (c *Client) decode(dec DecodeFunc) httptransport.DecodeResponseFunc {
	return func(ctx context.Context, resp *http.Response) (any, error) {
		if resp.StatusCode < 400 {
			return dec(ctx, resp)
		}
		p := c.problem(resp)
		switch s := resp.StatusCode; {
		case s == http.StatusUnauthorized:
			tok, _ := strings.CutPrefix(resp.Request.Header.Get("Authorization"), "Bearer ")
			return nil, &rejected{token: tok, problem: p}
		case s == http.StatusForbidden:
			c.cfg.Log.WarnContext(ctx, "a peer refused the service's client: a scope it lacks, or an ambito it is not bound to",
				"peer", c.cfg.Name, "method", p.Method, "path", p.Path, "detail", p.Detail, "peer_request_id", p.RequestID)
			return nil, errs.Wrap(errs.Internal, p, "the service's client is not allowed this call of the %s service (a missing scope?)", c.cfg.Name)
		case s == http.StatusNotFound || s == http.StatusGone:
			return nil, errs.Wrap(errs.NotFound, p, "not found in the %s service", c.cfg.Name)
		case s == http.StatusRequestTimeout || s == http.StatusTooManyRequests || s >= 500:
			return nil, &errs.Error{Kind: errs.Unavailable, Message: c.unavailable(),
				RetryAfter: retryAfter(resp.Header, c.cfg.RetryAfter), Err: p}
		}
		return nil, errs.Wrap(errs.Internal, p, "the %s service refused the request", c.cfg.Name)
	}
}

func (c *Client) unavailable() string {
	return fmt.Sprintf("the %s service is unavailable; retry later", c.cfg.Name)
}

// retryable is the retry callback: only a connection error is worth the next instance.
func (c *Client) retryable(n int, err error) (bool, error) {
	return n < c.cfg.Attempts && isConnError(err), nil
}

// isConnError reports whether err is a failure to connect: the request was not sent.
func isConnError(err error) bool {
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return false
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// translate maps what the balanced endpoint returned to the kinds of the package documentation.
func (c *Client) translate(ctx context.Context, err error) error {
	err = final(err)
	if r, ok := errors.AsType[*rejected](err); ok {
		return errs.Wrap(errs.Internal, r.problem, "the %s service refused the service's access token", c.cfg.Name)
	}
	if e, ok := errors.AsType[*errs.Error](err); ok {
		if e.Kind == errs.Unavailable && e.RetryAfter == 0 {
			cp := *e
			cp.RetryAfter = c.cfg.RetryAfter
			return &cp
		}
		return err
	}
	unavailable := func(msg string) error {
		return &errs.Error{Kind: errs.Unavailable, Message: msg, RetryAfter: c.cfg.RetryAfter, Err: err}
	}
	switch {
	case errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled):
		return unavailable(fmt.Sprintf("the %s service did not answer in time; retry later", c.cfg.Name))
	case errors.Is(err, lb.ErrNoEndpoints):
		return unavailable(c.unavailable())
	}
	var ue *url.Error
	if errors.As(err, &ue) {
		return unavailable(c.unavailable())
	}
	return errs.Wrap(errs.Internal, err, "call the %s service", c.cfg.Name)
}

// final unwraps go-kit's RetryError, which has no Unwrap.
func final(err error) error {
	if re, ok := errors.AsType[lb.RetryError](err); ok {
		return re.Final
	}
	return err
}

// rejected is a 401 of the peer: the token it refused.
type rejected struct {
	token   string
	problem *Problem
}

func (r *rejected) Error() string { return r.problem.Error() }

// Problem is a peer's answer of status 400 or above: the cause of the error a call returns.
type Problem struct {
	Peer      string
	Method    string
	Path      string
	Status    int
	Type      string
	Detail    string
	RequestID string            // the peer's request id, to find its log lines
	Fields    []errs.FieldError // the invalid fields it named
}

func (p *Problem) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s: %d", p.Peer, p.Method, p.Path, p.Status)
	if p.Type != "" {
		b.WriteString(" " + p.Type)
	}
	if p.Detail != "" {
		b.WriteString(": " + p.Detail)
	}
	for _, f := range p.Fields {
		fmt.Fprintf(&b, "; %s: %s", f.Field, f.Message)
	}
	if p.RequestID != "" {
		b.WriteString(" (request " + p.RequestID + ")")
	}
	return b.String()
}

func (c *Client) problem(resp *http.Response) *Problem {
	p := &Problem{Peer: c.cfg.Name, Status: resp.StatusCode, RequestID: resp.Header.Get(httpapi.RequestIDHeader)}
	if resp.Request != nil {
		p.Method, p.Path = resp.Request.Method, resp.Request.URL.Path
	}
	var body struct {
		Type      string            `json:"type"`
		Detail    string            `json:"detail"`
		RequestID string            `json:"request_id"`
		Errors    []errs.FieldError `json:"errors"`
	}
	if isJSON(resp.Header.Get("Content-Type")) {
		if json.NewDecoder(io.LimitReader(resp.Body, maxProblem)).Decode(&body) == nil {
			p.Type, p.Detail, p.Fields = body.Type, body.Detail, body.Errors
			if p.RequestID == "" {
				p.RequestID = body.RequestID
			}
		}
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxProblem)) // keep the connection
	return p
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	return err == nil && (mt == "application/json" || strings.HasSuffix(mt, "+json"))
}

// retryAfter reads a Retry-After of delay seconds (at most an hour), or returns def.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 && n <= 3600 {
		return time.Duration(n) * time.Second
	}
	return def
}

// DecodeJSON reads a JSON answer into v. An answer that is not JSON, or not valid, is an
// errs.Internal error (the peer broke its contract).
func (c *Client) DecodeJSON(resp *http.Response, v any) error {
	if !isJSON(resp.Header.Get("Content-Type")) {
		return errs.E(errs.Internal, "the %s service answered %d with content type %q, not JSON", c.cfg.Name,
			resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, maxBody)).Decode(v); err != nil {
		return errs.Wrap(errs.Internal, err, "the %s service answered %d with a body that cannot be read", c.cfg.Name, resp.StatusCode)
	}
	return nil
}

// endpointer is the go-kit sd.Endpointer of one operation over discovery.Peers: the current
// instances, each with its go-kit client, made once per base URL.
type endpointer struct {
	c       *Client
	factory func(base *url.URL) endpoint.Endpoint

	mu    sync.Mutex
	cache map[string]endpoint.Endpoint
}

// Endpoints implements sd.Endpointer. Its lookup has no caller context (go-kit's interface has
// none): Static answers at once, Consul from its watch, except for the first lookup of a
// service, which waits for Consul at most Config.Timeout; the call's own deadline applies
// around it all the same.
func (e *endpointer) Endpoints() ([]endpoint.Endpoint, error) {
	ctx, cancel := context.WithTimeout(context.Background(), e.c.cfg.Timeout)
	defer cancel()
	urls, err := e.c.cfg.Peers.Endpoints(ctx, e.c.cfg.Service)
	if err != nil {
		return nil, err
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	next := make(map[string]endpoint.Endpoint, len(urls))
	eps := make([]endpoint.Endpoint, 0, len(urls))
	for _, u := range urls {
		ep, ok := e.cache[u]
		if !ok {
			base, err := url.Parse(u)
			if err != nil || base.Scheme == "" || base.Host == "" {
				return nil, errs.E(errs.Internal, "peer %s has an instance with a bad URL %q", e.c.cfg.Name, u)
			}
			ep = e.factory(base)
		}
		next[u] = ep
		eps = append(eps, ep)
	}
	e.cache = next
	return eps, nil
}
