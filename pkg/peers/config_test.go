package peers_test

import (
	"context"
	"crypto/rand"
	"errors"
	"log/slog"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/csi-lombardia/csi/pkg/app"
	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/errs"
	"github.com/csi-lombardia/csi/pkg/peers"
)

func TestConsul(t *testing.T) {
	addr := os.Getenv("CSI_TEST_CONSUL_ADDR")
	if addr == "" {
		t.Fatal(`CSI_TEST_CONSUL_ADDR is not set: run eval "$(scripts/test-env.sh)" first`)
	}
	consul, err := discovery.NewClient(addr)
	if err != nil {
		t.Fatal(err)
	}
	f := newFixture(t, scope)
	p := newPeer(t, "consul", f.iss)
	service := "csi-peers-test-" + strings.ToLower(rand.Text()[:10])
	port := p.srv.Listener.Addr().(*net.TCPAddr).Port
	ctx := context.Background()
	dereg, err := discovery.Register(ctx, consul, discovery.Registration{Service: service, Address: "127.0.0.1", Port: port,
		CheckInterval: time.Second, CheckTimeout: time.Second}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatalf("register in consul: %v", err)
	}
	t.Cleanup(func() { _ = dereg(context.Background()) })
	found := discovery.NewConsul(consul, slog.New(slog.DiscardHandler), true)
	defer found.Close()

	c, err := peers.New(peers.Config{Name: "things", Service: service, Peers: found, Tokens: f.cc, Timeout: 2 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	get := getThing(c)
	// The instance is critical, so unknown to passing-only lookups, until its first check passes.
	waitFor(t, "the instance registered in consul answers", func() bool {
		th, err := get(ctx, "t1")
		return err == nil && th.Instance == "consul"
	})

	// Deregistered, it is gone: Unavailable with Retry-After.
	if err := dereg(ctx); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deregistered instance is unavailable", func() bool {
		_, err := get(ctx, "t1")
		var e *errs.Error
		return errors.As(err, &e) && e.Kind == errs.Unavailable && e.RetryAfter == peers.DefaultRetryAfter
	})
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 30 s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestLoadSettings(t *testing.T) {
	t.Setenv("CSI_INTAKE_CLIENT_ID", "0190a3c4-0000-7000-8000-000000000001")
	t.Setenv("CSI_INTAKE_CLIENT_SECRET", "hunter2-secret")
	t.Setenv("CSI_REGISTRY_URL", "http://registry.csi.svc:8080/")
	t.Setenv("CSI_IDENTITY_URL", "")
	t.Setenv("CSI_PEER_TIMEOUT", "750ms")
	var env app.Env
	s := peers.LoadSettings(&env, "intake", "", map[string]string{"registry": "http://127.0.0.1:8082", "fna": "http://127.0.0.1:8085"})
	if err := env.Err(); err != nil {
		t.Fatal(err)
	}
	want := peers.Settings{Service: "intake", URLs: map[string]string{"registry": "http://registry.csi.svc:8080/", "fna": "http://127.0.0.1:8085"},
		IdentityURL: "http://127.0.0.1:8081", ClientID: "0190a3c4-0000-7000-8000-000000000001", ClientSecret: "hunter2-secret",
		Timeout: 750 * time.Millisecond}
	if diff := cmp.Diff(s, want); diff != "" {
		t.Errorf("settings (-got +want):\n%s", diff)
	}
	if m := env.Masked(); m["CSI_INTAKE_CLIENT_SECRET"] != "*****" {
		t.Errorf("the secret is not masked in the start-up log: %q", m["CSI_INTAKE_CLIENT_SECRET"])
	}

	set, err := peers.Open(s, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer set.Close()
	if got, want := set.Tokens.TokenURL, "http://127.0.0.1:8081"+auth.TokenPath; got != want {
		t.Errorf("token URL = %q, want %q", got, want)
	}
	urls, err := set.Peers.Endpoints(context.Background(), "csi-registry")
	if err != nil || !cmp.Equal(urls, []string{"http://registry.csi.svc:8080"}) {
		t.Errorf("registry instances = %v, %v; want the configured URL", urls, err)
	}
	if c, err := set.Client("registry"); err != nil || c.Name() != "registry" {
		t.Errorf("Client(registry) = %v, %v", c, err)
	}
	if _, err := set.Client("reporting"); err == nil {
		t.Error("Client(a peer without a URL) succeeded")
	}

	// Without the client's credentials the service does not start.
	t.Setenv("CSI_INTAKE_CLIENT_ID", "")
	t.Setenv("CSI_INTAKE_CLIENT_SECRET", "")
	t.Setenv("CSI_PEER_TIMEOUT", "2h")
	var bad app.Env
	peers.LoadSettings(&bad, "intake", "", nil)
	err = bad.Err()
	for _, name := range []string{"CSI_INTAKE_CLIENT_ID", "CSI_INTAKE_CLIENT_SECRET", "CSI_PEER_TIMEOUT"} {
		if err == nil || !strings.Contains(err.Error(), name) {
			t.Errorf("configuration error %v does not name %s", err, name)
		}
	}
}
