package cache

import (
	"container/list"
	"context"
	"sync"
	"time"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Memory is an in-process Cache for a single replica (no Redis configured): a bounded LRU whose
// entries also expire after their TTL. It is safe for concurrent use and never fails, apart from
// refusing a non-positive TTL. It holds copies of the values it is given and returns copies
// (GetOrLoadWith alone reads them in place).
type Memory struct {
	max int
	in  *instruments

	mu    sync.Mutex
	order *list.List // of *memEntry, most recently used first
	items map[string]*list.Element
}

type memEntry struct {
	key     string
	val     []byte
	expires time.Time
}

// NewMemory returns an empty cache holding at most maxEntries values (DefaultMaxEntries when
// maxEntries <= 0); adding beyond the bound evicts the least recently used. The namespace
// (non-empty, without ':'; it panics otherwise) labels metrics and logs. WithTimeout is ignored.
func NewMemory(namespace string, maxEntries int, opts ...Option) *Memory {
	checkNamespace(namespace)
	if maxEntries <= 0 {
		maxEntries = DefaultMaxEntries
	}
	return &Memory{
		max:   maxEntries,
		in:    newInstruments(namespace, newConfig(opts), true),
		order: list.New(),
		items: make(map[string]*list.Element),
	}
}

func (m *Memory) instruments() *instruments { return m.in }

// Get implements Cache.
func (m *Memory) Get(_ context.Context, key string) ([]byte, bool, error) {
	val, ok := m.view(key)
	if !ok {
		return nil, false, nil
	}
	return append([]byte(nil), val...), true, nil
}

// view returns the bytes held under key themselves, not a copy (GetOrLoadWith): an entry's
// bytes are never changed, only replaced, so they stay valid after the entry goes.
func (m *Memory) view(key string) ([]byte, bool) {
	now := time.Now()
	m.mu.Lock()
	el, ok := m.items[key]
	if ok {
		e := el.Value.(*memEntry)
		if now.Before(e.expires) {
			m.order.MoveToFront(el)
			m.mu.Unlock()
			m.in.hits.Inc()
			return e.val, true
		}
		m.remove(el)
	}
	m.mu.Unlock()
	m.in.misses.Inc()
	return nil, false
}

// Set implements Cache.
func (m *Memory) Set(_ context.Context, key string, val []byte, ttl time.Duration) error {
	if ttl <= 0 {
		m.in.fail("set")
		return errs.E(errs.Invalid, "cache set: ttl must be positive, got %v", ttl)
	}
	e := &memEntry{key: key, val: append([]byte(nil), val...), expires: time.Now().Add(ttl)}
	m.mu.Lock()
	defer m.mu.Unlock()
	if el, ok := m.items[key]; ok {
		el.Value = e
		m.order.MoveToFront(el)
		return nil
	}
	m.items[key] = m.order.PushFront(e)
	for m.order.Len() > m.max {
		m.remove(m.order.Back())
	}
	return nil
}

// Delete implements Cache.
func (m *Memory) Delete(_ context.Context, keys ...string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, k := range keys {
		if el, ok := m.items[k]; ok {
			m.remove(el)
		}
	}
	return nil
}

// Len reports how many entries the cache holds, expired ones not yet dropped included.
func (m *Memory) Len() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.order.Len()
}

// remove drops el; m.mu is held.
func (m *Memory) remove(el *list.Element) {
	m.order.Remove(el)
	delete(m.items, el.Value.(*memEntry).key)
}
