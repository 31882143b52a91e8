package client

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"time"
)

// TokenPath is the path of the identity service's token endpoint.
const TokenPath = "/v1/oauth/token"

// The scopes a cooperative's client may hold.
const (
	ScopeAuthorizationsRead = "authorizations:read"
	ScopeVisitsRead         = "visits:read"
	ScopeVisitsWrite        = "visits:write"
	ScopeStatementsRead     = "statements:read"
	ScopeStatementsWrite    = "statements:write"
)

// Config says where the services are and who the client is. IdentityURL, BaseURL, ClientID
// and ClientSecret are required; the rest have defaults.
type Config struct {
	// IdentityURL is the identity service's base URL (the token endpoint is TokenPath on it),
	// e.g. https://identity.example.it.
	IdentityURL string
	// BaseURL is the interventions service's base URL, e.g. https://interventions.example.it.
	BaseURL string
	// ClientID and ClientSecret are the machine client's credentials, given by the ambito's
	// administrator.
	ClientID, ClientSecret string
	// Scopes, when given, narrow the token to these of the client's scopes.
	Scopes []string
	// HTTPClient makes the requests (default: one with a 60-second timeout).
	HTTPClient *http.Client
	// MaxAttempts is how many times a request is sent at most, the first included (default 6;
	// 1: never retry).
	MaxAttempts int
	// MinBackoff and MaxBackoff bound the wait between attempts (default 250 ms and 20 s): the
	// n-th retry waits a random time between half and all of MinBackoff·2ⁿ⁻¹ (at most
	// MaxBackoff), or what the service's Retry-After says when that is longer.
	MinBackoff, MaxBackoff time.Duration
	// UserAgent names the cooperative's system in the service's logs.
	UserAgent string
}

// Client calls the interventions service as a cooperative's machine client. It is safe for
// concurrent use.
type Client struct {
	cfg   Config
	base  string
	http  *http.Client
	token tokenCache
}

// New checks cfg and returns a client. It makes no request: the first call gets the token.
func New(cfg Config) (*Client, error) {
	for name, u := range map[string]string{"IdentityURL": cfg.IdentityURL, "BaseURL": cfg.BaseURL} {
		p, err := url.Parse(u)
		if err != nil || (p.Scheme != "http" && p.Scheme != "https") || p.Host == "" {
			return nil, fmt.Errorf("client: %s %q is not an http(s) URL", name, u)
		}
	}
	if cfg.ClientID == "" || cfg.ClientSecret == "" {
		return nil, errors.New("client: ClientID and ClientSecret are required")
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 60 * time.Second}
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 6
	}
	if cfg.MinBackoff <= 0 {
		cfg.MinBackoff = 250 * time.Millisecond
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 20 * time.Second
	}
	if cfg.MaxBackoff < cfg.MinBackoff {
		cfg.MaxBackoff = cfg.MinBackoff
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "csi-interventions-client-go"
	}
	c := &Client{cfg: cfg, base: strings.TrimRight(cfg.BaseURL, "/"), http: cfg.HTTPClient}
	c.token.now = time.Now
	return c, nil
}

// ---- options of a call ----

// Option changes one call.
type Option func(*callOptions)

type callOptions struct {
	key     string
	ifMatch string
}

// IdempotencyKey sets the Idempotency-Key of a call that changes something, instead of a new
// random one: a process that sends the same request again after a crash, with the same key,
// stores nothing twice and gets the first answer. For PostVisits it is the batch's key: the
// n-th call of the batch (n from 0) carries key/n when the batch needs more than one call, key
// itself otherwise. A key is 1 to 200 printable ASCII characters without spaces.
func IdempotencyKey(key string) Option { return func(o *callOptions) { o.key = key } }

// IfMatch makes a change conditional on the entity tag (e.g. Statement.ETag): if the resource
// changed since, the call fails with ErrPreconditionFailed.
func IfMatch(etag string) Option { return func(o *callOptions) { o.ifMatch = etag } }

func optionsOf(opts []Option) callOptions {
	var o callOptions
	for _, f := range opts {
		f(&o)
	}
	return o
}

// NewIdempotencyKey returns a new random key (128 bits, hex), the kind the client makes for
// each call.
func NewIdempotencyKey() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func validKey(k string) error {
	if len(k) < 1 || len(k) > 200 {
		return fmt.Errorf("client: the idempotency key must have 1 to 200 characters")
	}
	for i := 0; i < len(k); i++ {
		if k[i] < 0x21 || k[i] > 0x7e {
			return fmt.Errorf("client: the idempotency key must be printable ASCII without spaces")
		}
	}
	return nil
}

