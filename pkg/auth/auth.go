// Package auth is the suite's token plumbing: the claims an access token carries, EdDSA signing
// (used by the identity service and by tests), local verification against a cached JWKS (no
// call to identity per request), the HTTP middleware that authenticates every request but the
// open ones, and go-kit endpoint middleware for role and scope checks.
package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/go-jose/go-jose/v4/jwt"
	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Audience is the audience of every access token of the suite.
const Audience = "csi"

// Role is what an operator may do, always held in an organization (DOMAIN.md).
type Role string

// The roles of DOMAIN.md, and the one of machine clients.
const (
	RoleAmbitoAdmin     Role = "ambito_admin"
	RoleServiceManager  Role = "service_manager"
	RoleSocialWorker    Role = "social_worker"
	RoleAdministrative  Role = "administrative"
	RolePlanningOffice  Role = "planning_office"
	RoleCoopCoordinator Role = "coop_coordinator"
	RoleEducator        Role = "educator"
	RoleASA             Role = "asa"
	RoleOSS             Role = "oss"
	RoleATSMonitor      Role = "ats_monitor"
	RoleRegionMonitor   Role = "region_monitor"
	RolePrivacyOfficer  Role = "privacy_officer"
	// RoleClient is held by machine clients (a cooperative's system, another service); what
	// they may do is given by their scopes.
	RoleClient Role = "client"
)

// Roles lists every operator role, in a stable order.
var Roles = []Role{RoleAmbitoAdmin, RoleServiceManager, RoleSocialWorker, RoleAdministrative,
	RolePlanningOffice, RoleCoopCoordinator, RoleEducator, RoleASA, RoleOSS, RoleATSMonitor,
	RoleRegionMonitor, RolePrivacyOfficer}

// Valid reports whether r is a known role.
func (r Role) Valid() bool { return slices.Contains(Roles, r) || r == RoleClient }

// Subject kinds.
const (
	KindOperator = "operator"
	KindClient   = "client"
)

// Claims is what an access token says of its bearer: who, acting in which profile (role in an
// organization of an ambito), with which scopes.
type Claims struct {
	Subject   string    `json:"sub"`
	Kind      string    `json:"kind"` // KindOperator or KindClient
	Name      string    `json:"name,omitempty"`
	AmbitoID  string    `json:"ambito,omitempty"` // empty for suite-wide service clients
	OrgID     string    `json:"org,omitempty"`
	OrgKind   string    `json:"org_kind,omitempty"`
	ISTATCode string    `json:"istat,omitempty"` // the comune's ISTAT code, when the organization is a comune
	Role      Role      `json:"role"`
	ProfileID string    `json:"profile,omitempty"`
	Scopes    []string  `json:"-"`
	TokenID   string    `json:"-"`
	IssuedAt  time.Time `json:"-"`
	ExpiresAt time.Time `json:"-"`
}

// HasScope reports whether the claims include scope s.
func (c Claims) HasScope(s string) bool { return slices.Contains(c.Scopes, s) }

// IsOperator reports whether the bearer is a person.
func (c Claims) IsOperator() bool { return c.Kind == KindOperator }

// private is the JSON form of the non-registered claims.
type private struct {
	Kind      string `json:"kind"`
	Name      string `json:"name,omitempty"`
	AmbitoID  string `json:"ambito,omitempty"`
	OrgID     string `json:"org,omitempty"`
	OrgKind   string `json:"org_kind,omitempty"`
	ISTATCode string `json:"istat,omitempty"`
	Role      Role   `json:"role"`
	ProfileID string `json:"profile,omitempty"`
	Scope     string `json:"scope,omitempty"` // space-delimited, RFC 8693
}

// Sign returns a compact EdDSA JWT for c, valid for ttl, with kid in its header: issued at now,
// valid from 5 s before now (a verifier whose clock is a little behind accepts it at once).
func Sign(key ed25519.PrivateKey, kid, issuer string, c Claims, ttl time.Duration, now time.Time) (string, error) {
	return SignTimes(key, kid, issuer, c, TokenTimes{IssuedAt: now, NotBefore: now.Add(-5 * time.Second), Expiry: now.Add(ttl)})
}

// TokenTimes are the time claims of a token: iat, nbf and exp.
type TokenTimes struct {
	IssuedAt, NotBefore, Expiry time.Time
}

