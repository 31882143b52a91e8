package main

import (
	"context"
	"net/http"
	"net/http/httputil"
	"net/url"
	"sync"
	"sync/atomic"
	"time"
)

// proxy is a readiness-aware round-robin HTTP proxy, what a Kubernetes Service does for a
// deployment's pods: it polls each backend's GET /readyz and sends requests only to the ready
// ones. When none is ready it sends to all in turn (fail open, as load balancers do in
// "panic" mode), so that clients see the services' own answers (503 with Retry-After) rather
// than the proxy's.
type proxy struct {
	backends []*backend
	next     atomic.Uint64
	interval time.Duration
	client   *http.Client

	mu      sync.Mutex
	changes []readyChange // every readiness change seen, in order
}

// backend is one instance behind the proxy.
type backend struct {
	name  string
	url   string
	rp    *httputil.ReverseProxy
	ready atomic.Bool
}

// readyChange is a backend turning ready or unready.
type readyChange struct {
	at      time.Time
	backend string
	ready   bool
}

// newProxy returns a proxy in front of the named backends (name -> base URL, in order),
// polling readiness every interval. Backends start ready; Run keeps them current.
func newProxy(names, urls []string, interval time.Duration) (*proxy, error) {
	p := &proxy{interval: interval, client: &http.Client{Timeout: interval * 5}}
	tr := &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 90 * time.Second}
	for i, raw := range urls {
		u, err := url.Parse(raw)
		if err != nil {
			return nil, err
		}
		rp := httputil.NewSingleHostReverseProxy(u)
		rp.Transport = tr
		rp.ErrorHandler = func(w http.ResponseWriter, _ *http.Request, err error) {
			// The answer is counted as the proxy's: a 502 the load records.
			w.Header().Set("X-Chaos-Proxy-Error", err.Error())
			w.WriteHeader(http.StatusBadGateway)
		}
		b := &backend{name: names[i], url: raw, rp: rp}
		b.ready.Store(true)
		p.backends = append(p.backends, b)
	}
	return p, nil
}

// Run polls the backends' readiness until ctx ends.
func (p *proxy) Run(ctx context.Context) {
	t := time.NewTicker(p.interval)
	defer t.Stop()
	for {
		var wg sync.WaitGroup
		for _, b := range p.backends {
			wg.Go(func() { p.check(ctx, b) })
		}
		wg.Wait()
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *proxy) check(ctx context.Context, b *backend) {
	ready := false
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, b.url+"/readyz", nil)
	if err == nil {
		if resp, err := p.client.Do(req); err == nil {
			_ = resp.Body.Close()
			ready = resp.StatusCode == http.StatusOK
		}
	}
	if ctx.Err() != nil {
		return
	}
	if b.ready.Swap(ready) != ready {
		p.mu.Lock()
		p.changes = append(p.changes, readyChange{at: time.Now(), backend: b.name, ready: ready})
		p.mu.Unlock()
	}
}

// pick returns the next ready backend, or the next of all when none is ready.
func (p *proxy) pick() *backend {
	n := uint64(len(p.backends))
	start := p.next.Add(1)
	for i := range n {
		if b := p.backends[(start+i)%n]; b.ready.Load() {
			return b
		}
	}
	return p.backends[start%n]
}

// ServeHTTP implements http.Handler.
func (p *proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.pick().rp.ServeHTTP(w, r)
}

// Changes returns the readiness changes seen since since.
func (p *proxy) Changes(since time.Time) []readyChange {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []readyChange
	for _, c := range p.changes {
		if !c.at.Before(since) {
			out = append(out, c)
		}
	}
	return out
}
