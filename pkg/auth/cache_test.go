package auth_test

import (
	"context"
	"crypto/ed25519"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/errs"
)

// set moves the clock (type clock is in clientcredentials_test.go).
func (c *clock) set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = t
}

// verifyErr returns the outcome of Verify as text: "ok", or the error (its kind and message).
func verifyErr(ctx context.Context, v *auth.Verifier, tok string) string {
	if _, err := v.Verify(ctx, tok); err != nil {
		return err.Error()
	}
	return "ok"
}

// TestCachedTokenTimes verifies a token once, so that it is cached, then at each instant of the
// table: the cached verifier must answer exactly as one without a cache, and never accept the
// token past exp plus the leeway.
func TestCachedTokenTimes(t *testing.T) {
	ctx := context.Background()
	pub, priv := newKey(t)
	t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
	tt := auth.TokenTimes{IssuedAt: t0, NotBefore: t0.Add(-5 * time.Second), Expiry: t0.Add(15 * time.Minute)}
	tok, err := auth.SignTimes(priv, "k1", testIssuer, operator(), tt)
	if err != nil {
		t.Fatal(err)
	}
	const leeway = 5 * time.Second
	tests := []struct {
		name string
		at   time.Time
		want string
	}{
		{"at issue", t0, "ok"},
		{"just before exp", tt.Expiry.Add(-time.Second), "ok"},
		{"at exp", tt.Expiry, "ok"},
		{"at exp plus the leeway", tt.Expiry.Add(leeway), "ok"},
		{"past exp plus the leeway", tt.Expiry.Add(leeway + time.Second), "unauthenticated: the access token has expired"},
		{"a day later", tt.Expiry.Add(24 * time.Hour), "unauthenticated: the access token has expired"},
		{"clock back before nbf minus the leeway", tt.NotBefore.Add(-leeway - time.Second), "unauthenticated: the access token is not valid"},
		{"clock back before iat minus the leeway, after nbf's", tt.IssuedAt.Add(-leeway - time.Second), "unauthenticated: the access token is not valid"},
		{"clock back to iat minus the leeway", tt.IssuedAt.Add(-leeway), "ok"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			clk := &clock{now: t0}
			cached := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
			cached.Leeway, cached.Now = leeway, clk.Now
			if got := verifyErr(ctx, cached, tok); got != "ok" {
				t.Fatalf("first Verify() = %s, want ok", got)
			}
			clk.set(tc.at)
			got := verifyErr(ctx, cached, tok)
			if st := cached.Cache.Stats(); st.Hits != 1 {
				t.Errorf("cache hits = %d, want 1 (the second Verify served from the cache)", st.Hits)
			}
			uncached := &auth.Verifier{Keys: auth.StaticKeys{"k1": pub}, Issuer: testIssuer, Leeway: leeway, Now: clk.Now}
			if fresh := verifyErr(ctx, uncached, tok); got != fresh {
				t.Errorf("cached Verify() = %s, uncached = %s; want the same", got, fresh)
			}
			if got != tc.want {
				t.Errorf("cached Verify() at %s = %s, want %s", tc.at.Format(time.TimeOnly), got, tc.want)
			}
			// Once refused for expiry, the token is refused for good, even if the clock goes back.
			if strings.Contains(tc.want, "expired") {
				clk.set(t0)
				if cached.Cache.Len() != 0 {
					t.Errorf("the expired token is still cached")
				}
			}
		})
	}
}