// SignTimes is Sign with each time claim given (tests of the clock edges use it).
func SignTimes(key ed25519.PrivateKey, kid, issuer string, c Claims, tt TokenTimes) (string, error) {
	signer, err := jose.NewSigner(jose.SigningKey{Algorithm: jose.EdDSA, Key: key},
		(&jose.SignerOptions{}).WithType("at+jwt").WithHeader("kid", kid))
	if err != nil {
		return "", fmt.Errorf("new signer: %w", err)
	}
	std := jwt.Claims{
		Issuer:    issuer,
		Subject:   c.Subject,
		Audience:  jwt.Audience{Audience},
		IssuedAt:  jwt.NewNumericDate(tt.IssuedAt),
		NotBefore: jwt.NewNumericDate(tt.NotBefore),
		Expiry:    jwt.NewNumericDate(tt.Expiry),
		ID:        c.TokenID,
	}
	p := private{Kind: c.Kind, Name: c.Name, AmbitoID: c.AmbitoID, OrgID: c.OrgID, OrgKind: c.OrgKind,
		ISTATCode: c.ISTATCode, Role: c.Role, ProfileID: c.ProfileID, Scope: strings.Join(c.Scopes, " ")}
	return jwt.Signed(signer).Claims(std).Claims(p).Serialize()
}

// KeySet finds the public key for a key id.
type KeySet interface {
	PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error)
}

// DefaultLeeway is the clock skew a verifier tolerates by default: a token is accepted up to
// this long after its expiry and this long before its nbf or iat. Services set it from
// CSI_AUTH_CLOCK_LEEWAY (pkg/app), at most MaxLeeway.
const DefaultLeeway = 5 * time.Second

// MaxLeeway is the largest clock leeway a service accepts in its configuration.
const MaxLeeway = time.Minute

// Verifier checks access tokens locally.
type Verifier struct {
	Keys   KeySet
	Issuer string
	Leeway time.Duration // tolerated clock skew on exp, nbf and iat
	Now    func() time.Time
	// Cache, when not nil, remembers verified tokens so that a token presented again skips
	// parsing and the signature check; every other check is made again on each hit (see
	// Verify). NewVerifier sets one of DefaultCacheSize tokens.
	Cache *TokenCache
}

// NewVerifier returns a verifier of tokens from issuer, with DefaultLeeway and a token cache of
// DefaultCacheSize.
func NewVerifier(keys KeySet, issuer string) *Verifier {
	return &Verifier{Keys: keys, Issuer: issuer, Leeway: DefaultLeeway, Now: time.Now, Cache: NewTokenCache(DefaultCacheSize)}
}

var (
	errBadToken     = errs.E(errs.Unauthenticated, "the access token is not valid")
	errExpiredToken = errs.E(errs.Unauthenticated, "the access token has expired")
)

// Verify parses and checks a compact token: algorithm EdDSA only, known kid, signature, issuer,
// audience, expiry, not-before and issued-at (not in the future), each with v.Leeway of clock
// skew. Every failure is Unauthenticated; an unreachable key source with no cached key is
// Unavailable.
//
// With v.Cache, a token verified before (the same bytes: the cache is keyed by their SHA-256) is
// not parsed nor its signature checked again, but its expiry, not-before and issued-at are
// checked again against v.Now with v.Leeway, its issuer against v.Issuer, and its kid against
// v.Keys, which must still return the key the signature was checked with: a token is never
// accepted past its exp, nor once the key set has dropped (or replaced) its key, whatever the
// cache holds. Only tokens that passed every check are cached. The claims returned share their
// Scopes with the cache: callers must not modify them.
func (v *Verifier) Verify(ctx context.Context, token string) (Claims, error) {
	if v.Cache == nil {
		c, _, err := v.verify(ctx, token, v.Now())
		return c, err
	}
	k := tokenKey(token)
	if e, ok := v.Cache.get(&k); ok {
		c, final, err := v.recheck(ctx, e)
		if final {
			if err != nil && errs.KindOf(err) != errs.Unavailable {
				v.Cache.drop(&k)
			}
			return c, err
		}
		v.Cache.drop(&k) // something changed under the entry: verify the token afresh
	}
	now := v.Now()
	c, e, err := v.verify(ctx, token, now)
	if err != nil {
		return Claims{}, err
	}
	v.Cache.put(&k, e, now, v.Leeway)
	return c, nil
}

