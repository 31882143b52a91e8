package auth

import (
	"crypto/ed25519"
	"crypto/sha256"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"
)

// DefaultCacheSize is the number of verified tokens a verifier made by NewVerifier remembers.
// An entry is a few hundred bytes: 10,000 tokens are a few megabytes.
const DefaultCacheSize = 10_000

// cacheShards is the number of independently locked parts of a TokenCache, so that the
// goroutines of many requests seldom wait on one another's lock.
const cacheShards = 64

// TokenCache remembers tokens a Verifier has verified, so that a token presented again is not
// parsed and its signature not checked again. It is keyed by the SHA-256 of the token (the token
// itself is not kept) and holds what a hit needs to be checked again cheaply: the claims, the
// time claims, the issuer, the kid and the key the signature was checked with. A hit is only a
// shortcut past parsing and the signature: the verifier still checks the times against its
// clock and leeway, its issuer, and that the key set still returns the same key for the kid.
//
// It holds at most its size in entries, split over shards; a full shard first drops its expired
// entries and, when none is, an arbitrary one (Go's map iteration order is randomized, so this is
// random eviction). Its methods are safe for concurrent use.
type TokenCache struct {
	perShard int
	shards   [cacheShards]cacheShard
}

type cacheShard struct {
	mu      sync.RWMutex
	entries map[[sha256.Size]byte]*cachedToken
	hits    atomic.Uint64
	misses  atomic.Uint64
	evicted atomic.Uint64
	_       [64]byte // keeps the shards' locks and counters on separate cache lines
}

// cachedToken is a verified token: its claims and what a hit checks again.
type cachedToken struct {
	claims    Claims
	issuer    string
	kid       string
	key       ed25519.PublicKey
	notBefore time.Time // zero when the token has no nbf
	issuedAt  time.Time // zero when the token has no iat
	expiry    time.Time
}

// NewTokenCache returns a cache of at most size tokens (rounded up to a multiple of its shard
// count); a size below 1 is taken as 1 per shard.
func NewTokenCache(size int) *TokenCache {
	per := (size + cacheShards - 1) / cacheShards
	if per < 1 {
		per = 1
	}
	c := &TokenCache{perShard: per}
	for i := range c.shards {
		c.shards[i].entries = make(map[[sha256.Size]byte]*cachedToken)
	}
	return c
}

// Cap is the most tokens the cache holds.
func (c *TokenCache) Cap() int { return c.perShard * cacheShards }

// Len is the number of tokens the cache holds now.
func (c *TokenCache) Len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}

// CacheStats counts the lookups of a TokenCache since it was made.
type CacheStats struct {
	Hits, Misses, Evicted uint64
}

// Stats returns the cache's counters (for metrics; the cache itself exports none).
func (c *TokenCache) Stats() CacheStats {
	var st CacheStats
	for i := range c.shards {
		s := &c.shards[i]
		st.Hits += s.hits.Load()
		st.Misses += s.misses.Load()
		st.Evicted += s.evicted.Load()
	}
	return st
}

// tokenKey is the cache key of a token. The token's bytes are hashed in place (sha256 does not
// keep them), sparing a copy of every token on every request.
func tokenKey(token string) [sha256.Size]byte {
	return sha256.Sum256(unsafe.Slice(unsafe.StringData(token), len(token)))
}

func (c *TokenCache) shard(k *[sha256.Size]byte) *cacheShard {
	return &c.shards[int(k[0])%cacheShards]
}

// get returns the entry of the token with key k, if cached. The entry is never modified once
// cached, so the caller reads it without the lock.
func (c *TokenCache) get(k *[sha256.Size]byte) (*cachedToken, bool) {
	s := c.shard(k)
	s.mu.RLock()
	e, ok := s.entries[*k]
	s.mu.RUnlock()
	if ok {
		s.hits.Add(1)
	} else {
		s.misses.Add(1)
	}
	return e, ok
}

// put caches e under k. now and leeway tell which entries have expired, should the shard be
// full.
func (c *TokenCache) put(k *[sha256.Size]byte, e *cachedToken, now time.Time, leeway time.Duration) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[*k]; !ok && len(s.entries) >= c.perShard {
		limit := now.Add(-leeway)
		for key, old := range s.entries {
			if limit.After(old.expiry) {
				delete(s.entries, key)
				s.evicted.Add(1)
			}
		}
		for key := range s.entries {
			if len(s.entries) < c.perShard {
				break
			}
			delete(s.entries, key)
			s.evicted.Add(1)
		}
	}
	s.entries[*k] = e
}

// drop removes the token with key k.
func (c *TokenCache) drop(k *[sha256.Size]byte) {
	s := c.shard(k)
	s.mu.Lock()
	delete(s.entries, *k)
	s.mu.Unlock()
}
