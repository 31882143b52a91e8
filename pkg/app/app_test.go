package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/auth/authtest"
	"github.com/csi-lombardia/csi/pkg/discovery"
	"github.com/csi-lombardia/csi/pkg/httpapi"
	"github.com/csi-lombardia/csi/pkg/pgdb"
	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// TestServeRegistersDrainsAndDeregisters runs the process skeleton against a real database and a
// real Consul agent: it registers with a passing check, serves authenticated routes, and on
// cancellation (SIGTERM) deregisters.
func TestServeRegistersDrainsAndDeregisters(t *testing.T) {
	consulAddr := os.Getenv("CSI_TEST_CONSUL_ADDR")
	if consulAddr == "" {
		t.Fatal("CSI_TEST_CONSUL_ADDR is not set: run the tests with 'make test', which starts Consul")
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pool := pgtest.New(t)
	service := "apptest" + time.Now().Format("150405.000000")[7:]
	b := Base{Service: service, HTTPAddr: freeAddr(t), ConsulAddr: consulAddr, AdvertiseAddr: "127.0.0.1",
		DrainDelay: 100 * time.Millisecond, Grace: 5 * time.Second}
	a := New(b, slog.New(slog.NewTextHandler(io.Discard, nil)), prometheus.NewRegistry(), pool, []pgdb.MigrationSet{}...)
	iss := authtest.New(t)
	h := a.Handler(iss.Verifier(), func(mux *httpapi.Mux) {
		mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("pong")) })
	})
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, h) }()

	client, err := discovery.NewClient(consulAddr)
	if err != nil {
		t.Fatal(err)
	}
	peers := discovery.NewConsul(client, nil, true)
	defer peers.Close()
	want := "http://" + b.HTTPAddr
	waitFor(t, "the service to be registered and passing", func() bool {
		eps, err := peers.Endpoints(ctx, "csi-"+service)
		return err == nil && len(eps) == 1 && eps[0] == want
	})

	resp, err := http.Get(want + "/v1/ping")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 {
		t.Errorf("unauthenticated ping = %d, want 401", resp.StatusCode)
	}
	req, _ := http.NewRequest("GET", want+"/v1/ping", nil)
	req.Header.Set("Authorization", "Bearer "+iss.Token(t, authtestClaims()))
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Errorf("authenticated ping = %d, want 200", resp.StatusCode)
	}

	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Serve: %v", err)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("Serve did not return after cancellation")
	}
	services, _, err := client.Catalog().Service("csi-"+service, "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(services) != 0 {
		t.Errorf("still registered after shutdown: %d instances", len(services))
	}
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestEnvCollectsProblemsAndMasksSecrets(t *testing.T) {
	t.Setenv("CSI_T_URL", "postgres://u:hunter2@db/x?password=hunter2")
	t.Setenv("CSI_T_SECRET", "hunter2")
	t.Setenv("CSI_T_BOOL", "maybe")
	t.Setenv("CSI_T_DUR", "soon")
	e := &Env{}
	e.String("CSI_T_URL", "")
	e.Secret("CSI_T_SECRET", "")
	e.Bool("CSI_T_BOOL", false)
	e.Duration("CSI_T_DUR", time.Second)
	e.Required("CSI_T_MISSING", false)
	e.Base64Key("CSI_T_KEY", 32)
	err := e.Err()
	if err == nil {
		t.Fatal("want configuration errors")
	}
	for _, name := range []string{"CSI_T_BOOL", "CSI_T_DUR", "CSI_T_MISSING", "CSI_T_KEY"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("error %q does not name %s", err, name)
		}
	}
	for k, v := range e.Masked() {
		if strings.Contains(v, "hunter2") {
			t.Errorf("%s logged as %q: the secret shows", k, v)
		}
	}
}

// TestClockLeeway reads CSI_AUTH_CLOCK_LEEWAY into the verifier every service builds, and refuses
// a negative leeway or one over a minute at start.
func TestClockLeeway(t *testing.T) {
	tests := []struct {
		name, value string
		want        time.Duration
		wantErr     bool
	}{
		{name: "unset: the default", value: "", want: 5 * time.Second},
		{name: "zero", value: "0s", want: 0},
		{name: "ten seconds", value: "10s", want: 10 * time.Second},
		{name: "one minute", value: "1m", want: time.Minute},
		{name: "over a minute", value: "61s", wantErr: true},
		{name: "negative", value: "-1s", wantErr: true},
		{name: "not a duration", value: "soon", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Setenv("CSI_DATABASE_URL", "postgres://db/x")
			t.Setenv("CSI_AUTH_CLOCK_LEEWAY", tc.value)
			env := &Env{}
			b := LoadBase(env, "apptest", "127.0.0.1:0")
			err := env.Err()
			if got := err != nil; got != tc.wantErr {
				t.Fatalf("Err() = %v, want error %v", err, tc.wantErr)
			}
			if err != nil {
				if !strings.Contains(err.Error(), "CSI_AUTH_CLOCK_LEEWAY") {
					t.Errorf("Err() = %q, want it to name CSI_AUTH_CLOCK_LEEWAY", err)
				}
				return
			}
			if got := b.Verifier(auth.StaticKeys{}).Leeway; got != tc.want {
				t.Errorf("Verifier().Leeway = %s, want %s", got, tc.want)
			}
		})
	}
}

