package auth

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/go-jose/go-jose/v4"
	"golang.org/x/sync/singleflight"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// JWKSDocument builds the JSON Web Key Set of public keys by kid.
func JWKSDocument(keys map[string]ed25519.PublicKey) jose.JSONWebKeySet {
	set := jose.JSONWebKeySet{}
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: k, KeyID: kid, Algorithm: string(jose.EdDSA), Use: "sig"})
	}
	return set
}

// JWKS is a KeySet that fetches a JSON Web Key Set over HTTP and keeps it: a token with a kid
// already known is verified with no network call; an unknown kid triggers one refresh (at most
// one in flight, and not more often than MinRefresh); the set is also refreshed in the
// background once it is older than MaxAge. When the endpoint is unreachable, cached keys keep
// working.
type JWKS struct {
	URL        string
	Client     *http.Client
	MinRefresh time.Duration
	MaxAge     time.Duration
	Log        *slog.Logger

	mu        sync.RWMutex
	keys      map[string]ed25519.PublicKey
	fetchedAt time.Time
	triedAt   time.Time
	group     singleflight.Group
}

// NewJWKS returns a key set read from url.
func NewJWKS(url string, log *slog.Logger) *JWKS {
	return &JWKS{URL: url, Client: &http.Client{Timeout: 3 * time.Second}, MinRefresh: 5 * time.Second,
		MaxAge: 10 * time.Minute, Log: log}
}

// PublicKey implements KeySet.
func (j *JWKS) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	j.mu.RLock()
	k, ok := j.keys[kid]
	stale := time.Since(j.fetchedAt) > j.MaxAge
	recent := time.Since(j.triedAt) < j.MinRefresh
	j.mu.RUnlock()
	if ok {
		if stale && !recent {
			go j.refresh(context.WithoutCancel(ctx), false) //nolint:errcheck // background: logged inside
		}
		return k, nil
	}
	// The rate limit is checked inside the single flight, so that a caller arriving while a
	// fetch runs (a burst at start-up, a rotation) waits for its result instead of being refused.
	if err := j.refresh(ctx, false); err != nil {
		return nil, err
	}
	j.mu.RLock()
	k, ok = j.keys[kid]
	j.mu.RUnlock()
	if !ok {
		return nil, errs.E(errs.Unauthenticated, "unknown signing key")
	}
	return k, nil
}

// Refresh fetches the key set now.
func (j *JWKS) Refresh(ctx context.Context) error { return j.refresh(ctx, true) }

// refresh fetches the key set, at most one fetch in flight; unless forced, it does nothing
// when the last attempt is more recent than MinRefresh.
func (j *JWKS) refresh(ctx context.Context, force bool) error {
	flight := "refresh"
	if force {
		flight = "force"
	}
	_, err, _ := j.group.Do(flight, func() (any, error) {
		j.mu.Lock()
		if !force && time.Since(j.triedAt) < j.MinRefresh {
			empty := len(j.keys) == 0
			j.mu.Unlock()
			if empty {
				return nil, errs.E(errs.Unavailable, "the token signing keys cannot be fetched")
			}
			return nil, nil
		}
		j.triedAt = time.Now()
		j.mu.Unlock()
		// The fetch serves every caller waiting on it: one caller's cancellation must not fail
		// the others. fetch has its own deadline.
		keys, err := j.fetch(context.WithoutCancel(ctx))
		if err != nil {
			if j.Log != nil {
				j.Log.WarnContext(ctx, "jwks refresh failed; keeping cached keys", "url", j.URL, "err", err)
			}
			j.mu.RLock()
			empty := len(j.keys) == 0
			j.mu.RUnlock()
			if empty {
				return nil, errs.Wrap(errs.Unavailable, err, "the token signing keys cannot be fetched")
			}
			return nil, nil
		}
		j.mu.Lock()
		j.keys, j.fetchedAt = keys, time.Now()
		j.mu.Unlock()
		return nil, nil
	})
	return err
}

func (j *JWKS) fetch(ctx context.Context) (map[string]ed25519.PublicKey, error) {
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, j.URL, nil)
	if err != nil {
		return nil, err
	}
	resp, err := j.Client.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("jwks: status %d", resp.StatusCode)
	}
	var set jose.JSONWebKeySet
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&set); err != nil {
		return nil, fmt.Errorf("jwks: decode: %w", err)
	}
	keys := make(map[string]ed25519.PublicKey, len(set.Keys))
	for _, k := range set.Keys {
		if pub, ok := k.Key.(ed25519.PublicKey); ok && k.KeyID != "" {
			keys[k.KeyID] = pub
		}
	}
	return keys, nil
}

// StaticKeys is a KeySet held in memory (the identity service's own keys, tests).
type StaticKeys map[string]ed25519.PublicKey

// PublicKey implements KeySet.
func (s StaticKeys) PublicKey(_ context.Context, kid string) (ed25519.PublicKey, error) {
	if k, ok := s[kid]; ok {
		return k, nil
	}
	return nil, errs.E(errs.Unauthenticated, "unknown signing key")
}
