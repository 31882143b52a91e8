package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-kit/kit/sd"
	sdconsul "github.com/go-kit/kit/sd/consul"
	"github.com/go-kit/log"
	"github.com/hashicorp/consul/api"

	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/logging"
)

const (
	// requestTimeout bounds every Consul call that does not block by design: registration,
	// deregistration and the first lookup of a service.
	requestTimeout = 10 * time.Second
	// dialTimeout bounds connecting to the Consul agent.
	dialTimeout = 3 * time.Second
	// blockingWait is how long a blocking health query waits for a change before Consul answers
	// with the unchanged set and the instancer asks again.
	blockingWait = 5 * time.Minute
)

// NewClient returns a Consul API client for the agent at addr, "host:port" or a URL
// ("http://host:port", "https://host:port"). The client dials with a short timeout; every call
// this package makes also carries its own deadline. The usual CONSUL_HTTP_TOKEN and TLS
// variables of the Consul API are honoured.
func NewClient(addr string) (*api.Client, error) {
	addr = strings.TrimRight(strings.TrimSpace(addr), "/")
	if addr == "" {
		return nil, errs.E(errs.Invalid, "consul address is empty")
	}
	cfg := api.DefaultConfig()
	cfg.Address = addr
	if !strings.Contains(addr, "://") {
		cfg.Scheme = "http"
	}
	cfg.Transport.DialContext = (&net.Dialer{Timeout: dialTimeout, KeepAlive: 30 * time.Second}).DialContext
	cfg.Transport.TLSHandshakeTimeout = dialTimeout
	c, err := api.NewClient(cfg)
	if err != nil {
		return nil, errs.Wrap(errs.Invalid, err, "consul address %q is not valid", addr)
	}
	return c, nil
}

// Registration describes one instance of a service for Consul.
type Registration struct {
	Service string            // the service name peers look up, e.g. "identity"
	ID      string            // unique per instance; default "<Service>-<Address>-<Port>"
	Address string            // the address peers and the Consul agent reach the instance at
	Port    int               // its HTTP port
	Tags    []string          // optional
	Meta    map[string]string // optional, e.g. {"version": "1.2.0"}

	HealthPath      string        // the readiness path the agent polls; default "/readyz"
	CheckInterval   time.Duration // default 10s
	CheckTimeout    time.Duration // default 5s, at most CheckInterval
	DeregisterAfter time.Duration // critical this long, the instance is removed; default 1m (Consul's minimum)
}

// withDefaults validates r and fills in its defaults.
func (r Registration) withDefaults() (Registration, error) {
	var f errs.Fields
	f.Check(strings.TrimSpace(r.Service) != "", "service", "is required")
	f.Check(strings.TrimSpace(r.Address) != "", "address", "is required")
	f.Check(r.Port > 0 && r.Port < 65536, "port", "must be between 1 and 65535")
	f.Check(r.CheckInterval >= 0, "check_interval", "must not be negative")
	f.Check(r.CheckTimeout >= 0, "check_timeout", "must not be negative")
	f.Check(r.DeregisterAfter >= 0, "deregister_after", "must not be negative")
	if err := f.Err(); err != nil {
		return r, err
	}
	if r.ID == "" {
		r.ID = fmt.Sprintf("%s-%s-%d", r.Service, r.Address, r.Port)
	}
	if r.HealthPath == "" {
		r.HealthPath = "/readyz"
	}
	if !strings.HasPrefix(r.HealthPath, "/") {
		r.HealthPath = "/" + r.HealthPath
	}
	if r.CheckInterval == 0 {
		r.CheckInterval = 10 * time.Second
	}
	if r.CheckTimeout == 0 {
		r.CheckTimeout = 5 * time.Second
	}
	r.CheckTimeout = min(r.CheckTimeout, r.CheckInterval)
	if r.DeregisterAfter == 0 {
		r.DeregisterAfter = time.Minute
	}
	return r, nil
}

// healthURL is the URL the Consul agent polls.
func (r Registration) healthURL() string {
	return "http://" + net.JoinHostPort(r.Address, strconv.Itoa(r.Port)) + r.HealthPath
}

