package identity

import (
	"context"
	"crypto/subtle"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/audit"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// Token runs a token request. Errors carry RFC 6749's "error" code besides the problem fields.
func (s *Service) Token(ctx context.Context, r TokenRequest) (TokenResponse, error) {
	resp, err := s.token(ctx, r)
	return resp, WithOAuthCode(err)
}

// WithOAuthCode adds RFC 6749 section 5.2's "error" member to a token endpoint problem that
// lacks one: invalid_request for a bad request, invalid_client for bad client credentials.
func WithOAuthCode(err error) error {
	var e *errs.Error
	if !errors.As(err, &e) {
		return err
	}
	if _, ok := e.Extra["error"]; ok {
		return err
	}
	code := map[errs.Kind]string{errs.Invalid: "invalid_request", errs.UnsupportedMediaType: "invalid_request", errs.Unauthenticated: "invalid_client",
		errs.TooManyRequests: "slow_down", errs.Unavailable: "temporarily_unavailable", errs.Internal: "server_error"}[e.Kind]
	if code == "" {
		return err
	}
	c := *e
	c.Extra = map[string]any{"error": code}
	for k, v := range e.Extra {
		c.Extra[k] = v
	}
	return &c
}

func (s *Service) token(ctx context.Context, r TokenRequest) (TokenResponse, error) {
	switch r.GrantType {
	case "password":
		return s.passwordGrant(ctx, r)
	case "refresh_token":
		return s.refreshGrant(ctx, r)
	case "client_credentials":
		return s.clientGrant(ctx, r)
	case "":
		return TokenResponse{}, oauthErr(errs.Invalid, "invalid_request", "grant_type", "is required")
	}
	return TokenResponse{}, oauthErr(errs.Invalid, "unsupported_grant_type", "grant_type", "must be password, refresh_token or client_credentials")
}

// A wrong password or refresh token is invalid_grant, a 400 (RFC 6749 section 5.2); only bad
// client credentials are a 401.
var errBadCredentials = oauthErr(errs.Invalid, "invalid_grant", "", "wrong username or password")

func (s *Service) passwordGrant(ctx context.Context, r TokenRequest) (TokenResponse, error) {
	var f errs.Fields
	f.Check(r.Username != "" && len(r.Username) <= 254, "username", "is required")
	f.Check(r.Password != "" && len(r.Password) <= 256, "password", "is required")
	if err := f.Err(); err != nil {
		return TokenResponse{}, err
	}
	username := strings.ToLower(strings.TrimSpace(r.Username))
	now := s.now()
	// Backoff: a locked username is refused before the password is even checked.
	_, locked, err := s.store.SignInFailures(ctx, username)
	if err != nil {
		return TokenResponse{}, err
	}
	if locked != nil && locked.After(now) {
		return TokenResponse{}, s.lockedErr(locked.Sub(now))
	}
	op, err := s.store.OperatorByEmail(ctx, username)
	if err != nil && !errs.Is(err, errs.NotFound) {
		return TokenResponse{}, err
	}
	ok := false
	if err == nil && op.passwordHash != "" {
		ok = VerifyPassword(op.passwordHash, r.Password)
	} else {
		VerifyPassword(dummyHash, r.Password) // same cost when the operator does not exist
	}
	if !ok || op.Status != StatusActive {
		if err := s.failSignIn(ctx, username, now); err != nil {
			return TokenResponse{}, err
		}
		_ = s.audit.Write(ctx, audit.Record{ActorID: username, Action: "sign_in", ResourceType: "operator",
			ResourceID: op.ID.String(), AmbitoID: op.AmbitoID.String(), Outcome: "failure"})
		return TokenResponse{}, errBadCredentials
	}
	p, err := s.profileForToken(op, r.ProfileID)
	if err != nil {
		return TokenResponse{}, err
	}
	if err := s.store.ClearSignInFailures(ctx, username); err != nil {
		return TokenResponse{}, err
	}
	resp, err := s.issueOperator(ctx, s.store, op, p, uuid.Must(uuid.NewV7()))
	if err != nil {
		return TokenResponse{}, err
	}
	_ = s.audit.Write(ctx, audit.Record{ActorID: op.ID.String(), ActorOrg: p.OrganizationID.String(), ActorRole: string(p.Role),
		AmbitoID: op.AmbitoID.String(), Action: "sign_in", ResourceType: "operator", ResourceID: op.ID.String(),
		Outcome: "success"})
	return resp, nil
}

func (s *Service) lockedErr(wait time.Duration) error {
	return &errs.Error{Kind: errs.TooManyRequests, Message: "too many failed sign-ins; try again later",
		RetryAfter: wait, Extra: map[string]any{"error": "slow_down"}}
}

// failSignIn counts a failure; from MaxFailures on, the username is locked for LockBase,
// doubling with each further failure up to LockMax.
func (s *Service) failSignIn(ctx context.Context, username string, now time.Time) error {
	n, _, err := s.store.SignInFailures(ctx, username)
	if err != nil {
		return err
	}
	n++
	var until *time.Time
	if n >= s.cfg.MaxFailures {
		d := s.cfg.LockBase << min(n-s.cfg.MaxFailures, 10)
		if d > s.cfg.LockMax || d <= 0 {
			d = s.cfg.LockMax
		}
		t := now.Add(d)
		until = &t
	}
	_, err = s.store.RecordSignInFailure(ctx, username, now, until)
	return err
}

func (s *Service) issueOperator(ctx context.Context, st Store, op Operator, p Profile, family uuid.UUID) (TokenResponse, error) {
	key, err := s.keys.Current()
	if err != nil {
		return TokenResponse{}, err
	}
	now := s.now()
	claims := auth.Claims{Subject: op.ID.String(), Kind: auth.KindOperator, Name: op.GivenName + " " + op.FamilyName,
		AmbitoID: op.AmbitoID.String(), OrgID: p.OrganizationID.String(), OrgKind: string(p.OrganizationKind),
		ISTATCode: p.OrganizationISTAT, Role: p.Role, ProfileID: p.ID.String(), TokenID: uuid.Must(uuid.NewV7()).String()}
	at, err := auth.Sign(key.Private, key.KID, s.cfg.Issuer, claims, s.cfg.AccessTTL, now)
	if err != nil {
		return TokenResponse{}, err
	}
	raw, hash := newSecret()
	if err := st.SaveRefreshToken(ctx, RefreshToken{Hash: hash, FamilyID: family, OperatorID: op.ID, ProfileID: p.ID,
		IssuedAt: now, ExpiresAt: now.Add(s.cfg.RefreshTTL)}); err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(s.cfg.AccessTTL.Seconds()),
		RefreshToken: raw, Profile: &p}, nil
}

