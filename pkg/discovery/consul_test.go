package discovery

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/hashicorp/consul/api"

	"github.com/csi-lombardia/csi/pkg/errs"
)

// waitLimit is how long a test waits for Consul to reflect a change. The health checks run
// every second; the limit is generous so a loaded machine does not fail the tests.
const waitLimit = 30 * time.Second

// testClient returns a client for the Consul agent of the test environment.
func testClient(t *testing.T) *api.Client {
	t.Helper()
	addr := os.Getenv("CSI_TEST_CONSUL_ADDR")
	if addr == "" {
		t.Fatal(`CSI_TEST_CONSUL_ADDR is not set: run eval "$(scripts/test-env.sh)" first`)
	}
	c, err := NewClient(addr)
	if err != nil {
		t.Fatalf("NewClient(%q) error = %v", addr, err)
	}
	return c
}

// uniqueService returns a service name no other test run uses.
func uniqueService(prefix string) string {
	return prefix + "-" + strings.ToLower(rand.Text()[:10])
}

// instance is an HTTP server whose /readyz answers with a status that the test can change.
type instance struct {
	status atomic.Int32
	srv    *httptest.Server
	port   int
}

func newInstance(t *testing.T, status int) *instance {
	t.Helper()
	in := &instance{}
	in.status.Store(int32(status))
	in.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/readyz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(int(in.status.Load()))
	}))
	t.Cleanup(in.srv.Close)
	in.port = in.srv.Listener.Addr().(*net.TCPAddr).Port
	return in
}

func (in *instance) url() string { return fmt.Sprintf("http://127.0.0.1:%d", in.port) }

