// Package discovery registers a service in Consul and finds the base URLs of its peers, either in
// Consul (go-kit's Consul instancer, kept current by blocking queries) or in the configuration
// (Kubernetes service DNS names). cmd/<service>/main.go chooses: with CSI_CONSUL_ADDR set it
// calls Register and NewConsul, otherwise NewStatic with the CSI_<NAME>_URL values (pkg/peers.LoadSettings).
package discovery

import (
	"context"
	"strings"
	"sync/atomic"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// Peers resolves a peer service name to the base URLs of its instances ("http://host:port",
// without a trailing slash).
type Peers interface {
	// Endpoints returns the current base URLs of service's instances, never an empty list: when
	// there is none, or none is known yet and the lookup failed, the error is of kind
	// errs.Unavailable. The caller may keep the returned slice.
	Endpoints(ctx context.Context, service string) ([]string, error)
	// Close stops watching and releases what the Peers holds; later calls of Endpoints fail.
	Close()
}

// Static is Peers from the configuration: each service name maps to fixed base URLs, typically
// one Kubernetes service URL such as http://identity.csi.svc:8080.
type Static struct {
	urls   map[string][]string
	closed atomic.Bool
}

// NewStatic returns Peers that always answer with urls. Blank URLs are dropped and trailing
// slashes trimmed; urls is copied.
func NewStatic(urls map[string][]string) *Static {
	s := &Static{urls: make(map[string][]string, len(urls))}
	for service, list := range urls {
		for _, u := range list {
			u = strings.TrimRight(strings.TrimSpace(u), "/")
			if u != "" {
				s.urls[service] = append(s.urls[service], u)
			}
		}
	}
	return s
}

// Endpoints returns the configured URLs of service, or an errs.Unavailable error when none is
// configured.
func (s *Static) Endpoints(ctx context.Context, service string) ([]string, error) {
	if s.closed.Load() {
		return nil, errs.E(errs.Unavailable, "peer discovery is closed")
	}
	list := s.urls[service]
	if len(list) == 0 {
		return nil, errs.E(errs.Unavailable, "no URL configured for peer service %q", service)
	}
	return append([]string(nil), list...), nil
}

// Close makes later calls of Endpoints fail.
func (s *Static) Close() { s.closed.Store(true) }

// RoundRobin returns a function that picks one base URL of service per call, in turn, from the
// instances p currently knows. It fails with an errs.Unavailable error when there is none. The
// function is safe for concurrent use.
func RoundRobin(p Peers, service string) func(ctx context.Context) (string, error) {
	var next atomic.Uint64
	return func(ctx context.Context) (string, error) {
		urls, err := p.Endpoints(ctx, service)
		if err != nil {
			return "", err
		}
		if len(urls) == 0 { // a Peers that breaks its contract
			return "", errs.E(errs.Unavailable, "no instance of peer service %q", service)
		}
		i := (next.Add(1) - 1) % uint64(len(urls))
		return urls[i], nil
	}
}
