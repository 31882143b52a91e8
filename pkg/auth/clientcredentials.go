package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/sync/singleflight"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// TokenPath is the path of identity's OAuth2 token endpoint.
const TokenPath = "/v1/oauth/token"

const (
	// DefaultTokenFetchTimeout bounds one request to the token endpoint when
	// ClientCredentials.FetchTimeout is zero.
	DefaultTokenFetchTimeout = 5 * time.Second
	// DefaultTokenRetryAfter is the Retry-After of the errs.Unavailable errors of
	// ClientCredentials.Token when identity does not say one.
	DefaultTokenRetryAfter = 5 * time.Second
	// defaultTokenLifetime is how long a token is kept when identity's answer has no expires_in.
	defaultTokenLifetime = time.Minute
	// maxRefreshMargin is how long before expiry a token is replaced, at most: a quarter of its
	// lifetime for short ones.
	maxRefreshMargin = time.Minute
)

// ClientCredentials is the access token source of a service calling its peers: it gets tokens
// from identity's token endpoint with the OAuth2 client credentials grant (RFC 6749 section
// 4.4, through golang.org/x/oauth2/clientcredentials: a form-encoded POST with
// grant_type=client_credentials, the client's id and secret in HTTP Basic, form-url-encoded as
// identity expects) and keeps each one until shortly before it expires (expires_in, less a
// quarter of the lifetime, at most a minute). Concurrent callers share one request to identity;
// a caller waits for it within its own context, the request itself is bounded by FetchTimeout
// so that one impatient caller does not spoil it for the others. When a refresh fails while
// the current token has not expired yet, Token keeps answering with it.
//
// Use it through a pointer and do not copy it after first use. The secret is never logged:
// String and LogValue mask it, and no error of Token contains it.
type ClientCredentials struct {
	TokenURL     string       // identity's base URL + TokenPath
	ClientID     string       // the machine client's id (a UUID)
	ClientSecret string       // its secret
	Scopes       []string     // asked for; none means all of the client's
	HTTP         *http.Client // for the token requests; nil means a client that does not follow redirects
	FetchTimeout time.Duration

	now   func() time.Time // for tests; nil means time.Now
	once  sync.Once
	conf  *clientcredentials.Config
	http  *http.Client
	group singleflight.Group

	mu        sync.Mutex
	token     string
	refreshAt time.Time // after this, Token asks for a new one
	expiresAt time.Time // after this, the token is not used at all
}

// Token returns a valid access token, from the cache or from identity. Errors are of kind
// errs.Unavailable (with RetryAfter) when identity cannot be reached, answers 429 or 5xx, or
// does not answer before ctx is done, and errs.Internal when identity refuses the client
// (wrong id or secret, a scope the client does not hold): a misconfiguration of the service.
func (c *ClientCredentials) Token(ctx context.Context) (string, error) {
	c.once.Do(c.init)
	now := c.clock()
	c.mu.Lock()
	tok, fresh, usable := c.token, now.Before(c.refreshAt), now.Before(c.expiresAt)
	c.mu.Unlock()
	if tok != "" && fresh {
		return tok, nil
	}
	ch := c.group.DoChan("token", func() (any, error) { return c.fetch() })
	select {
	case r := <-ch:
		if r.Err != nil {
			if tok != "" && usable && errs.Is(r.Err, errs.Unavailable) {
				return tok, nil // identity is down for now; the token still works
			}
			return "", r.Err
		}
		return r.Val.(string), nil
	case <-ctx.Done():
		if tok != "" && usable {
			return tok, nil
		}
		return "", &errs.Error{Kind: errs.Unavailable, Message: "no access token from the identity service in time",
			RetryAfter: DefaultTokenRetryAfter, Err: ctx.Err()}
	}
}

// Invalidate forgets token if it is the cached one, so that the next call of Token asks
// identity for a new one. A caller whose peer answered 401 to token calls it, then retries
// once. Invalidating a token that was already replaced does nothing, so callers that got 401s
// at the same time cause one refresh, not many.
func (c *ClientCredentials) Invalidate(token string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if token != "" && token == c.token {
		c.token, c.refreshAt, c.expiresAt = "", time.Time{}, time.Time{}
	}
}

// String describes the source without its secret.
func (c *ClientCredentials) String() string {
	return fmt.Sprintf("client credentials of %s at %s (scopes %q, secret %s)", c.ClientID, c.TokenURL, c.Scopes, mask(c.ClientSecret))
}

