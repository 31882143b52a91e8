package auth_test

import (
	"context"
	"crypto/ed25519"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// jwksServer is a real JWKS endpoint whose keys and health the test changes, counting fetches.
type jwksServer struct {
	*httptest.Server
	hits atomic.Int64

	mu     sync.Mutex
	keys   map[string]ed25519.PublicKey
	broken bool
}

func newJWKSServer(t *testing.T, keys map[string]ed25519.PublicKey) *jwksServer {
	t.Helper()
	s := &jwksServer{keys: keys}
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.hits.Add(1)
		s.mu.Lock()
		defer s.mu.Unlock()
		if s.broken {
			http.Error(w, "upstream down", http.StatusBadGateway)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(auth.JWKSDocument(s.keys))
	}))
	t.Cleanup(s.Close)
	return s
}

func (s *jwksServer) setKeys(keys map[string]ed25519.PublicKey) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys = keys
}

func (s *jwksServer) setBroken(b bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.broken = b
}

func signWith(t *testing.T, priv ed25519.PrivateKey, kid string) string {
	t.Helper()
	tok, err := auth.Sign(priv, kid, testIssuer, operator(), 15*time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func TestJWKSFetchesOnce(t *testing.T) {
	pub, priv := newKey(t)
	srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub})
	v := auth.NewVerifier(auth.NewJWKS(srv.URL, nil), testIssuer)
	tok := signWith(t, priv, "k1")
	for i := range 100 {
		if _, err := v.Verify(context.Background(), tok); err != nil {
			t.Fatalf("verification %d: %v", i, err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times for 100 verifications, want 1", got)
	}
}

func TestJWKSConcurrentFirstFetch(t *testing.T) {
	pub, priv := newKey(t)
	srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub})
	v := auth.NewVerifier(auth.NewJWKS(srv.URL, nil), testIssuer)
	tok := signWith(t, priv, "k1")
	var wg sync.WaitGroup
	errc := make(chan error, 20)
	for range 20 {
		wg.Go(func() {
			_, err := v.Verify(context.Background(), tok)
			errc <- err
		})
	}
	wg.Wait()
	close(errc)
	// A caller arriving while the first fetch runs waits for it: a valid token is never refused
	// because another request happened to start the fetch (a burst right after start-up).
	for err := range errc {
		if err != nil {
			t.Errorf("concurrent first Verify() = %v, want nil", err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times by 20 concurrent first verifications, want 1", got)
	}
}

func TestJWKSRotation(t *testing.T) {
	pub1, priv1 := newKey(t)
	pub2, priv2 := newKey(t)
	srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub1})
	keys := auth.NewJWKS(srv.URL, nil)
	keys.MinRefresh = 50 * time.Millisecond
	v := auth.NewVerifier(keys, testIssuer)
	ctx := context.Background()

	if _, err := v.Verify(ctx, signWith(t, priv1, "k1")); err != nil {
		t.Fatalf("Verify(k1) = %v", err)
	}
	// Identity rotates: it publishes k2 and signs with it.
	srv.setKeys(map[string]ed25519.PublicKey{"k1": pub1, "k2": pub2})
	tok2 := signWith(t, priv2, "k2")
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := v.Verify(ctx, tok2)
		if err == nil {
			break
		}
		if errs.KindOf(err) != errs.Unauthenticated {
			t.Fatalf("Verify(k2) = %v, want unauthenticated until the refresh", err)
		}
		if time.Now().After(deadline) {
			t.Fatalf("Verify(k2) still fails after rotation: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2 (the first, and one refetch for the new kid)", got)
	}
	// Both keys now verify with no further fetch.
	for range 10 {
		for _, tok := range []string{signWith(t, priv1, "k1"), tok2} {
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify() after rotation = %v", err)
			}
		}
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times after rotation settled, want still 2", got)
	}
}

