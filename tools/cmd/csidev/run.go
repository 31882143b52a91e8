package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/idclient"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// Time limits of a run.
const (
	readyTimeout = 2 * time.Minute  // first start: migrations
	stopTimeout  = 15 * time.Second // then SIGKILL
)

func runSuite(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("csidev run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noSeed := fs.Bool("no-seed", false, "do not load the demo data")
	portBase := fs.Int("port-base", 8081, "port of identity; registry, intake, interventions, fna and reporting take the next five")
	dbPrefix := fs.String("db-prefix", "csi_", "prefix of the services' database names (csi_identity, ...)")
	tail := fs.Bool("tail", false, "also copy the services' logs to the terminal, each line behind its service's name")
	seed := fs.Uint64("seed", demo.DefaultSeed, "seed of the demo data")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	began := time.Now()
	step := func(format string, args ...any) { fmt.Fprintf(stderr, "\033[1m==>\033[0m "+format+"\n", args...) }

	root, err := repo.Root("")
	if err != nil {
		return err
	}
	runDir := filepath.Join(root, ".run")
	logDir := filepath.Join(runDir, "logs")
	if err := os.MkdirAll(logDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", logDir, err)
	}
	pidPath := filepath.Join(runDir, "csidev.pid")
	if pid, alive := runningPID(pidPath); alive {
		return fmt.Errorf("csidev run is already running for this checkout (pid %d): stop it with 'csidev stop'", pid)
	}
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", pidPath, err)
	}

	var present, skipped []service
	for _, s := range services {
		if s.present(root) {
			present = append(present, s)
		} else {
			skipped = append(skipped, s)
		}
	}
	cfg := suite{root: root, host: "127.0.0.1", portBase: *portBase}
	for _, s := range present {
		if busy(cfg.host, cfg.port(s)) {
			_ = os.Remove(pidPath)
			return fmt.Errorf("port %d of %s is in use: another suite is running? (csidev stop, or -port-base)", cfg.port(s), s.name)
		}
	}

	var (
		srv   *dbServer
		procs []*proc
	)
	// Whatever happens from here, leave nothing running.
	defer func() {
		// Read before release, which cancels ctx too.
		interrupted := ctx.Err() != nil
		release()
		if len(procs) > 0 {
			step("stopping %s", procNames(procs))
			stopProcs(procs, stopTimeout)
		}
		if srv != nil && srv.started {
			step("stopping the private PostgreSQL")
			if serr := srv.stop(stderr); serr != nil {
				fmt.Fprintln(stderr, "csidev:", serr)
			}
		}
		_ = os.Remove(pidPath)
		if interrupted && err != nil {
			err = nil // interrupted: a normal end
		}
		if err == nil {
			step("stopped")
		}
	}()

	step("PostgreSQL")
	if srv, err = openServer(ctx, root, stderr); err != nil {
		return err
	}
	cfg.secrets, err = ensureSecrets(filepath.Join(runDir, "secrets.env"))
	if err != nil {
		return err
	}
	names := make([]string, len(present))
	for i, s := range present {
		names[i] = *dbPrefix + s.name
	}
	byDB, err := ensureDatabases(ctx, srv.url, names)
	if err != nil {
		return err
	}
	cfg.dbURLs = map[string]string{}
	for _, s := range present {
		cfg.dbURLs[s.name] = byDB[*dbPrefix+s.name]
	}

	step("building %s", serviceNames(present))
	if err := build(ctx, root, present, stderr); err != nil {
		return err
	}

	d, err := demo.Generate(*seed, places.Default())
	if err != nil {
		return fmt.Errorf("generate the demo data: %w", err)
	}
	b := d.Bootstrap()
	cfg.bootstrap = map[string]string{
		"CSI_BOOTSTRAP_AMBITO_CODE": b.AmbitoCode, "CSI_BOOTSTRAP_AMBITO_NAME": b.AmbitoName,
		"CSI_BOOTSTRAP_AZIENDA_NAME": b.AziendaName, "CSI_BOOTSTRAP_ADMIN_EMAIL": b.AdminEmail,
		"CSI_BOOTSTRAP_ADMIN_PASSWORD": b.AdminPassword, "CSI_BOOTSTRAP_ADMIN_FISCAL_CODE": b.AdminFiscalCode,
		"CSI_BOOTSTRAP_ADMIN_GIVEN_NAME": b.AdminGivenName, "CSI_BOOTSTRAP_ADMIN_FAMILY_NAME": b.AdminFamilyName,
	}

	var tailTo io.Writer
	if *tail {
		tailTo = stderr
	}
	for _, s := range present {
		step("starting %s on %s", s.name, cfg.url(s))
		p, err := startProc(s.name, filepath.Join(root, "bin", s.name), cfg.url(s), filepath.Join(logDir, s.name+".log"),
			cfg.env(s, present), tailTo)
		if err != nil {
			return err
		}
		procs = append(procs, p)
		if err := p.waitReady(ctx, readyTimeout); err != nil {
			return err
		}
	}

	identityURL := cfg.url(services[0])
	var client clientInfo
	if !*noSeed {
		step("loading the demo data")
		if client, err = seedSuite(ctx, identityURL, d, cfg.secrets, filepath.Join(runDir, "secrets.env"), stderr); err != nil {
			return err
		}
	}

	fmt.Fprintf(stdout, "\nCSI is running (ready in %s). Stop it with Ctrl-C, or 'csidev stop' from another terminal.\n\n",
		time.Since(began).Round(100*time.Millisecond))
	fmt.Fprintln(stdout, "Services:")
	for _, p := range procs {
		rel, _ := filepath.Rel(root, p.logPath)
		fmt.Fprintf(stdout, "  %-14s %-24s log: %s\n", p.name, p.url, rel)
	}
	if len(skipped) > 0 {
		fmt.Fprintf(stdout, "  (not in this checkout yet: %s)\n", serviceNames(skipped))
	}
	where := "server of CSI_DATABASE_URL"
	if srv.private {
		where = "private cluster under .run/pg"
		if srv.started {
			where += ", stopped when csidev stops"
		}
	}
	fmt.Fprintf(stdout, "\nDatabases (%s):\n", where)
	for _, s := range present {
		fmt.Fprintf(stdout, "  %-14s %s\n", s.name, redact(cfg.dbURLs[s.name]))
	}
	fmt.Fprintf(stdout, "Secrets: .run/secrets.env\n\n")
	if *noSeed {
		fmt.Fprintln(stdout, "Demo data not loaded (-no-seed); the ambito administrator exists:")
		printSignIns(stdout, d, identityURL, true)
	} else {
		printSignIns(stdout, d, identityURL, false)
		printClient(stdout, client, identityURL)
	}

	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr)
		return nil
	case p := <-firstExit(procs):
		return fmt.Errorf("%s exited (%v); the end of %s:\n%s", p.name, p.err, p.logPath, lastLines(p.logPath, 15))
	}
}