// Register registers the instance r with the Consul agent behind client, with an HTTP health
// check of http://Address:Port+HealthPath, replacing an earlier registration with the same ID.
// The instance is critical, and so invisible to passing-only lookups, until its first check
// passes. Register returns the function that deregisters it, to call at shutdown after the
// server stopped being ready; deregistering an instance that is already gone is no error, so
// the function may be retried. Errors are of kind errs.Invalid for a bad registration,
// errs.Forbidden when Consul's ACLs refuse it, errs.Unavailable otherwise (agent unreachable).
func Register(ctx context.Context, client *api.Client, r Registration, logger *slog.Logger) (deregister func(context.Context) error, err error) {
	r, err = r.withDefaults()
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.Default()
	}
	reg := &api.AgentServiceRegistration{
		ID:      r.ID,
		Name:    r.Service,
		Tags:    r.Tags,
		Port:    r.Port,
		Address: r.Address,
		Meta:    r.Meta,
		Check: &api.AgentServiceCheck{
			Name:                           r.Service + " readiness",
			HTTP:                           r.healthURL(),
			Method:                         http.MethodGet,
			Interval:                       r.CheckInterval.String(),
			Timeout:                        r.CheckTimeout.String(),
			DeregisterCriticalServiceAfter: r.DeregisterAfter.String(),
		},
	}
	rctx, cancel := context.WithTimeout(ctx, requestTimeout)
	defer cancel()
	opts := api.ServiceRegisterOpts{ReplaceExistingChecks: true}.WithContext(rctx)
	if err := client.Agent().ServiceRegisterOpts(reg, opts); err != nil {
		return nil, translate(err, "register %s in consul", r.ID)
	}
	logger.Info("registered in consul", "service", r.Service, "id", r.ID, "check", r.healthURL())

	deregister = func(ctx context.Context) error {
		dctx, cancel := context.WithTimeout(ctx, requestTimeout)
		defer cancel()
		err := client.Agent().ServiceDeregisterOpts(r.ID, (&api.QueryOptions{}).WithContext(dctx))
		var se api.StatusError
		if errors.As(err, &se) && se.Code == http.StatusNotFound {
			return nil // already gone: reaped after DeregisterAfter, or deregistered before
		}
		if err != nil {
			return translate(err, "deregister %s from consul", r.ID)
		}
		logger.Info("deregistered from consul", "service", r.Service, "id", r.ID)
		return nil
	}
	return deregister, nil
}

// translate gives a Consul API error its kind.
func translate(err error, format string, args ...any) error {
	kind := errs.Unavailable
	var se api.StatusError
	if errors.As(err, &se) {
		switch se.Code {
		case http.StatusBadRequest:
			kind = errs.Invalid
		case http.StatusUnauthorized, http.StatusForbidden:
			kind = errs.Forbidden
		}
	}
	return errs.Wrap(kind, err, format, args...)
}

var (
	_ Peers = (*Consul)(nil)
	_ Peers = (*Static)(nil)
)

// Consul is Peers from Consul's health API. For each service name asked for, it keeps one
// go-kit Consul instancer, created on first use, whose blocking queries keep the set of
// instances current: Endpoints reads that set and does not call Consul.
type Consul struct {
	client      sdconsul.Client
	logger      log.Logger
	passingOnly bool

	ctx    context.Context // cancelled by Close; bounds every query
	cancel context.CancelFunc
	wg     sync.WaitGroup // the watch goroutines

	mu      sync.Mutex
	watches map[string]*watch
	closed  bool
}

// NewConsul returns Peers that look services up in Consul through client. With passingOnly,
// only instances whose health checks all pass are returned. The instancers log through logger.
// Close stops them.
func NewConsul(client *api.Client, logger *slog.Logger, passingOnly bool) *Consul {
	ctx, cancel := context.WithCancel(context.Background())
	c := &Consul{
		passingOnly: passingOnly,
		ctx:         ctx,
		cancel:      cancel,
		watches:     make(map[string]*watch),
	}
	c.client = queryClient{Client: sdconsul.NewClient(client), ctx: ctx}
	// After Close, the instancers' last failed queries are expected: do not log them.
	c.logger = quietAfter{next: logging.GoKit(logger), done: ctx.Done()}
	return c
}