// TestCachedTokenRetiredKey caches a token, then the key set stops returning its key: the token
// is refused although it is cached.
func TestCachedTokenRetiredKey(t *testing.T) {
	ctx := context.Background()
	pub1, priv1 := newKey(t)
	pub2, priv2 := newKey(t)

	t.Run("jwks refresh drops the kid", func(t *testing.T) {
		srv := newJWKSServer(t, map[string]ed25519.PublicKey{"k1": pub1, "k2": pub2})
		keys := auth.NewJWKS(srv.URL, nil)
		v := auth.NewVerifier(keys, testIssuer)
		tok1, tok2 := signWith(t, priv1, "k1"), signWith(t, priv2, "k2")
		for _, tok := range []string{tok1, tok1, tok2} {
			if got := verifyErr(ctx, v, tok); got != "ok" {
				t.Fatalf("Verify() before the rotation = %s", got)
			}
		}
		srv.setKeys(map[string]ed25519.PublicKey{"k2": pub2})
		if err := keys.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got, want := verifyErr(ctx, v, tok1), "unauthenticated: the access token is not valid"; got != want {
			t.Errorf("Verify(cached token of the retired key) = %s, want %s", got, want)
		}
		if got := verifyErr(ctx, v, tok2); got != "ok" {
			t.Errorf("Verify(cached token of the current key) = %s, want ok", got)
		}
	})

	t.Run("static key removed", func(t *testing.T) {
		keys := auth.StaticKeys{"k1": pub1}
		v := auth.NewVerifier(keys, testIssuer)
		tok := signWith(t, priv1, "k1")
		if got := verifyErr(ctx, v, tok); got != "ok" {
			t.Fatalf("Verify() = %s", got)
		}
		delete(keys, "k1")
		if got, want := verifyErr(ctx, v, tok), "unauthenticated: the access token is not valid"; got != want {
			t.Errorf("Verify(cached token, key removed) = %s, want %s", got, want)
		}
		keys["k1"] = pub1 // the key comes back: the token is good again, verified afresh
		if got := verifyErr(ctx, v, tok); got != "ok" {
			t.Errorf("Verify() with the key back = %s, want ok", got)
		}
	})

	t.Run("kid bound to another key", func(t *testing.T) {
		keys := auth.StaticKeys{"k1": pub1}
		v := auth.NewVerifier(keys, testIssuer)
		tok := signWith(t, priv1, "k1")
		if got := verifyErr(ctx, v, tok); got != "ok" {
			t.Fatalf("Verify() = %s", got)
		}
		keys["k1"] = pub2
		if got, want := verifyErr(ctx, v, tok), "unauthenticated: the access token is not valid"; got != want {
			t.Errorf("Verify(cached token, kid now another key) = %s, want %s", got, want)
		}
	})

	t.Run("key source unavailable", func(t *testing.T) {
		keys := &switchKeys{KeySet: auth.StaticKeys{"k1": pub1}}
		v := auth.NewVerifier(keys, testIssuer)
		tok := signWith(t, priv1, "k1")
		if got := verifyErr(ctx, v, tok); got != "ok" {
			t.Fatalf("Verify() = %s", got)
		}
		keys.set(unavailableKeys{})
		if _, err := v.Verify(ctx, tok); errs.KindOf(err) != errs.Unavailable {
			t.Errorf("Verify(cached token, key source unavailable) = %v, want unavailable", err)
		}
	})

	t.Run("verifier issuer changed", func(t *testing.T) {
		v := auth.NewVerifier(auth.StaticKeys{"k1": pub1}, testIssuer)
		tok := signWith(t, priv1, "k1")
		if got := verifyErr(ctx, v, tok); got != "ok" {
			t.Fatalf("Verify() = %s", got)
		}
		v.Issuer = "https://other-identity.test"
		if got, want := verifyErr(ctx, v, tok), "unauthenticated: the access token is not valid"; got != want {
			t.Errorf("Verify(cached token, another issuer expected) = %s, want %s", got, want)
		}
	})
}

// switchKeys is a KeySet the test replaces.
type switchKeys struct {
	mu sync.Mutex
	auth.KeySet
}

func (s *switchKeys) set(k auth.KeySet) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.KeySet = k
}

func (s *switchKeys) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	s.mu.Lock()
	k := s.KeySet
	s.mu.Unlock()
	return k.PublicKey(ctx, kid)
}

