package auth

import (
	"context"
	"log/slog"
	"net/http"
	"slices"
	"strings"

	"github.com/go-kit/kit/endpoint"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/httpapi"
)

// OpenPaths are the paths every service serves without a token (DESIGN.md "Identity").
var OpenPaths = []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml", "/.well-known/jwks.json", "/v1/oauth/token"}

// Authenticate is the HTTP middleware that requires a valid bearer token on every request whose
// path is not open, before the body is read. The claims go into the request context.
func Authenticate(v *Verifier, log *slog.Logger, open ...string) httpapi.Middleware {
	if open == nil {
		open = OpenPaths
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if slices.Contains(open, r.URL.Path) {
				next.ServeHTTP(w, r)
				return
			}
			token, ok := BearerToken(r)
			if !ok {
				httpapi.WriteProblem(r.Context(), log, w, r, errs.E(errs.Unauthenticated, "a bearer access token is required"))
				return
			}
			c, err := v.Verify(r.Context(), token)
			if err != nil {
				httpapi.WriteProblem(r.Context(), log, w, r, err)
				return
			}
			next.ServeHTTP(w, r.WithContext(WithClaims(r.Context(), c)))
		})
	}
}

// BearerToken extracts the token of an "Authorization: Bearer" header.
func BearerToken(r *http.Request) (string, bool) {
	h := r.Header.Get("Authorization")
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

// Policy decides whether claims may call an endpoint.
type Policy func(Claims) bool

// AnyRole admits operators holding one of the roles.
func AnyRole(roles ...Role) Policy {
	return func(c Claims) bool { return c.Kind == KindOperator && slices.Contains(roles, c.Role) }
}

// Scope admits machine clients holding the scope.
func Scope(s string) Policy {
	return func(c Claims) bool { return c.Kind == KindClient && c.HasScope(s) }
}

// AnyOf admits claims that any policy admits.
func AnyOf(ps ...Policy) Policy {
	return func(c Claims) bool {
		for _, p := range ps {
			if p(c) {
				return true
			}
		}
		return false
	}
}

// Authenticated admits any authenticated caller.
func Authenticated() Policy { return func(Claims) bool { return true } }

// Require is the go-kit endpoint middleware that lets a call through only when the caller's
// claims satisfy the policy: 401 without claims, 403 when refused.
func Require(p Policy) endpoint.Middleware {
	return func(next endpoint.Endpoint) endpoint.Endpoint {
		return func(ctx context.Context, req any) (any, error) {
			c, err := Caller(ctx)
			if err != nil {
				return nil, err
			}
			if !p(c) {
				return nil, errs.E(errs.Forbidden, "your profile (%s) may not do this", c.Role)
			}
			return next(ctx, req)
		}
	}
}