// Endpoints returns the base URLs of service's instances as the instancer last saw them. The
// first call for a service waits, within ctx, for the first answer from Consul. After a failed
// query the last known instances are kept, as go-kit's endpointer does.
func (c *Consul) Endpoints(ctx context.Context, service string) ([]string, error) {
	w, err := c.watch(service)
	if err != nil {
		return nil, err
	}
	select {
	case <-w.ready:
	case <-ctx.Done():
		return nil, errs.Wrap(errs.Unavailable, ctx.Err(), "look up peer service %q in consul", service)
	case <-c.ctx.Done():
		return nil, errs.E(errs.Unavailable, "peer discovery is closed")
	}
	w.mu.RLock()
	urls, lastErr := w.urls, w.err
	w.mu.RUnlock()
	if len(urls) == 0 {
		if lastErr != nil {
			return nil, errs.Wrap(errs.Unavailable, lastErr, "look up peer service %q in consul", service)
		}
		return nil, errs.E(errs.Unavailable, "no instance of peer service %q", service)
	}
	return append([]string(nil), urls...), nil
}

// Close stops every instancer and waits for the goroutines watching them. Calls of Endpoints
// after Close fail with errs.Unavailable.
func (c *Consul) Close() {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
}

// watch returns the watch of service, starting it on first use.
func (c *Consul) watch(service string) (*watch, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, errs.E(errs.Unavailable, "peer discovery is closed")
	}
	if w, ok := c.watches[service]; ok {
		return w, nil
	}
	w := &watch{ready: make(chan struct{})}
	c.watches[service] = w
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.run(service, w)
	}()
	return w, nil
}

// run feeds w from an instancer of service until Close.
func (c *Consul) run(service string, w *watch) {
	// NewInstancer makes the first, non-blocking query itself; then its own goroutine runs the
	// blocking queries until Stop.
	inst := sdconsul.NewInstancer(c.client, c.logger, service, nil, c.passingOnly)
	ch := make(chan sd.Event)
	received := make(chan struct{})
	go func() {
		defer close(received)
		for ev := range ch {
			w.update(ev)
		}
	}()
	inst.Register(ch) // sends the current state at once
	<-c.ctx.Done()
	inst.Stop()
	inst.Deregister(ch) // the receiver keeps draining ch meanwhile: a broadcast may be under way
	close(ch)
	<-received
}

// watch is the last known state of one service.
type watch struct {
	ready chan struct{} // closed at the first event
	once  sync.Once

	mu   sync.RWMutex
	urls []string
	err  error // of the last query, nil after a successful one
}

// update records an instancer event. A failed query keeps the last known instances.
func (w *watch) update(ev sd.Event) {
	w.mu.Lock()
	if ev.Err != nil {
		w.err = ev.Err
	} else {
		w.urls = baseURLs(ev.Instances)
		w.err = nil
	}
	w.mu.Unlock()
	w.once.Do(func() { close(w.ready) })
}

// baseURLs turns the instancer's "address:port" instances into base URLs, bracketing IPv6
// addresses (the instancer joins them with a bare colon).
func baseURLs(instances []string) []string {
	urls := make([]string, 0, len(instances))
	for _, in := range instances {
		i := strings.LastIndexByte(in, ':')
		if i < 0 {
			continue
		}
		host := strings.TrimSuffix(strings.TrimPrefix(in[:i], "["), "]")
		urls = append(urls, "http://"+net.JoinHostPort(host, in[i+1:]))
	}
	return urls
}

// queryClient gives the instancer's health queries a deadline and ties them to the Consul
// Peers' lifetime, so that Close also ends a query in flight.
type queryClient struct {
	sdconsul.Client
	ctx context.Context
}

func (q queryClient) Service(service, tag string, passingOnly bool, opts *api.QueryOptions) ([]*api.ServiceEntry, *api.QueryMeta, error) {
	var o api.QueryOptions
	if opts != nil {
		o = *opts
	}
	timeout := requestTimeout
	if o.WaitIndex != 0 {
		o.WaitTime = blockingWait
		timeout += blockingWait + blockingWait/16 // Consul adds up to wait/16 of jitter
	}
	ctx, cancel := context.WithTimeout(q.ctx, timeout)
	defer cancel()
	return q.Client.Service(service, tag, passingOnly, o.WithContext(ctx))
}

// quietAfter drops log records once done is closed.
type quietAfter struct {
	next log.Logger
	done <-chan struct{}
}

func (q quietAfter) Log(keyvals ...any) error {
	select {
	case <-q.done:
		return nil
	default:
		return q.next.Log(keyvals...)
	}
}