// profileForToken picks the profile an operator signs in with: the one asked for, or the only
// one active today.
func (s *Service) profileForToken(op Operator, profileID string) (Profile, error) {
	today := s.today()
	var active []Profile
	for _, p := range op.Profiles {
		if p.ActiveOn(today) {
			active = append(active, p)
		}
	}
	if profileID != "" {
		for _, p := range active {
			if p.ID.String() == profileID {
				return p, nil
			}
		}
		return Profile{}, oauthErr(errs.Invalid, "invalid_request", "profile_id", "is not one of your active profiles")
	}
	switch len(active) {
	case 0:
		return Profile{}, oauthErr(errs.Invalid, "invalid_grant", "username", "has no active profile")
	case 1:
		return active[0], nil
	}
	e := oauthErr(errs.Invalid, "invalid_request", "profile_id", "choose the profile to act in")
	choices := make([]map[string]string, len(active))
	for i, p := range active {
		choices[i] = map[string]string{"id": p.ID.String(), "role": string(p.Role), "organization_name": p.OrganizationName}
	}
	e.Extra["profiles"] = choices
	return Profile{}, e
}

// oauthErr is a problem that also carries RFC 6749's "error" code for OAuth clients.
func oauthErr(kind errs.Kind, code, field, msg string) *errs.Error {
	e := &errs.Error{Kind: kind, Message: msg, Extra: map[string]any{"error": code}}
	if field != "" {
		e.Fields = []errs.FieldError{{Field: field, Message: msg}}
	}
	return e
}