// register registers in as an instance of service with a one-second check and deregisters it
// when the test ends.
func register(t *testing.T, c *api.Client, service string, in *instance) (deregister func(context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	dereg, err := Register(ctx, c, Registration{
		Service:       service,
		Address:       "127.0.0.1",
		Port:          in.port,
		Meta:          map[string]string{"version": "test"},
		CheckInterval: time.Second,
		CheckTimeout:  time.Second,
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("Register(%s, port %d) error = %v", service, in.port, err)
	}
	t.Cleanup(func() {
		if err := dereg(context.Background()); err != nil {
			t.Errorf("deregister %s at cleanup: %v", service, err)
		}
	})
	return dereg
}

// waitEndpoints polls p until Endpoints(service) returns want, in any order, or fails the test
// after waitLimit. A nil want waits for an errs.Unavailable error.
func waitEndpoints(t *testing.T, p Peers, service string, want []string) {
	t.Helper()
	want = slices.Sorted(slices.Values(want))
	deadline := time.Now().Add(waitLimit)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		got, err := p.Endpoints(ctx, service)
		cancel()
		slices.Sort(got)
		switch {
		case want == nil && errs.KindOf(err) == errs.Unavailable:
			return
		case want != nil && err == nil && cmp.Equal(got, want):
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Endpoints(%s) = %v, %v after %v; want %v", service, got, err, waitLimit, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// waitCheckOutput polls the agent until the health check of the instance registered with id
// has run and its output contains text.
func waitCheckOutput(t *testing.T, c *api.Client, id, text string) {
	t.Helper()
	deadline := time.Now().Add(waitLimit)
	for {
		checks, err := c.Agent().Checks()
		var outputs []string
		for _, ch := range checks {
			if ch.ServiceID == id {
				if strings.Contains(ch.Output, text) {
					return
				}
				outputs = append(outputs, ch.Status+": "+ch.Output)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("checks of %s = %q (error %v) after %v; want output containing %q", id, outputs, err, waitLimit, text)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestConsul(t *testing.T) {
	c := testClient(t)
	service := uniqueService("discovery-test")
	a, b, sick := newInstance(t, http.StatusOK), newInstance(t, http.StatusOK), newInstance(t, http.StatusServiceUnavailable)
	deregA := register(t, c, service, a)
	register(t, c, service, b)
	register(t, c, service, sick)

	var logs bytes.Buffer
	passing := NewConsul(c, slog.New(slog.NewJSONHandler(&logs, nil)), true)
	defer passing.Close()
	all := NewConsul(c, slog.New(slog.DiscardHandler), false)
	defer all.Close()

	// Both healthy instances appear; the one answering 503 does not, once its check has run.
	waitEndpoints(t, passing, service, []string{a.url(), b.url()})
	waitCheckOutput(t, c, fmt.Sprintf("%s-127.0.0.1-%d", service, sick.port), "503")
	got, err := passing.Endpoints(context.Background(), service)
	slices.Sort(got)
	if want := slices.Sorted(slices.Values([]string{a.url(), b.url()})); err != nil || !cmp.Equal(got, want) {
		t.Fatalf("passing Endpoints(%s) with a failing instance = %v, %v; want %v", service, got, err, want)
	}
	// Without passingOnly the failing instance is listed too.
	waitEndpoints(t, all, service, []string{a.url(), b.url(), sick.url()})

	// Round robin over what Consul knows.
	next := RoundRobin(passing, service)
	picks := map[string]int{}
	for range 4 {
		u, err := next(context.Background())
		if err != nil {
			t.Fatalf("RoundRobin next() error = %v", err)
		}
		picks[u]++
	}
	if diff := cmp.Diff(picks, map[string]int{a.url(): 2, b.url(): 2}); diff != "" {
		t.Errorf("round robin picks (-got +want):\n%s", diff)
	}

	// Deregistering an instance removes it; deregistering again is harmless.
	if err := deregA(context.Background()); err != nil {
		t.Fatalf("deregister a: %v", err)
	}
	if err := deregA(context.Background()); err != nil {
		t.Errorf("second deregister of a: %v", err)
	}
	waitEndpoints(t, passing, service, []string{b.url()})
	waitEndpoints(t, all, service, []string{b.url(), sick.url()})

	// An instance that stops being ready leaves the passing set; with none left, Unavailable.
	b.status.Store(http.StatusServiceUnavailable)
	waitEndpoints(t, passing, service, nil)
	// And comes back when ready again.
	b.status.Store(http.StatusOK)
	waitEndpoints(t, passing, service, []string{b.url()})

	// A service nobody registered has no instance.
	if _, err := passing.Endpoints(context.Background(), uniqueService("nobody")); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("Endpoints(unregistered service) error = %v, want kind unavailable", err)
	}

	passing.Close()
	if _, err := passing.Endpoints(context.Background(), service); errs.KindOf(err) != errs.Unavailable {
		t.Errorf("Endpoints after Close error = %v, want kind unavailable", err)
	}
	passing.Close() // a second Close is harmless
	if strings.Contains(logs.String(), `"level":"ERROR"`) {
		t.Errorf("the instancer logged errors:\n%s", logs.String())
	}
}

func TestRegisterReplacesSameID(t *testing.T) {
	c := testClient(t)
	service := uniqueService("discovery-reregister")
	in := newInstance(t, http.StatusOK)
	register(t, c, service, in)
	register(t, c, service, in) // a restarted instance registering again with the same ID

	p := NewConsul(c, slog.New(slog.DiscardHandler), true)
	defer p.Close()
	waitEndpoints(t, p, service, []string{in.url()})

	services, err := c.Agent().ServicesWithFilter(fmt.Sprintf("Service == %q", service))
	if err != nil {
		t.Fatalf("list agent services: %v", err)
	}
	if len(services) != 1 {
		t.Errorf("agent services named %s = %d, want 1", service, len(services))
	}
	for id, s := range services {
		if want := fmt.Sprintf("%s-127.0.0.1-%d", service, in.port); id != want {
			t.Errorf("service ID = %q, want %q", id, want)
		}
		if diff := cmp.Diff(s.Meta, map[string]string{"version": "test"}); diff != "" {
			t.Errorf("service meta (-got +want):\n%s", diff)
		}
	}
}

func TestUnreachableConsul(t *testing.T) {
	c, err := NewClient("127.0.0.1:1")
	if err != nil {
		t.Fatalf("NewClient error = %v", err)
	}

	t.Run("register", func(t *testing.T) {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		dereg, err := Register(ctx, c, Registration{Service: "unreachable", Address: "127.0.0.1", Port: 8080}, slog.New(slog.DiscardHandler))
		if errs.KindOf(err) != errs.Unavailable || dereg != nil {
			t.Errorf("Register against an unreachable agent = %v, %v; want nil and an error of kind unavailable", dereg != nil, err)
		}
	})

	t.Run("peers", func(t *testing.T) {
		p := NewConsul(c, slog.New(slog.DiscardHandler), true)
		defer p.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		urls, err := p.Endpoints(ctx, "unreachable")
		if errs.KindOf(err) != errs.Unavailable {
			t.Errorf("Endpoints against an unreachable agent = %v, %v; want an error of kind unavailable", urls, err)
		}
	})
}

func TestRegisterInvalid(t *testing.T) {
	c, err := NewClient("127.0.0.1:1") // never called: validation comes first
	if err != nil {
		t.Fatalf("NewClient error = %v", err)
	}
	tests := []struct {
		name   string
		reg    Registration
		fields []string
	}{
		{name: "empty", reg: Registration{}, fields: []string{"service", "address", "port"}},
		{name: "port out of range", reg: Registration{Service: "s", Address: "127.0.0.1", Port: 70000}, fields: []string{"port"}},
		{name: "negative interval", reg: Registration{Service: "s", Address: "127.0.0.1", Port: 80, CheckInterval: -time.Second}, fields: []string{"check_interval"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Register(context.Background(), c, tt.reg, nil)
			var e *errs.Error
			if !errors.As(err, &e) || e.Kind != errs.Invalid {
				t.Fatalf("Register(%+v) error = %v, want kind invalid", tt.reg, err)
			}
			var got []string
			for _, f := range e.Fields {
				got = append(got, f.Field)
			}
			if diff := cmp.Diff(got, tt.fields); diff != "" {
				t.Errorf("invalid fields (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRegistrationDefaults(t *testing.T) {
	got, err := Registration{Service: "identity", Address: "10.0.0.7", Port: 8080, HealthPath: "ready", CheckInterval: 2 * time.Second}.withDefaults()
	if err != nil {
		t.Fatalf("withDefaults error = %v", err)
	}
	want := Registration{
		Service: "identity", ID: "identity-10.0.0.7-8080", Address: "10.0.0.7", Port: 8080,
		HealthPath: "/ready", CheckInterval: 2 * time.Second, CheckTimeout: 2 * time.Second, DeregisterAfter: time.Minute,
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("withDefaults (-got +want):\n%s", diff)
	}
	if got, want := got.healthURL(), "http://10.0.0.7:8080/ready"; got != want {
		t.Errorf("healthURL = %q, want %q", got, want)
	}
}

func TestNewClient(t *testing.T) {
	tests := []struct {
		addr    string
		wantErr bool
	}{
		{addr: "127.0.0.1:8500"},
		{addr: "http://consul.csi.svc:8500"},
		{addr: "https://consul.example.org:8501/"},
		{addr: "", wantErr: true},
		{addr: "ftp://consul:21", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			_, err := NewClient(tt.addr)
			if tt.wantErr {
				if errs.KindOf(err) != errs.Invalid {
					t.Errorf("NewClient(%q) error = %v, want kind invalid", tt.addr, err)
				}
				return
			}
			if err != nil {
				t.Errorf("NewClient(%q) error = %v", tt.addr, err)
			}
		})
	}
}
