package suite

import (
	"bytes"
	"context"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// TestPrivateServersAreNotShared: the private PostgreSQL and Redis of the scripts belong to one
// run directory. That run directory reuses them; any other on the same ports (make run and
// make test, or two checkouts) gets an error naming them, never the other's server.
func TestPrivateServersAreNotShared(t *testing.T) {
	if m, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb"); len(m) == 0 {
		t.Fatal("no PostgreSQL server binaries under /usr/lib/postgresql: run the tests with make test, which installs them")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Fatal("no redis-server: run the tests with make test, which installs it")
	}
	t.Setenv("CSI_DATABASE_URL", "")
	t.Setenv("CSI_REDIS_URL", "")
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ports := freePorts(t, 2)
	pgPort, redisPort := strconv.Itoa(ports), strconv.Itoa(ports+1)
	env := func(dir string) []string {
		return append(os.Environ(), "CSI_RUN_DIR="+dir, "CSI_PG_PORT="+pgPort, "CSI_REDIS_PORT="+redisPort)
	}
	dirA, dirB := runDir(t), runDir(t)

	t.Run("PostgreSQL", func(t *testing.T) {
		var logA bytes.Buffer
		a, err := openServer(ctx, root, env(dirA), &logA)
		if err != nil {
			t.Fatalf("first start: %v\n%s", err, &logA)
		}
		t.Cleanup(func() {
			if err := a.stop(io.Discard); err != nil {
				t.Error(err)
			}
		})
		if !a.started {
			t.Errorf("first start: started = false, want true (port %s was free)", pgPort)
		}
		again, err := openServer(ctx, root, env(dirA), &logA)
		if err != nil {
			t.Fatalf("the same run directory again: %v\n%s", err, &logA)
		}
		if again.started || again.url != a.url {
			t.Errorf("the same run directory again: started %v, url %s; want the running cluster %s reused", again.started, again.url, a.url)
		}

		var logB bytes.Buffer
		b, err := openServer(ctx, root, env(dirB), &logB)
		if err == nil {
			t.Fatalf("another run directory got the cluster of %s (%s), want an error", dirA, b.url)
		}
		if got, want := logB.String(), "held by the PostgreSQL of data directory "+filepath.Join(dirA, "pg"); !strings.Contains(got, want) {
			t.Errorf("another run directory's error:\n%s\nwant it to say %q", got, want)
		}
	})

	t.Run("Redis", func(t *testing.T) {
		var logA bytes.Buffer
		u, err := runScript(ctx, root, env(dirA), &logA, "redis.sh", "start")
		if err != nil {
			t.Fatalf("first start: %v\n%s", err, &logA)
		}
		t.Cleanup(func() {
			if _, err := runScript(context.Background(), root, env(dirA), io.Discard, "redis.sh", "stop"); err != nil {
				t.Error(err)
			}
		})
		if again, err := runScript(ctx, root, env(dirA), &logA, "redis.sh", "start"); err != nil || again != u {
			t.Errorf("the same run directory again: %q, %v; want %s reused\n%s", again, err, u, &logA)
		}
		var logB bytes.Buffer
		if got, err := runScript(ctx, root, env(dirB), &logB, "redis.sh", "start"); err == nil {
			t.Fatalf("another run directory got the Redis of %s (%s), want an error", dirA, got)
		}
		if got, want := logB.String(), "held by the Redis server of pid file "+filepath.Join(dirA, "redis", "redis.pid"); !strings.Contains(got, want) {
			t.Errorf("another run directory's error:\n%s\nwant it to say %q", got, want)
		}
	})
}

// runDir returns a fresh run directory that the postgres user can enter too (the scripts run
// the server as that user when they run as root).
func runDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	for _, p := range []string{filepath.Dir(d), d} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return d
}
