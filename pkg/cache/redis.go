package cache

import (
	"context"
	"errors"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Redis is a Cache on a Redis server (or cluster) shared by every replica of every service.
// Keys are stored as "csi:<namespace>:<key>".
type Redis struct {
	client  redis.UniversalClient
	prefix  string
	timeout time.Duration
	in      *instruments
}

// NewRedis returns a cache on client under namespace (non-empty, without ':'; it panics
// otherwise). Every call gets a deadline of DefaultTimeout (see WithTimeout) so a hung Redis never
// stalls a request; for the deadline to cut socket reads too, the client needs
// ContextTimeoutEnabled (Open sets it). The caller owns the client and closes it.
func NewRedis(client redis.UniversalClient, namespace string, opts ...Option) *Redis {
	if client == nil {
		panic("cache: nil Redis client")
	}
	checkNamespace(namespace)
	cfg := newConfig(opts)
	return &Redis{
		client:  client,
		prefix:  "csi:" + namespace + ":",
		timeout: cfg.timeout,
		in:      newInstruments(namespace, cfg, true),
	}
}

func (r *Redis) instruments() *instruments { return r.in }

// Get implements Cache.
func (r *Redis) Get(ctx context.Context, key string) ([]byte, bool, error) {
	if err := ctx.Err(); err != nil {
		return nil, false, err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	b, err := r.client.Get(cctx, r.prefix+key).Bytes()
	switch {
	case err == nil:
		r.in.hits.Inc()
		return b, true, nil
	case errors.Is(err, redis.Nil):
		r.in.misses.Inc()
		return nil, false, nil
	}
	if ctx.Err() == nil { // not the caller giving up
		r.in.getErrors.Inc()
		r.in.fail("get")
	}
	return nil, false, unavailable("get", err)
}

// Set implements Cache.
func (r *Redis) Set(ctx context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		r.in.fail("set")
		return errs.E(errs.Invalid, "cache set: ttl must be positive, got %v", ttl)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	if err := r.client.Set(cctx, r.prefix+key, val, ttl).Err(); err != nil {
		if ctx.Err() == nil {
			r.in.fail("set")
		}
		return unavailable("set", err)
	}
	return nil
}

// Delete implements Cache. Several keys go in one pipeline of single-key DELs, which works on a
// cluster too, where the keys may live in different slots.
func (r *Redis) Delete(ctx context.Context, keys ...string) error {
	if len(keys) == 0 {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	cctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	var err error
	if len(keys) == 1 {
		err = r.client.Del(cctx, r.prefix+keys[0]).Err()
	} else {
		_, err = r.client.Pipelined(cctx, func(p redis.Pipeliner) error {
			for _, k := range keys {
				p.Del(cctx, r.prefix+k)
			}
			return nil
		})
	}
	if err != nil {
		if ctx.Err() == nil {
			r.in.fail("delete")
		}
		return unavailable("delete", err)
	}
	return nil
}