func authtestClaims() auth.Claims {
	return auth.Claims{Subject: "op-1", Role: auth.RoleSocialWorker, AmbitoID: "a-1", OrgID: "o-1"}
}

// migrateOnlySet is a one-table migration set for TestMigrateOnlyAppliesAndExits.
var migrateOnlySet = pgdb.MigrationSet{Name: "apptest_migrate_only", FS: fstest.MapFS{
	"00001_probe.sql": {Data: []byte("-- +goose Up\nCREATE TABLE migrate_only_probe (id int);\n-- +goose Down\nDROP TABLE migrate_only_probe;\n")},
}}

// TestMigrateOnlyAppliesAndExits runs Start in a child process with CSI_MIGRATE_ONLY=true (and
// CSI_MIGRATE=false, as in the Helm hook Job's pod the flag alone must suffice): the child
// applies the migrations and exits 0 instead of returning to serve.
func TestMigrateOnlyAppliesAndExits(t *testing.T) {
	if os.Getenv("CSI_APP_TEST_CHILD") == "migrate-only" {
		env := &Env{}
		b := LoadBase(env, "apptest", "127.0.0.1:0")
		if err := env.Err(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(3)
		}
		// As a main does: Start's ErrMigratedOnly is status 0 (Run, ExitCode).
		os.Exit(Run(func(ctx context.Context) error {
			if _, err := Start(ctx, b, env, migrateOnlySet); err != nil {
				return err
			}
			return errors.New("child: Start returned an App instead of ErrMigratedOnly")
		}))
	}
	dbURL := pgtest.NewURL(t)
	// The child is the test binary itself, run without go test's -test.paniconexit0 so that
	// its os.Exit(0) ends it normally.
	cmd := exec.Command(os.Args[0], "-test.run=^TestMigrateOnlyAppliesAndExits$")
	cmd.Env = append(os.Environ(), "CSI_APP_TEST_CHILD=migrate-only", "CSI_DATABASE_URL="+dbURL,
		"CSI_MIGRATE=false", "CSI_MIGRATE_ONLY=true", "CSI_LOG_FORMAT=text")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("migrate-only child: %v (want exit status 0)\n%s", err, out)
	}
	if !strings.Contains(string(out), "migrations applied; exiting") {
		t.Errorf("child output does not say it exits after migrating:\n%s", out)
	}
	ctx := context.Background()
	pool, err := pgdb.Open(ctx, dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer pool.Close()
	var n int
	if err := pool.QueryRow(ctx, "SELECT count(*) FROM migrate_only_probe").Scan(&n); err != nil {
		t.Errorf("table of the migration set missing after the child exited: %v", err)
	}
}

// TestHandlerRefusesUncleanPaths: a path with dot or empty segments is a 400 problem before
// authentication, on the open paths too, never ServeMux's redirect or a 401.
func TestHandlerRefusesUncleanPaths(t *testing.T) {
	a := &App{Base: Base{Service: "apptest"}, Log: slog.New(slog.DiscardHandler), Registry: prometheus.NewRegistry(),
		Health: &httpapi.Health{Service: "apptest"}}
	iss := authtest.New(t)
	h := a.Handler(iss.Verifier(), func(mux *httpapi.Mux) {
		mux.HandleFunc("GET /v1/ping", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("pong")) })
	})
	tests := []struct {
		path  string
		token bool
		want  int
	}{
		{"/healthz", false, 200},
		{"/v1/ping", true, 200},
		{"/v1/ping", false, 401},
		{"//healthz", false, 400},
		{"/./healthz", false, 400},
		{"/x/../metrics", false, 400},
		{"/v1/./ping", false, 400},
		{"/v1/./ping", true, 400},
		{"//v1/ping", true, 400},
		{"/v1/%2e%2e/v1/ping", true, 400},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s token=%v", tc.path, tc.token), func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, tc.path, nil)
			if tc.token {
				req.Header.Set("Authorization", "Bearer "+iss.Token(t, authtestClaims()))
			}
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.want {
				t.Fatalf("GET %s = %d %s, want %d", tc.path, rec.Code, rec.Body, tc.want)
			}
			if tc.want == 400 && rec.Header().Get("Content-Type") != httpapi.ProblemContentType {
				t.Errorf("content type %q, want a problem", rec.Header().Get("Content-Type"))
			}
		})
	}
}
