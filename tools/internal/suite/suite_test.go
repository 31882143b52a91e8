package suite

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/pkg/pgdb/pgtest"
	"github.com/csi-lombardia/csi/tools/internal/repo"
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

// testServices are the suite's services read from the checkout's services/services.tsv.
func testServices(t *testing.T) []service {
	t.Helper()
	root, err := repo.Root("")
	if err != nil {
		t.Fatal(err)
	}
	svcs, _, err := loadServices(root)
	if err != nil {
		t.Fatal(err)
	}
	return svcs
}

func TestLoadServices(t *testing.T) {
	svcs := testServices(t)
	offsets := map[int]bool{}
	for _, s := range svcs {
		if offsets[s.offset] {
			t.Errorf("service %s repeats a port offset", s.name)
		}
		offsets[s.offset] = true
	}
	if svcs[0].offset != 0 {
		t.Errorf("identity's offset is %d, want 0", svcs[0].offset)
	}
	for _, tc := range []struct {
		name, file, wantErr string
	}{
		{"identity not first", "registry\t8082\nidentity\t8081\n", "identity must start first"},
		{"no file", "", "no such file"},
		{"bad line", "identity 8081\n", "services.tsv: line 1"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			root := t.TempDir()
			if tc.file != "" {
				if err := os.MkdirAll(filepath.Join(root, "services"), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(filepath.Join(root, "services", "services.tsv"), []byte(tc.file), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			if _, _, err := loadServices(root); err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("loadServices = %v, want an error containing %q", err, tc.wantErr)
			}
		})
	}
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "services"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "services", "services.tsv"), []byte("identity\t9100\nregistry\t9105\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	got, base, err := loadServices(root)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []service{{"identity", 0}, {"registry", 5}}, cmp.AllowUnexported(service{})); diff != "" || base != 9100 {
		t.Errorf("loadServices = %v, %d, want offsets from identity's port 9100 (-got +want):\n%s", got, base, diff)
	}
}

func TestEnv(t *testing.T) {
	c := config{host: "127.0.0.1", portBase: 9000, runDir: "/run/csi",
		dbURLs:    map[string]string{"identity": "postgres://h/csi_identity", "registry": "postgres://h/csi_registry"},
		secrets:   map[string]string{keyMasterKey: "KEY", "CSI_REGISTRY_PSEUDONYM_KEY_SINBA": "PK", keyCheckpointKey: "CPK"},
		bootstrap: map[string]string{"CSI_BOOTSTRAP_AMBITO_CODE": "ambito-demo"}}
	t.Setenv("CSI_HTTP_ADDR", ":1") // the suite's own values win
	all := []service{{"identity", 0}, {"registry", 1}, {"interventions", 2}}
	lookup := func(env []string) map[string]string {
		m := map[string]string{}
		for _, kv := range env { // later values win, as in exec.Cmd
			k, v, _ := strings.Cut(kv, "=")
			m[k] = v
		}
		return m
	}
	id, reg, inv := lookup(c.env(all[0], all)), lookup(c.env(all[1], all)), lookup(c.env(all[2], all))
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
		{"interventions' documents in the run directory", inv, "CSI_INTERVENTIONS_DOCUMENTS_DIR", "/run/csi/documents"},
		{"interventions serves their links", inv, "CSI_INTERVENTIONS_DOCUMENTS_LINK_BASE", "http://127.0.0.1:9002/v1/documents:download"},
		{"registry keeps no documents", reg, "CSI_INTERVENTIONS_DOCUMENTS_DIR", ""},
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
	svcs := testServices(t)
	span := 0 // the suite's ports are base .. base+span, the extra instance's base+span+1
	for _, svc := range svcs {
		span = max(span, svc.offset)
	}
	base := freePorts(t, span+2)
	s, err := Start(ctx, Options{PortBase: base, DBPrefix: prefix, RunDir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Stop(); err != nil {
			t.Error(err)
		}
	})
	// The services whose command the checkout has run, in the file's order; the others are skipped.
	var present, skipped []string
	for _, svc := range svcs {
		if svc.present(s.root) {
			present = append(present, svc.name)
		} else {
			skipped = append(skipped, svc.name)
		}
	}
	if got := s.Services(); !cmp.Equal(got, present) || !slices.Contains(got, "registry") {
		t.Errorf("Services() = %v, want %v (registry among them)", got, present)
	}
	if got := s.Skipped(); !cmp.Equal(got, skipped, cmpopts.EquateEmpty()) {
		t.Errorf("Skipped() = %v, want %v", got, skipped)
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
	// Without the demo data the services that need a machine client (intake, interventions)
	// still get theirs, and run.
	for _, svc := range []string{"intake", "interventions"} {
		id, secret := clientKeys(svc)
		if s.has(svc) && (s.Secrets()[secret] == "" || s.URL(svc) == "") {
			t.Errorf("%s without its machine client's secret (%q) or not running (%q)", svc, s.Secrets()[id], s.URL(svc))
		}
	}
	ready := func(name string) int {
		resp, err := http.Get(s.URL(name) + "/readyz")
		if err != nil {
			return 0
		}
		_ = resp.Body.Close()
		return resp.StatusCode
	}

	if err := s.AddInstance(ctx, "registry", "registry-2", base+span+1); err != nil {
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
		for _, svc := range testServices(t) {
			_, _ = conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{prefix + svc.name}.Sanitize()+" WITH (FORCE)")
		}
	})
	return prefix
}

// A suite whose secrets file lost intake's client secret (deleted, or overwritten by another
// suite on the same run directory: make bench writes its own client there) gives the client a
// new secret, and intake starts.
func TestIntakeSecretLost(t *testing.T) {
	server := pgtest.ServerURL(t)
	t.Setenv("CSI_DATABASE_URL", server)
	svcs := testServices(t)
	if !slices.ContainsFunc(svcs, func(s service) bool { return s.name == "intake" }) {
		t.Fatal("no intake in services/services.tsv")
	}
	span := 0
	for _, svc := range svcs {
		span = max(span, svc.offset)
	}
	o := Options{PortBase: freePorts(t, span+1), DBPrefix: testPrefix(t, server), RunDir: t.TempDir()}
	start := func() *Suite {
		s, err := Start(context.Background(), o)
		if err != nil {
			t.Fatal(err)
		}
		if err := s.Stop(); err != nil {
			t.Fatal(err)
		}
		return s
	}
	first := start().Secrets()
	if first[KeyIntakeClientSecret] == "" {
		t.Fatal("no secret of intake's client after the first start")
	}
	// Another suite's client in the file, as make bench leaves it.
	lost := maps.Clone(first)
	lost[KeyIntakeClientID], lost[KeyIntakeClientSecret] = uuid.NewString(), "another suite's"
	if err := saveSecrets(filepath.Join(o.RunDir, "secrets.env"), lost); err != nil {
		t.Fatal(err)
	}
	second := start().Secrets()
	if second[KeyIntakeClientID] != first[KeyIntakeClientID] {
		t.Errorf("intake's client %s, want the one identity has, %s", second[KeyIntakeClientID], first[KeyIntakeClientID])
	}
	if s := second[KeyIntakeClientSecret]; s == "" || s == first[KeyIntakeClientSecret] || s == "another suite's" {
		t.Errorf("intake's client secret after the second start %q: want a new one", s)
	}
}