// recheck makes again, on a cached token, every check that does not need the token itself. When
// final is false the entry no longer matches the verifier (another issuer, another key under the
// kid) and the token must be verified afresh.
func (v *Verifier) recheck(ctx context.Context, e *cachedToken) (c Claims, final bool, err error) {
	if e.issuer != v.Issuer {
		return Claims{}, false, nil
	}
	key, err := v.Keys.PublicKey(ctx, e.kid)
	if err != nil {
		if errs.KindOf(err) == errs.Unavailable {
			return Claims{}, true, err
		}
		return Claims{}, true, errBadToken
	}
	if !key.Equal(e.key) {
		return Claims{}, false, nil
	}
	// The same comparisons as jwt.Claims.ValidateWithLeeway.
	now, leeway := v.Now(), v.Leeway
	switch {
	case !e.notBefore.IsZero() && now.Add(leeway).Before(e.notBefore):
		return Claims{}, true, errBadToken
	case now.Add(-leeway).After(e.expiry):
		return Claims{}, true, errExpiredToken
	case !e.issuedAt.IsZero() && now.Add(leeway).Before(e.issuedAt):
		return Claims{}, true, errBadToken
	}
	return e.claims, true, nil
}

// verify is the full verification of a token at now, returning its claims and their cache
// entry.
func (v *Verifier) verify(ctx context.Context, token string, now time.Time) (Claims, *cachedToken, error) {
	tok, err := jwt.ParseSigned(token, []jose.SignatureAlgorithm{jose.EdDSA})
	if err != nil || len(tok.Headers) != 1 {
		return Claims{}, nil, errBadToken
	}
	kid := tok.Headers[0].KeyID
	if kid == "" {
		return Claims{}, nil, errBadToken
	}
	key, err := v.Keys.PublicKey(ctx, kid)
	if err != nil {
		if errs.KindOf(err) == errs.Unavailable {
			return Claims{}, nil, err
		}
		return Claims{}, nil, errBadToken
	}
	var std jwt.Claims
	var p private
	if err := tok.Claims(key, &std, &p); err != nil {
		return Claims{}, nil, errBadToken
	}
	if err := std.ValidateWithLeeway(jwt.Expected{Issuer: v.Issuer, AnyAudience: jwt.Audience{Audience}, Time: now}, v.Leeway); err != nil {
		if errors.Is(err, jwt.ErrExpired) {
			return Claims{}, nil, errExpiredToken
		}
		return Claims{}, nil, errBadToken
	}
	if std.Expiry == nil || std.Subject == "" || !p.Role.Valid() || (p.Kind != KindOperator && p.Kind != KindClient) {
		return Claims{}, nil, errBadToken
	}
	c := Claims{Subject: std.Subject, Kind: p.Kind, Name: p.Name, AmbitoID: p.AmbitoID, OrgID: p.OrgID,
		OrgKind: p.OrgKind, ISTATCode: p.ISTATCode, Role: p.Role, ProfileID: p.ProfileID, TokenID: std.ID, ExpiresAt: std.Expiry.Time()}
	if std.IssuedAt != nil {
		c.IssuedAt = std.IssuedAt.Time()
	}
	if p.Scope != "" {
		c.Scopes = slices.Clip(strings.Fields(p.Scope))
	}
	e := &cachedToken{claims: c, issuer: v.Issuer, kid: kid, key: key, expiry: c.ExpiresAt, issuedAt: c.IssuedAt}
	if std.NotBefore != nil {
		e.notBefore = std.NotBefore.Time()
	}
	return c, e, nil
}

// AmbitoCaller returns the authenticated caller and the ambito (the tenant) its token is bound
// to; a token bound to none is forbidden. Every operation on an ambito's rows starts here.
func AmbitoCaller(ctx context.Context) (Claims, uuid.UUID, error) {
	c, err := Caller(ctx)
	if err != nil {
		return c, uuid.Nil, err
	}
	id, err := uuid.Parse(c.AmbitoID)
	if err != nil {
		return c, uuid.Nil, errs.E(errs.Forbidden, "this token is not bound to an ambito")
	}
	return c, id, nil
}

type ctxKey struct{}

// WithClaims returns ctx carrying c.
func WithClaims(ctx context.Context, c Claims) context.Context {
	return context.WithValue(ctx, ctxKey{}, c)
}

// FromContext returns the claims of the authenticated caller.
func FromContext(ctx context.Context) (Claims, bool) {
	c, ok := ctx.Value(ctxKey{}).(Claims)
	return c, ok
}

// Caller returns the claims of the authenticated caller, or an Unauthenticated error.
func Caller(ctx context.Context) (Claims, error) {
	c, ok := FromContext(ctx)
	if !ok {
		return Claims{}, errs.E(errs.Unauthenticated, "authentication required")
	}
	return c, nil
}
