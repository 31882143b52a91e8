package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/repo"
	"github.com/csi-lombardia/csi/tools/internal/suite"
)

func runSuite(ctx context.Context, release func(), args []string, stdout, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("csidev run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	noSeed := fs.Bool("no-seed", false, "do not load the demo data")
	portBase := fs.Int("port-base", 0, "port of identity; every other service keeps its distance from it in services/services.tsv (default: the ports of that file, identity 8081)")
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
	if err := os.MkdirAll(runDir, 0o755); err != nil {
		return fmt.Errorf("create %s: %w", runDir, err)
	}
	pidPath := filepath.Join(runDir, "csidev.pid")
	if pid, alive := runningPID(pidPath); alive {
		return fmt.Errorf("csidev run is already running for this checkout (pid %d): stop it with 'csidev stop'", pid)
	}
	if err := os.WriteFile(pidPath, []byte(strconv.Itoa(os.Getpid())+"\n"), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", pidPath, err)
	}

	var s *suite.Suite
	// Whatever happens from here, leave nothing running.
	defer func() {
		// Read before release, which cancels ctx too.
		interrupted := ctx.Err() != nil
		release()
		if s != nil {
			if serr := s.Stop(); serr != nil {
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

	o := suite.Options{Root: root, PortBase: *portBase, DBPrefix: *dbPrefix, Seed: !*noSeed, SeedValue: *seed, Log: stderr}
	if *tail {
		o.Tail = stderr
	}
	// Start stops what it started when it fails.
	if s, err = suite.Start(ctx, o); err != nil {
		return err
	}

	d := s.Demo()
	identityURL := s.URL("identity")
	fmt.Fprintf(stdout, "\nCSI is running (ready in %s). Stop it with Ctrl-C, or 'csidev stop' from another terminal.\n\n",
		time.Since(began).Round(100*time.Millisecond))
	fmt.Fprintln(stdout, "Services:")
	for _, name := range s.Services() {
		rel, _ := filepath.Rel(root, s.LogPath(name))
		fmt.Fprintf(stdout, "  %-14s %-24s log: %s\n", name, s.URL(name), rel)
	}
	if skipped := s.Skipped(); len(skipped) > 0 {
		fmt.Fprintf(stdout, "  (not in this checkout yet: %s)\n", strings.Join(skipped, ", "))
	}
	where := "server of CSI_DATABASE_URL"
	if private, started := s.PrivatePostgres(); private {
		where = "private cluster under " + relTo(root, filepath.Join(s.RunDir(), "pg"))
		if started {
			where += ", stopped when csidev stops"
		}
	}
	fmt.Fprintf(stdout, "\nDatabases (%s):\n", where)
	for _, name := range s.Services() {
		fmt.Fprintf(stdout, "  %-14s %s\n", name, suite.Redact(s.DatabaseURL(name)))
	}
	fmt.Fprintf(stdout, "Secrets: %s\n\n", relTo(root, filepath.Join(s.RunDir(), "secrets.env")))
	if *noSeed {
		fmt.Fprintln(stdout, "Demo data not loaded (-no-seed); the ambito administrator exists:")
		printSignIns(stdout, d, identityURL, true)
	} else {
		printSignIns(stdout, d, identityURL, false)
		if u := s.URL("intake"); u != "" && len(d.ComuneWorkers) > 0 {
			printIntake(stdout, d, identityURL, u)
		}
		printClient(stdout, s.Client(), identityURL)
		if u := s.URL("interventions"); u != "" && s.CoopClient().ID != "" {
			printCoopClient(stdout, d, s.CoopClient(), identityURL, u)
		}
	}

	exited := make(chan string, len(s.Services()))
	for _, name := range s.Services() {
		go func() {
			_ = s.Wait(name)
			exited <- name
		}()
	}
	select {
	case <-ctx.Done():
		fmt.Fprintln(stderr)
		return nil
	case name := <-exited:
		return fmt.Errorf("%s exited (%v); the end of %s:\n%s", name, s.Wait(name), s.LogPath(name), s.LogTail(name, 15))
	}
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
	if !adminOnly && len(d.ComuneWorkers) > 0 {
		fmt.Fprintln(w, "\nA social worker of every comune (the intake demo data's accesses and cases are theirs):")
		for _, u := range d.ComuneWorkers {
			org, _ := d.Org(u.OrgKey)
			fmt.Fprintf(w, "  %-17s %-50s %s (ISTAT %s)\n", u.Role, u.Email, org.Name, org.ISTATCode)
		}
	}
	fmt.Fprintf(w, "\nGet a token:\n  curl -s %s/v1/oauth/token -d grant_type=password -d username=%s --data-urlencode 'password=%s'\n",
		identityURL, example, demo.Password)
}

// printCoopClient prints the machine client of the first demo cooperative's management system
// and how it calls interventions, with curl and with the Go client's example program.
func printCoopClient(w io.Writer, d demo.Data, c suite.ClientInfo, identityURL, interventionsURL string) {
	fmt.Fprintf(w, "\nThe management system of %s (machine client %q, scopes: %s)\n", d.Cooperatives[0].Name,
		demo.CoopClientName(d.Cooperatives[0]), strings.Join(demo.CoopClientScopes, " "))
	fmt.Fprintf(w, "  client_id:     %s\n  client_secret: %s\n", c.ID, c.Secret)
	fmt.Fprintf(w, "  TOKEN=$(curl -s %s/v1/oauth/token -u '%s:%s' -d grant_type=client_credentials | jq -r .access_token)\n",
		identityURL, c.ID, c.Secret)
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/authorizations?status=active&limit=5'\n", interventionsURL)
	fmt.Fprintf(w, "  CSI_IDENTITY_URL=%s CSI_INTERVENTIONS_URL=%s CSI_CLIENT_ID=%s CSI_CLIENT_SECRET=%s go run ./services/interventions/client/example\n",
		identityURL, interventionsURL, c.ID, c.Secret)
}

// printIntake prints how a comune's social worker reads intake's demo cases.
func printIntake(w io.Writer, d demo.Data, identityURL, intakeURL string) {
	u := d.ComuneWorkers[0]
	fmt.Fprintf(w, "\nintake's demo accesses and cases, as %s:\n", u.Email)
	fmt.Fprintf(w, "  TOKEN=$(curl -s %s/v1/oauth/token -d grant_type=password -d username=%s --data-urlencode 'password=%s' | jq -r .access_token)\n",
		identityURL, u.Email, u.Password)
	fmt.Fprintf(w, "  curl -s -H \"Authorization: Bearer $TOKEN\" '%s/v1/cases?limit=5'\n", intakeURL)
}

// printClient prints the demo machine client and how it gets a token.
func printClient(w io.Writer, c suite.ClientInfo, identityURL string) {
	fmt.Fprintf(w, "\nMachine client %q (scopes: %s)\n", demo.ClientName, strings.Join(demo.ClientScopes, " "))
	fmt.Fprintf(w, "  client_id:     %s\n", c.ID)
	if c.Secret == "" {
		fmt.Fprintf(w, "  client_secret: unknown here (shown once at creation); get a new one with POST /v1/clients/%s/secret\n", c.ID)
		return
	}
	fmt.Fprintf(w, "  client_secret: %s\n", c.Secret)
	fmt.Fprintf(w, "  curl -s %s/v1/oauth/token -u '%s:%s' -d grant_type=client_credentials\n", identityURL, c.ID, c.Secret)
}

// relTo returns path relative to root when it is under root, else path.
func relTo(root, path string) string {
	if rel, err := filepath.Rel(root, path); err == nil && !strings.HasPrefix(rel, "..") {
		return rel
	}
	return path
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