func TestJWKSUnknownKidRateLimited(t *testing.T) {
	pub, priv := newKey(t)
	_, other := newKey(t)
	srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub})
	v := auth.NewVerifier(auth.NewJWKS(srv.URL, nil), testIssuer) // MinRefresh 5 s
	ctx := context.Background()
	if _, err := v.Verify(ctx, signWith(t, priv, "k1")); err != nil {
		t.Fatal(err)
	}
	// A flood of tokens with invented kids must not turn into a flood of fetches.
	for i := range 50 {
		_, err := v.Verify(ctx, signWith(t, other, "forged-"+string(rune('a'+i%26))))
		if errs.KindOf(err) != errs.Unauthenticated {
			t.Fatalf("Verify(unknown kid) = %v, want unauthenticated", err)
		}
	}
	if got := srv.hits.Load(); got != 1 {
		t.Errorf("JWKS fetched %d times, want 1: unknown kids within MinRefresh must not refetch", got)
	}
}

func TestJWKSUnreachableKeepsCachedKeys(t *testing.T) {
	pub, priv := newKey(t)
	_, priv2 := newKey(t)
	tests := []struct {
		name  string
		fail  func(*jwksServer)
		stale bool // the cache is past MaxAge, so every use tries a background refresh
	}{
		{name: "server shut down", fail: func(s *jwksServer) { s.Close() }},
		{name: "server shut down, cache stale", fail: func(s *jwksServer) { s.Close() }, stale: true},
		{name: "server answering 502, cache stale", fail: func(s *jwksServer) { s.setBroken(true) }, stale: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub})
			keys := auth.NewJWKS(srv.URL, nil)
			keys.MinRefresh = 0 // every unknown kid tries the endpoint
			if tc.stale {
				keys.MaxAge = time.Nanosecond
			}
			v := auth.NewVerifier(keys, testIssuer)
			ctx := context.Background()
			tok := signWith(t, priv, "k1")
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Fatalf("Verify() while the server is up = %v", err)
			}
			tc.fail(srv)
			for i := range 50 {
				if _, err := v.Verify(ctx, tok); err != nil {
					t.Fatalf("Verify() %d with the JWKS endpoint unreachable = %v, want the cached key used", i, err)
				}
			}
			// A kid never seen is still refused, as unauthenticated rather than unavailable: the
			// keys we hold are good, this token is not signed by one of them.
			_, err := v.Verify(ctx, signWith(t, priv2, "k-new"))
			if got := errs.KindOf(err); got != errs.Unauthenticated {
				t.Errorf("Verify(unknown kid) with the endpoint unreachable: kind %v (%v), want unauthenticated", got, err)
			}
			// Already-issued tokens still verify after the failed refresh.
			if _, err := v.Verify(ctx, tok); err != nil {
				t.Errorf("Verify() after a failed refresh = %v", err)
			}
		})
	}
}

func TestJWKSUnreachableWithoutCache(t *testing.T) {
	_, priv := newKey(t)
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	v := auth.NewVerifier(auth.NewJWKS(url, nil), testIssuer)
	// The second attempt falls within MinRefresh: it does not fetch, and still says unavailable
	// (503, retry) rather than blaming the token (401).
	for i := range 2 {
		_, err := v.Verify(context.Background(), signWith(t, priv, "k1"))
		if got := errs.KindOf(err); got != errs.Unavailable {
			t.Errorf("Verify() %d with no cached keys and the endpoint down: kind %v (%v), want unavailable", i, got, err)
		}
	}
}

func TestJWKSRefresh(t *testing.T) {
	pub1, _ := newKey(t)
	pub2, priv2 := newKey(t)
	srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub1})
	keys := auth.NewJWKS(srv.URL, nil)
	if err := keys.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() = %v", err)
	}
	srv.setKeys(map[string]ed25519.PublicKey{"k2": pub2})
	if err := keys.Refresh(context.Background()); err != nil {
		t.Fatalf("Refresh() = %v", err)
	}
	if _, err := auth.NewVerifier(keys, testIssuer).Verify(context.Background(), signWith(t, priv2, "k2")); err != nil {
		t.Errorf("Verify(k2) after an explicit Refresh = %v", err)
	}
	if got := srv.hits.Load(); got != 2 {
		t.Errorf("JWKS fetched %d times, want 2", got)
	}
}