// ---- the token ----

// tokenCache holds the access token and when to get a new one.
type tokenCache struct {
	mu      sync.Mutex
	value   string
	renewAt time.Time
	claims  tokenClaims
	now     func() time.Time
}

type tokenClaims struct {
	Subject string `json:"sub"`
	OrgID   string `json:"org"`
	OrgKind string `json:"org_kind"`
}

// Token returns the access token, getting a new one from the token endpoint when none is
// held or the one held is about to expire (within a fifth of its lifetime, at most a minute).
func (c *Client) Token(ctx context.Context) (string, error) {
	c.token.mu.Lock()
	defer c.token.mu.Unlock()
	if c.token.value != "" && c.token.now().Before(c.token.renewAt) {
		return c.token.value, nil
	}
	return c.fetchToken(ctx)
}

// invalidate forgets the token if it is still bad (a 401 answered it): the next call gets a
// new one.
func (c *Client) invalidate(bad string) {
	c.token.mu.Lock()
	defer c.token.mu.Unlock()
	if c.token.value == bad {
		c.token.value = ""
	}
}

// fetchToken asks the token endpoint (client credentials, HTTP Basic). The caller holds
// c.token.mu.
func (c *Client) fetchToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"client_credentials"}}
	if len(c.cfg.Scopes) > 0 {
		form.Set("scope", strings.Join(c.cfg.Scopes, " "))
	}
	body := []byte(form.Encode())
	req := request{method: http.MethodPost, url: strings.TrimRight(c.cfg.IdentityURL, "/") + TokenPath, body: body,
		contentType: "application/x-www-form-urlencoded", noToken: true}
	var tr struct {
		AccessToken string `json:"access_token"`
		TokenType   string `json:"token_type"`
		ExpiresIn   int    `json:"expires_in"`
	}
	if err := c.send(ctx, req, &tr); err != nil {
		return "", fmt.Errorf("client: get a token from identity: %w", err)
	}
	if tr.AccessToken == "" || tr.ExpiresIn <= 0 {
		return "", errors.New("client: the token endpoint answered no access token")
	}
	now := c.token.now()
	life := time.Duration(tr.ExpiresIn) * time.Second
	c.token.value, c.token.renewAt = tr.AccessToken, now.Add(life-min(life/5, time.Minute))
	c.token.claims = claimsOf(tr.AccessToken)
	return tr.AccessToken, nil
}

// claimsOf reads the claims of a token the token endpoint just gave (not verified: the
// services verify it; the client only reads who it is).
func claimsOf(token string) tokenClaims {
	var cl tokenClaims
	parts := strings.Split(token, ".")
	if len(parts) == 3 {
		if b, err := base64.RawURLEncoding.DecodeString(parts[1]); err == nil {
			_ = json.Unmarshal(b, &cl)
		}
	}
	return cl
}

// CooperativeID returns the id of the client's cooperative, as its token says (getting one if
// needed); "" for a client of no organization.
func (c *Client) CooperativeID(ctx context.Context) (string, error) {
	if _, err := c.Token(ctx); err != nil {
		return "", err
	}
	c.token.mu.Lock()
	defer c.token.mu.Unlock()
	return c.token.claims.OrgID, nil
}

// ---- requests ----

// request is one HTTP call, sent again unchanged on each retry.
type request struct {
	method, url string
	body        []byte // nil: none
	contentType string
	key         string // Idempotency-Key
	ifMatch     string
	accept      string
	noToken     bool // the token endpoint: HTTP Basic instead of a bearer token
}

// do sends a JSON request to the interventions service and decodes the answer into out
// (when not nil). It returns the answer's headers.
func (c *Client) do(ctx context.Context, method, path string, in any, out any, o callOptions) (http.Header, error) {
	req := request{method: method, url: c.base + path, key: o.key, ifMatch: o.ifMatch}
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return nil, fmt.Errorf("client: encode the request: %w", err)
		}
		req.body, req.contentType = b, "application/json"
	}
	if method == http.MethodPost && req.key == "" {
		req.key = NewIdempotencyKey()
	}
	var h http.Header
	err := c.sendWith(ctx, req, func(resp *http.Response) error {
		h = resp.Header
		if out == nil {
			return nil
		}
		return json.NewDecoder(resp.Body).Decode(out)
	})
	return h, err
}

// send sends req and decodes a successful JSON answer into out.
func (c *Client) send(ctx context.Context, req request, out any) error {
	return c.sendWith(ctx, req, func(resp *http.Response) error {
		if out == nil {
			return nil
		}
		return json.NewDecoder(resp.Body).Decode(out)
	})
}

