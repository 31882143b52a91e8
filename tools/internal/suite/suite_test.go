package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
)

func TestSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), ".run", "secrets.env")
	first, err := ensureSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range generatedKeys {
		key, err := base64.StdEncoding.DecodeString(first[k])
		if err != nil || len(key) != 32 {
			t.Fatalf("%s %q is not 32 bytes of base64", k, first[k])
		}
	}
	if first["CSI_REGISTRY_PSEUDONYM_KEY_SINBA"] == first["CSI_REGISTRY_PSEUDONYM_KEY_RESEARCH"] {
		t.Error("two purposes share a pseudonym key")
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := fi.Mode().Perm(); got != 0o600 {
		t.Errorf("secrets file mode %o, want 600", got)
	}
	first[KeyClientID], first[KeyClientSecret] = "id-1", "s=cret"
	if err := saveSecrets(path, first); err != nil {
		t.Fatal(err)
	}
	again, err := ensureSecrets(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(again, first); diff != "" {
		t.Errorf("secrets after a restart (-got +want):\n%s", diff)
	}
	if err := os.WriteFile(path, []byte("# comment\n\nnot a pair\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadSecrets(path); err == nil || !strings.Contains(err.Error(), ":3: want KEY=VALUE") {
		t.Errorf("loadSecrets of a bad line = %v, want the line named", err)
	}
}

func TestWithDatabase(t *testing.T) {
	for _, tc := range []struct{ name, server, db, want string }{
		{"private cluster", "postgres://postgres@127.0.0.1:55432/postgres?sslmode=disable", "csi_identity",
			"postgres://postgres@127.0.0.1:55432/csi_identity?sslmode=disable"},
		{"no path", "postgres://u:p@db.example:5432", "csi_fna", "postgres://u:p@db.example:5432/csi_fna"},
		{"other database", "postgres://u@h/app?pool_max_conns=5", "csi_intake", "postgres://u@h/csi_intake?pool_max_conns=5"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := withDatabase(tc.server, tc.db)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("withDatabase(%q, %q) = %q, want %q", tc.server, tc.db, got, tc.want)
			}
		})
	}
	if got, want := Redact("postgres://u:secret@h/db"), "postgres://u:xxxxx@h/db"; got != want {
		t.Errorf("redact = %q, want %q", got, want)
	}
}

func TestEnsureDatabases(t *testing.T) {
	server := pgtest.ServerURL(t)
	prefix := testPrefix(t, server)
	names := []string{prefix + "identity", prefix + "registry"}
	ctx := context.Background()
	for range 2 { // the second time they exist
		urls, err := ensureDatabases(ctx, server, names)
		if err != nil {
			t.Fatal(err)
		}
		for _, n := range names {
			conn, err := pgx.Connect(ctx, urls[n])
			if err != nil {
				t.Fatalf("connect to %s: %v", n, err)
			}
			var got string
			err = conn.QueryRow(ctx, "SELECT current_database()").Scan(&got)
			conn.Close(ctx)
			if err != nil || got != n {
				t.Errorf("current_database() = %q, %v; want %q", got, err, n)
			}
		}
	}
}

func TestServiceTable(t *testing.T) {
	if services[0].name != "identity" {
		t.Errorf("the first service is %s: identity must start first", services[0].name)
	}
	names, offsets := map[string]bool{}, map[int]bool{}
	for _, s := range services {
		if names[s.name] || offsets[s.offset] {
			t.Errorf("service %s repeats a name or a port offset", s.name)
		}
		names[s.name], offsets[s.offset] = true, true
	}
}