// TestCachedTokenTampered caches a valid token, then presents altered copies of it: none is
// accepted, and the original still is, with its own claims.
func TestCachedTokenTampered(t *testing.T) {
	ctx := context.Background()
	pub, priv := newKey(t)
	v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
	tok := signWith(t, priv, "k1")
	want, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	header, rest, _ := strings.Cut(tok, ".")
	payload, sig, _ := strings.Cut(rest, ".")
	flip := func(s string, i int) string {
		c := byte('A')
		if s[i] == 'A' {
			c = 'B'
		}
		return s[:i] + string(c) + s[i+1:]
	}
	other := client()
	other.Subject = "op-2"
	otherTok, err := auth.Sign(priv, "k1", testIssuer, other, 15*time.Minute, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	_, otherRest, _ := strings.Cut(otherTok, ".")
	otherPayload, _, _ := strings.Cut(otherRest, ".")
	tests := []struct{ name, token string }{
		{"last signature character changed", header + "." + payload + "." + flip(sig, len(sig)-2)},
		{"first signature character changed", header + "." + payload + "." + flip(sig, 0)},
		{"payload character changed", header + "." + flip(payload, len(payload)/2) + "." + sig},
		{"another token's payload with this signature", header + "." + otherPayload + "." + sig},
		{"signature cut short", tok[:len(tok)-1]},
		{"signature removed", header + "." + payload + "."},
		{"trailing character", tok + "A"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if c, err := v.Verify(ctx, tc.token); err == nil {
				t.Errorf("Verify(tampered) = %+v, nil; want an error", c)
			} else if errs.KindOf(err) != errs.Unauthenticated {
				t.Errorf("Verify(tampered) = %v, want unauthenticated", err)
			}
		})
	}
	got, err := v.Verify(ctx, tok)
	if err != nil {
		t.Fatalf("Verify(original) after the tampered ones = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("claims of the cached token (-want +got):\n%s", diff)
	}
	gotOther, err := v.Verify(ctx, otherTok)
	if err != nil || gotOther.Subject != "op-2" || gotOther.Kind != auth.KindClient {
		t.Errorf("Verify(other token) = %+v, %v; want its own claims", gotOther, err)
	}
}

// TestTokenCacheBound verifies more distinct tokens than the cache holds, from many goroutines:
// the cache never holds more than its capacity, and every token is still accepted.
func TestTokenCacheBound(t *testing.T) {
	ctx := context.Background()
	pub, priv := newKey(t)
	tests := []struct {
		size, tokens, wantCap int
	}{
		{size: 1, tokens: 200, wantCap: 64}, // one per shard at least
		{size: 128, tokens: 600, wantCap: 128},
		{size: 300, tokens: 600, wantCap: 320}, // rounded up to a multiple of the shards
		{size: 10_000, tokens: 600, wantCap: 10_048},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("size=%d", tc.size), func(t *testing.T) {
			v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
			v.Cache = auth.NewTokenCache(tc.size)
			if got := v.Cache.Cap(); got != tc.wantCap {
				t.Errorf("Cap() = %d, want %d", got, tc.wantCap)
			}
			toks := make([]string, tc.tokens)
			for i := range toks {
				c := operator()
				c.TokenID = fmt.Sprintf("tok-%d", i)
				tok, err := auth.Sign(priv, "k1", testIssuer, c, 15*time.Minute, time.Now())
				if err != nil {
					t.Fatal(err)
				}
				toks[i] = tok
			}
			var wg sync.WaitGroup
			for w := range 8 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for round := range 2 {
						for i := w; i < len(toks); i += 8 {
							c, err := v.Verify(ctx, toks[i])
							if err != nil || c.TokenID != fmt.Sprintf("tok-%d", i) {
								t.Errorf("round %d: Verify(token %d) = %+v, %v", round, i, c, err)
								return
							}
						}
					}
				}()
			}
			wg.Wait()
			if got := v.Cache.Len(); got > v.Cache.Cap() || got > tc.tokens {
				t.Errorf("Len() = %d, want at most min(Cap() %d, tokens %d)", got, v.Cache.Cap(), tc.tokens)
			}
			st := v.Cache.Stats()
			if st.Hits+st.Misses != uint64(2*tc.tokens) {
				t.Errorf("hits %d + misses %d, want %d lookups", st.Hits, st.Misses, 2*tc.tokens)
			}
			if tc.tokens <= tc.wantCap/2 && st.Evicted != 0 {
				// Shards fill unevenly, so only a cache far from full is sure to evict nothing.
				t.Errorf("evicted %d entries from a cache holding all the tokens", st.Evicted)
			}
		})
	}
}

// TestTokenCacheEvictsExpiredFirst fills a shard-sized cache with tokens that then expire: new
// tokens take their places.
func TestTokenCacheEvictsExpiredFirst(t *testing.T) {
	ctx := context.Background()
	pub, priv := newKey(t)
	clk := &clock{now: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
	v.Now, v.Cache = clk.Now, auth.NewTokenCache(64)
	sign := func(i int, ttl time.Duration) string {
		c := operator()
		c.TokenID = fmt.Sprintf("tok-%d", i)
		tok, err := auth.Sign(priv, "k1", testIssuer, c, ttl, clk.Now())
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	for i := range 300 {
		if _, err := v.Verify(ctx, sign(i, time.Minute)); err != nil {
			t.Fatal(err)
		}
	}
	clk.set(clk.Now().Add(time.Hour))
	for i := range 300 {
		if _, err := v.Verify(ctx, sign(1000+i, time.Hour)); err != nil {
			t.Fatal(err)
		}
	}
	if got := v.Cache.Len(); got > v.Cache.Cap() {
		t.Errorf("Len() = %d > Cap() %d", got, v.Cache.Cap())
	}
}

// BenchmarkVerify compares a full verification with a cached one, on one goroutine and on many.
func BenchmarkVerify(b *testing.B) {
	ctx := context.Background()
	pub, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		b.Fatal(err)
	}
	tok, err := auth.Sign(priv, "k1", testIssuer, client(), 15*time.Minute, time.Now())
	if err != nil {
		b.Fatal(err)
	}
	for _, tc := range []struct {
		name  string
		cache *auth.TokenCache
	}{{"uncached", nil}, {"cached", auth.NewTokenCache(auth.DefaultCacheSize)}} {
		v := auth.NewVerifier(auth.StaticKeys{"k1": pub}, testIssuer)
		v.Cache = tc.cache
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := v.Verify(ctx, tok); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(tc.name+"/parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := v.Verify(ctx, tok); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