// build compiles the services into bin/, stamped with the commit.
func build(ctx context.Context, root string, svcs []service, stderr io.Writer) error {
	commit := "unknown"
	var out bytes.Buffer
	git := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD")
	git.Dir, git.Stdout = root, &out
	if git.Run() == nil {
		commit = strings.TrimSpace(out.String())
	}
	args := []string{"build", "-ldflags", ldflags(commit), "-o", filepath.Join(root, "bin") + string(filepath.Separator)}
	for _, s := range svcs {
		args = append(args, "./"+s.pkgDir())
	}
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir, cmd.Stdout, cmd.Stderr = root, stderr, stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w", err)
	}
	return nil
}

// clientInfo is the demo machine client as far as it is known.
type clientInfo struct {
	id, secret string
}

// seedSuite signs in as the demo administrator, loads the demo data, and keeps the machine
// client's secret in the secrets file when it was just created (it is shown only once).
func seedSuite(ctx context.Context, identityURL string, d demo.Data, secrets map[string]string, secretsPath string, stderr io.Writer) (clientInfo, error) {
	c := idclient.New(identityURL, nil)
	admin := d.Admin()
	tok, err := c.SignIn(ctx, admin.Email, admin.Password, "")
	if err != nil {
		return clientInfo{}, fmt.Errorf("sign in as the demo administrator %s (changed the password? run with -no-seed): %w", admin.Email, err)
	}
	c.SetToken(tok.AccessToken)
	res, err := demo.Seed(ctx, c, d, demo.Options{Progress: stderr, Log: indent{stderr}})
	if err != nil {
		return clientInfo{}, err
	}
	if !res.Created() {
		fmt.Fprintln(stderr, "    the demo data is already there")
	}
	info := clientInfo{id: res.Client.ID.String()}
	switch {
	case res.ClientSecret != "":
		info.secret = res.ClientSecret
		secrets[keyClientID], secrets[keyClientSecret] = info.id, info.secret
		if err := saveSecrets(secretsPath, secrets); err != nil {
			return clientInfo{}, err
		}
	case secrets[keyClientID] == info.id:
		info.secret = secrets[keyClientSecret]
	}
	return info, nil
}