// refreshGrant rotates a refresh token: the old one is used up, a new one of the same family is
// issued. A used or revoked token presented again means it was stolen or replayed: the whole
// family is revoked.
func (s *Service) refreshGrant(ctx context.Context, r TokenRequest) (TokenResponse, error) {
	if r.RefreshToken == "" || len(r.RefreshToken) > 200 {
		return TokenResponse{}, oauthErr(errs.Invalid, "invalid_request", "refresh_token", "is required")
	}
	now := s.now()
	bad := oauthErr(errs.Invalid, "invalid_grant", "refresh_token", "is not valid")
	var resp TokenResponse
	var reused *RefreshToken
	err := s.store.InTx(ctx, func(tx Store) error {
		t, err := tx.UseRefreshToken(ctx, hashSecret(r.RefreshToken), now)
		if errs.Is(err, errs.NotFound) {
			return bad
		}
		if err != nil {
			return err
		}
		if t.UsedAt != nil || t.RevokedAt != nil {
			reused = &t
			return bad
		}
		if now.After(t.ExpiresAt) {
			return bad
		}
		op, err := tx.OperatorForSignIn(ctx, t.OperatorID)
		if err != nil || op.Status != StatusActive {
			return bad
		}
		pid := r.ProfileID
		if pid == "" {
			pid = t.ProfileID.String()
		}
		p, err := s.profileForToken(op, pid)
		if err != nil {
			return err
		}
		resp, err = s.issueOperator(ctx, tx, op, p, t.FamilyID)
		return err
	})
	if reused != nil {
		if err := s.store.RevokeFamily(ctx, reused.FamilyID, now); err != nil {
			return TokenResponse{}, err
		}
		s.log.WarnContext(ctx, "refresh token reused: session revoked", "operator_id", reused.OperatorID, "family_id", reused.FamilyID)
	}
	return resp, err
}

// Revoke ends the session of a refresh token (sign-out, RFC 7009): its whole family is revoked.
// Only the operator it belongs to may revoke it; an unknown token is not an error (RFC 7009).
func (s *Service) Revoke(ctx context.Context, token string) error {
	c, err := auth.Caller(ctx)
	if err != nil {
		return err
	}
	if token == "" {
		return errs.InvalidField("token", "is required")
	}
	// A token is visible ASCII (RFC 6749, VSCHAR): anything else is a malformed request, not
	// an unknown token.
	if strings.IndexFunc(token, func(r rune) bool { return r < 0x20 || r > 0x7e }) >= 0 {
		return errs.InvalidField("token", "is not a token")
	}
	now := s.now()
	return s.store.InTx(ctx, func(tx Store) error {
		t, err := tx.UseRefreshToken(ctx, hashSecret(token), now)
		if errs.Is(err, errs.NotFound) {
			return nil
		}
		if err != nil {
			return err
		}
		if t.OperatorID.String() != c.Subject {
			return nil // not the caller's: say nothing
		}
		return tx.RevokeFamily(ctx, t.FamilyID, now)
	})
}

func (s *Service) clientGrant(ctx context.Context, r TokenRequest) (TokenResponse, error) {
	bad := oauthErr(errs.Unauthenticated, "invalid_client", "", "wrong client_id or client_secret")
	id, err := uuid.Parse(r.ClientID)
	if err != nil || r.ClientSecret == "" {
		return TokenResponse{}, bad
	}
	cl, err := s.store.GetClient(ctx, id)
	if errs.Is(err, errs.NotFound) {
		return TokenResponse{}, bad
	}
	if err != nil {
		return TokenResponse{}, err
	}
	if subtle.ConstantTimeCompare(hashSecret(r.ClientSecret), cl.secretHash) != 1 || !cl.Active {
		return TokenResponse{}, bad
	}
	scopes := cl.Scopes
	if r.Scope != "" {
		scopes = nil
		for _, sc := range strings.Fields(r.Scope) {
			if !slices.Contains(cl.Scopes, sc) {
				return TokenResponse{}, oauthErr(errs.Invalid, "invalid_scope", "scope", "asks for a scope this client does not hold")
			}
			scopes = append(scopes, sc)
		}
	}
	key, err := s.keys.Current()
	if err != nil {
		return TokenResponse{}, err
	}
	claims := auth.Claims{Subject: cl.ID.String(), Kind: auth.KindClient, Name: cl.Name, Role: auth.RoleClient,
		Scopes: scopes, TokenID: uuid.Must(uuid.NewV7()).String()}
	if cl.AmbitoID != nil {
		claims.AmbitoID = cl.AmbitoID.String()
	}
	if cl.OrganizationID != nil {
		claims.OrgID = cl.OrganizationID.String()
		if cl.AmbitoID != nil {
			if org, err := s.store.GetOrganization(ctx, *cl.AmbitoID, *cl.OrganizationID); err == nil {
				claims.OrgKind = string(org.Kind)
			}
		}
	}
	at, err := auth.Sign(key.Private, key.KID, s.cfg.Issuer, claims, s.cfg.ClientAccessTTL, s.now())
	if err != nil {
		return TokenResponse{}, err
	}
	return TokenResponse{AccessToken: at, TokenType: "Bearer", ExpiresIn: int(s.cfg.ClientAccessTTL.Seconds()),
		Scope: strings.Join(scopes, " ")}, nil
}