func TestEnv(t *testing.T) {
	c := config{host: "127.0.0.1", portBase: 9000, runDir: "/run/csi",
		dbURLs:    map[string]string{"identity": "postgres://h/csi_identity", "registry": "postgres://h/csi_registry"},
		secrets:   map[string]string{keyMasterKey: "KEY", "CSI_REGISTRY_PSEUDONYM_KEY_SINBA": "PK", keyCheckpointKey: "CPK"},
		bootstrap: map[string]string{"CSI_BOOTSTRAP_AMBITO_CODE": "ambito-demo"}}
	t.Setenv("CSI_HTTP_ADDR", ":1") // the suite's own values win
	all := services[:2]
	lookup := func(env []string) map[string]string {
		m := map[string]string{}
		for _, kv := range env { // later values win, as in exec.Cmd
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	id, reg := lookup(c.env(services[0], all)), lookup(c.env(services[1], all))
	for _, tc := range []struct {
		name      string
		env       map[string]string
		key, want string
	}{
		{"identity address", id, "CSI_HTTP_ADDR", "127.0.0.1:9000"},
		{"identity database", id, "CSI_DATABASE_URL", "postgres://h/csi_identity"},
		{"identity master key", id, "CSI_IDENTITY_MASTER_KEY", "KEY"},
		{"identity bootstrap", id, "CSI_BOOTSTRAP_AMBITO_CODE", "ambito-demo"},
		{"text logs", id, "CSI_LOG_FORMAT", "text"},
		{"registry address", reg, "CSI_HTTP_ADDR", "127.0.0.1:9001"},
		{"registry database", reg, "CSI_DATABASE_URL", "postgres://h/csi_registry"},
		{"registry finds the keys", reg, "CSI_JWKS_URL", "http://127.0.0.1:9000/.well-known/jwks.json"},
		{"registry finds identity", reg, "CSI_IDENTITY_URL", "http://127.0.0.1:9000"},
		{"registry has no master key", reg, "CSI_IDENTITY_MASTER_KEY", ""},
		{"registry gets its pseudonym keys", reg, "CSI_REGISTRY_PSEUDONYM_KEY_SINBA", "PK"},
		{"identity does not", id, "CSI_REGISTRY_PSEUDONYM_KEY_SINBA", ""},
		{"identity checkpoint key", id, "CSI_AUDIT_CHECKPOINT_KEY", "CPK"},
		{"registry checkpoint key", reg, "CSI_AUDIT_CHECKPOINT_KEY", "CPK"},
		{"checkpoints in the run directory", reg, "CSI_AUDIT_CHECKPOINT_DIR", "/run/csi/audit-checkpoints"},
	} {
		if got := tc.env[tc.key]; got != tc.want {
			t.Errorf("%s: %s = %q, want %q", tc.name, tc.key, got, tc.want)
		}
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	w := &prefixWriter{w: &out, prefix: "identity | "}
	for _, s := range []string{"first li", "ne\nsecond line\nthi", "rd\n"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	want := "identity | first line\nidentity | second line\nidentity | third\n"
	if got := out.String(); got != want {
		t.Errorf("prefixed output %q, want %q", got, want)
	}
}

// TestStart starts the real suite (no demo data, no Redis) on free ports and databases of its
// own, then takes one service through the fault-injection calls the chaos tool makes.
func TestStart(t *testing.T) {
	server := pgtest.ServerURL(t)
	t.Setenv("CSI_DATABASE_URL", server)
	prefix := testPrefix(t, server)
	ctx := context.Background()
	base := freePorts(t, len(services)+1)
	s, err := Start(ctx, Options{PortBase: base, DBPrefix: prefix, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	if got, want := s.Services(), []string{"identity", "registry"}; !cmp.Equal(got, want) {
		t.Errorf("Services() = %v, want %v", got, want)
	}
	if got, want := s.URL("registry"), "http://127.0.0.1:"+strconv.Itoa(base+1); got != want {
		t.Errorf("URL(registry) = %q, want %q", got, want)
	}
	if got := s.DatabaseURL("registry"); !strings.Contains(got, "/"+prefix+"registry") {
		t.Errorf("DatabaseURL(registry) = %q, want the database %sregistry", got, prefix)
	}
	if s.Secrets()[keyMasterKey] == "" {
		t.Error("no master key in Secrets()")
	}
	ready := func(name string) int {
		resp, err := http.Get(s.URL(name) + "/readyz")
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	if err := s.AddInstance(ctx, "registry", "registry-2", base+len(services)); err != nil {
		t.Fatal(err)
	}
	if got := ready("registry-2"); got != http.StatusOK {
		t.Errorf("registry-2 /readyz = %d, want 200", got)
	}
	pid := s.PID("registry-2")
	if err := s.Signal("registry-2", syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := s.Wait("registry-2"); err != nil {
		t.Errorf("registry-2 after SIGTERM: %v, want a clean exit", err)
	}
	if got := ready("registry-2"); got != 0 {
		t.Errorf("registry-2 answers %d after it exited", got)
	}
	if err := s.Restart(ctx, "registry-2"); err != nil {
		t.Fatal(err)
	}
	if got := ready("registry-2"); got != http.StatusOK || s.PID("registry-2") == pid {
		t.Errorf("after Restart: /readyz %d, pid %d (was %d); want 200 and a new process", got, s.PID("registry-2"), pid)
	}
}

// freePorts returns the first of n consecutive free ports.
func freePorts(t *testing.T, n int) int {
	t.Helper()
	for range 50 {
		b := make([]byte, 2)
		_, _ = rand.Read(b)
		base := 20000 + int(b[0])<<8%20000 + int(b[1])
		free := true
		for p := base; p < base+n && free; p++ {
			free = !busy("127.0.0.1", p)
		}
		if free {
			return base
		}
	}
	t.Fatal("no free ports")
	return 0
}

// testPrefix returns a database name prefix of the test's own; the databases of every service
// under it are dropped when the test ends.
func testPrefix(t *testing.T, server string) string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "t_suite_" + hex.EncodeToString(b) + "_"
	t.Cleanup(func() {
		ctx := context.Background()
		conn, err := pgx.Connect(ctx, server)
		if err != nil {
			t.Log(err)
			return
		}
		defer conn.Close(ctx)
		for _, svc := range services {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{prefix + svc.name}.Sanitize()+" WITH (FORCE)")
		}
	})
	return prefix
}