// printSignIns prints the demo sign-in of every role (only the administrator's when
// adminOnly) and a curl command that gets a token.
func printSignIns(w io.Writer, d demo.Data, identityURL string, adminOnly bool) {
	fmt.Fprintf(w, "Demo sign-ins of %q, all with the password %s\n", demo.AmbitoName, demo.Password)
	fmt.Fprintf(w, "  %-17s %-34s %s\n", "ROLE", "E-MAIL", "ORGANIZATION")
	example := d.Admin().Email
	for _, u := range d.DemoUsers {
		if adminOnly && u.Email != d.Admin().Email {
			continue
		}
		org, _ := d.Org(u.OrgKey)
		fmt.Fprintf(w, "  %-17s %-34s %s (%s)\n", u.Role, u.Email, org.Name, org.Kind)
		if u.Role == "social_worker" {
			example = u.Email
		}
	}
	fmt.Fprintf(w, "\nGet a token:\n  curl -s %s/v1/oauth/token -d grant_type=password -d username=%s --data-urlencode 'password=%s'\n",
		identityURL, example, demo.Password)
}

// printClient prints the demo machine client and how it gets a token.
func printClient(w io.Writer, c clientInfo, identityURL string) {
	fmt.Fprintf(w, "\nMachine client %q (scopes: %s)\n", demo.ClientName, strings.Join(demo.ClientScopes, " "))
	fmt.Fprintf(w, "  client_id:     %s\n", c.id)
	if c.secret == "" {
		fmt.Fprintf(w, "  client_secret: unknown here (shown once at creation); get a new one with POST /v1/clients/%s/secret\n", c.id)
		return
	}
	fmt.Fprintf(w, "  client_secret: %s\n", c.secret)
	fmt.Fprintf(w, "  curl -s %s/v1/oauth/token -u '%s:%s' -d grant_type=client_credentials\n", identityURL, c.id, c.secret)
}

// indent writes each line to w indented under the step that prints it. Seed writes whole
// lines.
type indent struct{ w io.Writer }

func (i indent) Write(b []byte) (int, error) {
	if _, err := i.w.Write(append([]byte("    "), b...)); err != nil {
		return 0, err
	}
	return len(b), nil
}

func busy(host string, port int) bool {
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		return true
	}
	_ = ln.Close()
	return false
}

func serviceNames(svcs []service) string {
	names := make([]string, len(svcs))
	for i, s := range svcs {
		names[i] = s.name
	}
	return strings.Join(names, ", ")
}

func procNames(procs []*proc) string {
	names := make([]string, len(procs))
	for i, p := range procs {
		names[i] = p.name
	}
	return strings.Join(names, ", ")
}

// runningPID returns the pid in the pid file and whether that process is a live csidev.
func runningPID(path string) (int, bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, false
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 || pid == os.Getpid() {
		return pid, false
	}
	cmdline, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "cmdline"))
	if err != nil {
		return pid, false
	}
	argv0, _, _ := bytes.Cut(cmdline, []byte{0})
	return pid, filepath.Base(string(argv0)) == "csidev"
}
