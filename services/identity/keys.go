package identity

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ed25519"
	"crypto/rand"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// KeyRing holds the token signing keys in memory, loaded from the store: the newest active key
// signs; every key not yet past its retirement grace is published in the JWKS. One replica
// rotates (under a database lock); all replicas reload periodically and on an unknown kid.
type KeyRing struct {
	store     Store
	master    cipher.AEAD
	rotation  time.Duration // age at which the signing key is replaced
	retention time.Duration // how long a retired key stays published (> token lifetime)

	mu     sync.RWMutex
	keys   []SigningKey // newest first
	loaded time.Time
}

// NewKeyRing returns a key ring sealing private keys with the 32-byte master key.
func NewKeyRing(store Store, masterKey []byte, rotation, retention time.Duration) (*KeyRing, error) {
	if len(masterKey) != 32 {
		return nil, errors.New("the master key must be 32 bytes")
	}
	block, err := aes.NewCipher(masterKey)
	if err != nil {
		return nil, err
	}
	aead, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	return &KeyRing{store: store, master: aead, rotation: rotation, retention: retention}, nil
}

func (k *KeyRing) seal(kid string, priv ed25519.PrivateKey) ([]byte, error) {
	nonce := make([]byte, k.master.NonceSize())
	if _, err := rand.Read(nonce); err != nil {
		return nil, err
	}
	return k.master.Seal(nonce, nonce, priv.Seed(), []byte(kid)), nil
}

func (k *KeyRing) open(kid string, sealed []byte) (ed25519.PrivateKey, error) {
	ns := k.master.NonceSize()
	if len(sealed) < ns {
		return nil, errors.New("sealed key too short")
	}
	seed, err := k.master.Open(nil, sealed[:ns], sealed[ns:], []byte(kid))
	if err != nil {
		return nil, fmt.Errorf("open signing key %s (wrong master key?): %w", kid, err)
	}
	return ed25519.NewKeyFromSeed(seed), nil
}

// Load reads the keys from the store.
func (k *KeyRing) Load(ctx context.Context) error {
	stored, err := k.store.SigningKeys(ctx)
	if err != nil {
		return err
	}
	keys := make([]SigningKey, 0, len(stored))
	for _, s := range stored {
		priv, err := k.open(s.KID, s.SealedPrivate)
		if err != nil {
			return err
		}
		keys = append(keys, SigningKey{KID: s.KID, Public: s.Public, Private: priv, CreatedAt: s.CreatedAt, RetiredAt: s.RetiredAt})
	}
	k.mu.Lock()
	k.keys, k.loaded = keys, time.Now()
	k.mu.Unlock()
	return nil
}

// Rotate creates a new signing key when there is none or the newest is older than the rotation
// period, retires the others, and forgets keys retired longer ago than the retention. Safe to
// call from every replica: one does the work.
func (k *KeyRing) Rotate(ctx context.Context, now time.Time) error {
	err := k.store.InTx(ctx, func(tx Store) error {
		if err := tx.LockKeyRotation(ctx); err != nil {
			return err
		}
		stored, err := tx.SigningKeys(ctx)
		if err != nil {
			return err
		}
		if len(stored) > 0 && stored[0].RetiredAt == nil && now.Sub(stored[0].CreatedAt) < k.rotation {
			return nil
		}
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return err
		}
		kid := uuid.Must(uuid.NewV7()).String()
		sealed, err := k.seal(kid, priv)
		if err != nil {
			return err
		}
		if err := tx.SaveSigningKey(ctx, kid, pub, sealed, now); err != nil {
			return err
		}
		if err := tx.RetireSigningKeys(ctx, kid, now); err != nil {
			return err
		}
		return tx.DeleteSigningKeysRetiredBefore(ctx, now.Add(-k.retention))
	})
	if err != nil {
		return err
	}
	return k.Load(ctx)
}

// Keys is the service's key ring (tests sign their own tokens with its current key).
func (s *Service) Keys() *KeyRing { return s.keys }

// Current returns the signing key.
func (k *KeyRing) Current() (SigningKey, error) {
	k.mu.RLock()
	defer k.mu.RUnlock()
	for _, key := range k.keys {
		if key.RetiredAt == nil {
			return key, nil
		}
	}
	return SigningKey{}, errs.E(errs.Unavailable, "no signing key is loaded yet")
}

// Public returns the published keys by kid.
func (k *KeyRing) Public() map[string]ed25519.PublicKey {
	k.mu.RLock()
	defer k.mu.RUnlock()
	out := make(map[string]ed25519.PublicKey, len(k.keys))
	for _, key := range k.keys {
		out[key.KID] = key.Public
	}
	return out
}

// PublicKey implements auth.KeySet, so identity verifies its own tokens with no HTTP call.
// An unknown kid (another replica rotated) triggers one reload.
func (k *KeyRing) PublicKey(ctx context.Context, kid string) (ed25519.PublicKey, error) {
	k.mu.RLock()
	for _, key := range k.keys {
		if key.KID == kid {
			k.mu.RUnlock()
			return key.Public, nil
		}
	}
	recent := time.Since(k.loaded) < 5*time.Second
	k.mu.RUnlock()
	if !recent {
		if err := k.Load(ctx); err == nil {
			return k.PublicKey(ctx, kid)
		}
	}
	return nil, errs.E(errs.Unauthenticated, "unknown signing key")
}

// Run rotates when due and reloads every interval until ctx ends.
func (k *KeyRing) Run(ctx context.Context, interval time.Duration, onErr func(error)) {
	t := time.NewTicker(interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if err := k.Rotate(ctx, now.UTC()); err != nil && ctx.Err() == nil {
				onErr(err)
			}
		}
	}
}
