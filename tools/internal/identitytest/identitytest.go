// Package identitytest runs the real identity service for the tools' tests: it builds the
// binary from the checkout and starts it on a fresh database of the test PostgreSQL server
// (CSI_TEST_DATABASE_URL), bootstrapped with an ambito and its administrator. StartService
// runs another service of the checkout the same way.
package identitytest

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/services/identity"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// Server is a running identity service.
type Server struct {
	URL         string // http://127.0.0.1:PORT
	DatabaseURL string
	MasterKey   string // base64
	LogPath     string
}

// Build compiles the identity service into dir and returns the binary's path.
func Build(tb testing.TB, dir string) string { return BuildService(tb, dir, "identity") }

// BuildService compiles the service name of the checkout (services/<name>/cmd/<name>) into dir
// and returns the binary's path.
func BuildService(tb testing.TB, dir, name string) string {
	tb.Helper()
	root, err := repo.Root("")
	if err != nil {
		tb.Fatal(err)
	}
	bin := filepath.Join(dir, name)
	cmd := exec.Command("go", "build", "-o", bin, "./services/"+name+"/cmd/"+name)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		tb.Fatalf("build the %s service: %v\n%s", name, err, out)
	}
	return bin
}

// Options say how to start the service; the zero value is a fresh database and master key
// and no bootstrap.
type Options struct {
	DatabaseURL string // empty: a fresh database (pgtest.NewURL)
	MasterKey   string // base64; empty: a new random one
	Bootstrap   identity.Bootstrap
	// Env are further CSI_... settings, NAME=value (e.g. CSI_IDENTITY_CLIENT_ACCESS_TTL=3s).
	Env []string
}

// Start builds the identity service, starts it as opt says and waits until it is ready. It is
// stopped when the test ends (before a fresh database is dropped); its log is shown if the
// test failed.
func Start(t *testing.T, opt Options) *Server {
	t.Helper()
	s := &Server{DatabaseURL: opt.DatabaseURL, MasterKey: opt.MasterKey}
	if s.DatabaseURL == "" {
		s.DatabaseURL = pgtest.NewURL(t)
	}
	if s.MasterKey == "" {
		key := make([]byte, 32)
		_, _ = rand.Read(key)
		s.MasterKey = base64.StdEncoding.EncodeToString(key)
	}
	boot := opt.Bootstrap
	env := append([]string{
		"CSI_DATABASE_URL=" + s.DatabaseURL,
		"CSI_IDENTITY_MASTER_KEY=" + s.MasterKey,
		"CSI_BOOTSTRAP_AMBITO_CODE=" + boot.AmbitoCode,
		"CSI_BOOTSTRAP_AMBITO_NAME=" + boot.AmbitoName,
		"CSI_BOOTSTRAP_AZIENDA_NAME=" + boot.AziendaName,
		"CSI_BOOTSTRAP_ADMIN_EMAIL=" + boot.AdminEmail,
		"CSI_BOOTSTRAP_ADMIN_PASSWORD=" + boot.AdminPassword,
		"CSI_BOOTSTRAP_ADMIN_FISCAL_CODE=" + boot.AdminFiscalCode,
		"CSI_BOOTSTRAP_ADMIN_GIVEN_NAME=" + boot.AdminGivenName,
		"CSI_BOOTSTRAP_ADMIN_FAMILY_NAME=" + boot.AdminFamilyName,
	}, opt.Env...)
	s.URL, s.LogPath = StartService(t, "identity", env)
	return s
}

// StartService builds the service name, starts it with the CSI_... settings env (NAME=value;
// CSI_HTTP_ADDR, the log format and the shutdown delays are set here) and waits until it is
// ready. It returns its URL and the path of its log. It is stopped when the test ends; its log
// is shown if the test failed.
func StartService(t *testing.T, name string, env []string) (url, logPath string) {
	t.Helper()
	dir := t.TempDir()
	bin := BuildService(t, dir, name)
	logPath = filepath.Join(dir, name+".log")
	addr := freeAddr(t)
	url = "http://" + addr

	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin)
	cmd.Env = append(append(os.Environ(),
		"CSI_HTTP_ADDR="+addr,
		"CSI_LOG_FORMAT=text",
		"CSI_DRAIN_DELAY=0s",
		"CSI_SHUTDOWN_GRACE=2s",
	), env...)
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	done := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(done)
	}()
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
		_ = logFile.Close()
		if t.Failed() {
			b, _ := os.ReadFile(logPath)
			t.Logf("%s log:\n%s", name, tail(string(b), 40))
		}
	})

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+"/readyz", nil)
		if resp, err := client.Do(req); err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return url, logPath
			}
		}
		select {
		case <-done:
			b, _ := os.ReadFile(logPath)
			t.Fatalf("%s exited while starting (%v):\n%s", name, waitErr, tail(string(b), 40))
		case <-ctx.Done():
			t.Fatalf("%s was not ready within a minute", name)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return "127.0.0.1:" + strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