// sendWith sends req, retrying as the package documentation says, and hands a successful
// answer to read. An answer lost while being read is retried like a network failure.
func (c *Client) sendWith(ctx context.Context, req request, read func(*http.Response) error) error {
	refreshed := false
	var last error
	for attempt := 1; ; attempt++ {
		resp, token, err := c.attempt(ctx, req)
		var wait time.Duration
		switch {
		case err != nil:
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var te tokenError
			if errors.As(err, &te) { // retried already
				return te.err
			}
			last = fmt.Errorf("client: %s %s: %w", req.method, redact(req.url), err)
		case resp.StatusCode/100 == 2:
			err := read(resp)
			resp.Body.Close()
			if err == nil {
				return nil
			}
			if ctx.Err() != nil {
				return ctx.Err()
			}
			var pe permanent
			if errors.As(err, &pe) {
				return fmt.Errorf("client: %s %s: read the answer: %w", req.method, redact(req.url), pe.err)
			}
			last = fmt.Errorf("client: %s %s: read the answer: %w", req.method, redact(req.url), err)
		default:
			body, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if rerr != nil && ctx.Err() != nil {
				return ctx.Err()
			}
			p := problemOf(resp, body)
			if resp.StatusCode == http.StatusUnauthorized && !req.noToken && !refreshed {
				// The token expired or its key rotated: a new one, once.
				refreshed = true
				c.invalidate(token)
				attempt--
				continue
			}
			if !retryable(resp.StatusCode, resp.Header) {
				return p
			}
			last, wait = p, p.RetryAfter
		}
		if attempt >= c.cfg.MaxAttempts {
			return last
		}
		wait = max(wait, c.backoff(attempt))
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// attempt sends req once; it returns the token it carried.
func (c *Client) attempt(ctx context.Context, req request) (*http.Response, string, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	r, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return nil, "", err
	}
	r.Header.Set("User-Agent", c.cfg.UserAgent)
	r.Header.Set("Accept", "application/json, application/problem+json")
	if req.accept != "" {
		r.Header.Set("Accept", req.accept)
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	if req.key != "" {
		r.Header.Set("Idempotency-Key", req.key)
	}
	if req.ifMatch != "" {
		r.Header.Set("If-Match", req.ifMatch)
	}
	var token string
	if req.noToken {
		r.SetBasicAuth(url.QueryEscape(c.cfg.ClientID), url.QueryEscape(c.cfg.ClientSecret))
	} else {
		if token, err = c.Token(ctx); err != nil {
			return nil, "", tokenError{err}
		}
		r.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := c.http.Do(r)
	return resp, token, err
}

// permanent is a failure to read an answer that must not be retried.
type permanent struct{ err error }

func (e permanent) Error() string { return e.err.Error() }

// tokenError is a failure to get a token, retried already by the token request itself.
type tokenError struct{ err error }

func (e tokenError) Error() string { return e.err.Error() }
func (e tokenError) Unwrap() error { return e.err }

// retryable tells the answers worth sending again: the service or a proxy could not answer
// this time, or the first request with the same key is still running (409 with Retry-After).
func retryable(status int, h http.Header) bool {
	switch status {
	case http.StatusRequestTimeout, http.StatusTooManyRequests, http.StatusBadGateway, http.StatusServiceUnavailable,
		http.StatusGatewayTimeout:
		return true
	case http.StatusConflict:
		return h.Get("Retry-After") != ""
	}
	return false
}

// backoff is the wait before retry n (n ≥ 1): a random time between half and all of
// MinBackoff·2ⁿ⁻¹, at most MaxBackoff (jitter, so that many clients failing together do not
// come back together).
func (c *Client) backoff(n int) time.Duration {
	ceil := c.cfg.MinBackoff
	for i := 1; i < n && ceil < c.cfg.MaxBackoff; i++ {
		ceil *= 2
	}
	ceil = min(ceil, c.cfg.MaxBackoff)
	return ceil/2 + time.Duration(mrand.Int64N(int64(ceil/2)+1))
}

// retryAfter reads a Retry-After header: seconds or an HTTP date.
func retryAfter(v string, now time.Time) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil && n >= 0 {
		return time.Duration(min(n, 3600)) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(0, min(t.Sub(now), time.Hour)), true
	}
	return 0, false
}

// redact drops the query of a URL for error messages (it may carry ids; never secrets).
func redact(u string) string {
	if i := strings.IndexByte(u, '?'); i >= 0 {
		return u[:i]
	}
	return u
}