// LogValue describes the source for log/slog without its secret.
func (c *ClientCredentials) LogValue() slog.Value {
	return slog.GroupValue(slog.String("token_url", c.TokenURL), slog.String("client_id", c.ClientID),
		slog.String("scopes", strings.Join(c.Scopes, " ")), slog.String("client_secret", mask(c.ClientSecret)))
}

func mask(secret string) string {
	if secret == "" {
		return "(none)"
	}
	return "*****"
}

func (c *ClientCredentials) init() {
	c.conf = &clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: c.TokenURL,
		Scopes: c.Scopes, AuthStyle: oauth2.AuthStyleInHeader}
	c.http = c.HTTP
	if c.http == nil {
		c.http = &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	}
}

func (c *ClientCredentials) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// fetch asks identity for a token and caches it.
func (c *ClientCredentials) fetch() (string, error) {
	timeout := c.FetchTimeout
	if timeout <= 0 {
		timeout = DefaultTokenFetchTimeout
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	ctx = context.WithValue(ctx, oauth2.HTTPClient, c.http)
	start := c.clock()
	t, err := c.conf.Token(ctx)
	if err != nil {
		return "", translateTokenErr(err)
	}
	if !strings.EqualFold(t.TokenType, "bearer") {
		return "", errs.E(errs.Internal, "the identity service answered with a token of type %q, not Bearer", t.TokenType)
	}
	// clientcredentials gives the expiry (now + expires_in at the answer), not expires_in.
	lifetime := defaultTokenLifetime
	if !t.Expiry.IsZero() {
		lifetime = time.Until(t.Expiry).Round(time.Second)
	}
	margin := min(lifetime/4, maxRefreshMargin)
	c.mu.Lock()
	c.token, c.refreshAt, c.expiresAt = t.AccessToken, start.Add(lifetime-margin), start.Add(lifetime)
	c.mu.Unlock()
	return t.AccessToken, nil
}

// translateTokenErr gives a failed token request its kind. The cause never holds the secret:
// oauth2's errors name the URL, the status and identity's answer.
func translateTokenErr(err error) error {
	var re *oauth2.RetrieveError
	if !errors.As(err, &re) {
		if errors.Is(err, context.DeadlineExceeded) || isNetError(err) {
			return &errs.Error{Kind: errs.Unavailable, Message: "the identity service is unavailable",
				RetryAfter: DefaultTokenRetryAfter, Err: err}
		}
		return errs.Wrap(errs.Internal, err, "get an access token from the identity service")
	}
	status := 0
	var header http.Header
	if re.Response != nil {
		status, header = re.Response.StatusCode, re.Response.Header
	}
	cause := &TokenError{Status: status, Code: re.ErrorCode, Detail: problemDetail(re.Body)}
	switch {
	case status == http.StatusTooManyRequests || status >= 500:
		return &errs.Error{Kind: errs.Unavailable, Message: "the identity service is unavailable",
			RetryAfter: retryAfter(header, DefaultTokenRetryAfter), Err: cause}
	case re.ErrorCode == "invalid_client":
		return errs.Wrap(errs.Internal, cause, "the identity service refused the service's client credentials")
	case re.ErrorCode == "invalid_scope":
		return errs.Wrap(errs.Internal, cause, "the service's client does not hold the scopes it asks for")
	}
	return errs.Wrap(errs.Internal, cause, "the identity service refused the token request")
}

// TokenError is identity's refusal of a token request: the cause of the error of Token.
type TokenError struct {
	Status int    // the HTTP status
	Code   string // the RFC 6749 error code (invalid_client, invalid_scope, ...)
	Detail string // the problem's detail
}

func (e *TokenError) Error() string {
	s := fmt.Sprintf("token endpoint answered %d", e.Status)
	if e.Code != "" {
		s += " " + e.Code
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

func problemDetail(body []byte) string {
	var p struct {
		Detail string `json:"detail"`
	}
	_ = json.Unmarshal(body, &p)
	return p.Detail
}

// retryAfter reads a Retry-After header of delay seconds, or returns def.
func retryAfter(h http.Header, def time.Duration) time.Duration {
	if n, err := strconv.Atoi(strings.TrimSpace(h.Get("Retry-After"))); err == nil && n > 0 && n <= 3600 {
		return time.Duration(n) * time.Second
	}
	return def
}

func isNetError(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne)
}
