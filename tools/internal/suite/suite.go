// Package suite starts the CSI suite on this machine the one way every tool does (csidev run,
// the load and chaos tools): it gets a PostgreSQL server (the one in CSI_DATABASE_URL, or the
// private cluster of scripts/postgres.sh, started when needed and stopped again by Stop),
// optionally a Redis server (scripts/redis.sh), creates one database per service, keeps
// per-checkout secrets in <run dir>/secrets.env, builds every service into bin/, starts each as
// its own process with its log in <run dir>/logs/<service>.log, waits until each is ready and
// loads the demo ambito (package demo).
//
// Once started, a tool can signal, wait for and restart single services, and start further
// instances of a service on other ports (AddInstance), which is what fault injection needs.
package suite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/google/uuid"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/tools/internal/demo"
	"github.com/csi-lombardia/csi/tools/internal/repo"
)

// Time limits of a suite.
const (
	readyTimeout = 2 * time.Minute  // first start: migrations
	stopTimeout  = 15 * time.Second // then SIGKILL
)

// Options configure Start. The zero value is the suite of make run.
type Options struct {
	Root      string              // repository root ("" = find it with tools/internal/repo)
	PortBase  int                 // identity's port; the others keep their distance from it in services/services.tsv (default: identity's port in the file, so every service gets its port of the file)
	DBPrefix  string              // database names <prefix><service> (default "csi_")
	Redis     bool                // start/reuse Redis (scripts/redis.sh) and pass CSI_REDIS_URL to every service
	Seed      bool                // load the demo data (as csidev run does)
	SeedValue uint64              // demo seed (demo.DefaultSeed when 0)
	Env       map[string][]string // extra KEY=VALUE per service name, appended last
	Tail      io.Writer           // when set, copy service logs there prefixed by name
	Log       io.Writer           // progress lines ("==> ...")

	// RunDir holds the logs, the secrets and the private PostgreSQL and Redis of the scripts
	// ("" = <Root>/.run/dev, make run's; make test's servers are others, under .run/test). A
	// tool that stops those servers on purpose gives its own directory and ports, so that it
	// never disturbs anyone else's.
	RunDir string
	// PGPort and RedisPort are the ports of the private servers of the scripts (0 = the
	// scripts' defaults for make run, or CSI_PG_PORT / CSI_REDIS_PORT). They matter only when
	// CSI_DATABASE_URL / CSI_REDIS_URL are not set.
	PGPort, RedisPort int
}

// Suite is a running suite. Its methods are safe for concurrent use.
type Suite struct {
	o          Options
	root       string
	runDir     string
	logDir     string
	scriptEnv  []string
	cfg        config
	present    []service
	skipped    []service
	db         *dbServer
	redisURL   string
	redisUp    bool // this suite started Redis, and stops it
	data       demo.Data
	client     ClientInfo
	feedClient ClientInfo
	// coopClient is the machine client of the first demo cooperative's management system.
	coopClient ClientInfo
	// cooperatives are the ids of the demo cooperatives (identity's demo data).
	cooperatives []uuid.UUID

	mu    sync.Mutex
	procs []*proc // in start order
}

// ClientInfo is the demo machine client as far as it is known: the service shows a secret only
// when it creates it, so Secret is empty when neither this run nor the secrets file has it.
type ClientInfo struct {
	ID, Secret string
}

// Start starts the suite: PostgreSQL, databases, secrets, the services' binaries, each service
// in order (waiting until it is ready), then the demo data when o.Seed. On an error it stops
// what it started. Stop stops it all.
func Start(ctx context.Context, o Options) (_ *Suite, err error) {
	if o.DBPrefix == "" {
		o.DBPrefix = "csi_"
	}
	if o.SeedValue == 0 {
		o.SeedValue = demo.DefaultSeed
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	s := &Suite{o: o}
	if s.root, err = repo.Root(o.Root); err != nil {
		return nil, err
	}
	s.runDir = o.RunDir
	if s.runDir == "" {
		s.runDir = filepath.Join(s.root, ".run", "dev")
	}
	s.logDir = filepath.Join(s.runDir, "logs")
	if err := os.MkdirAll(s.logDir, 0o755); err != nil {
		return nil, fmt.Errorf("create %s: %w", s.logDir, err)
	}
	// The scripts' servers are make run's (CSI_PROFILE=dev: their own ports, never make test's),
	// in this suite's run directory; a server on their ports that is not theirs is an error.
	s.scriptEnv = append(os.Environ(), "CSI_PROFILE=dev", "CSI_RUN_DIR="+s.runDir)
	if o.PGPort != 0 {
		s.scriptEnv = append(s.scriptEnv, "CSI_PG_PORT="+strconv.Itoa(o.PGPort))
	}
	if o.RedisPort != 0 {
		s.scriptEnv = append(s.scriptEnv, "CSI_REDIS_PORT="+strconv.Itoa(o.RedisPort))
	}

	all, identityPort, err := loadServices(s.root)
	if err != nil {
		return nil, err
	}
	if o.PortBase == 0 {
		o.PortBase = identityPort
		s.o.PortBase = o.PortBase
	}
	for _, svc := range all {
		if svc.present(s.root) {
			s.present = append(s.present, svc)
		} else {
			s.skipped = append(s.skipped, svc)
		}
	}
	if len(s.present) == 0 || s.present[0].name != "identity" {
		return nil, fmt.Errorf("no services/identity/cmd/identity/main.go in %s: the other services need identity", s.root)
	}
	s.cfg = config{root: s.root, runDir: s.runDir, host: "127.0.0.1", portBase: o.PortBase, extra: o.Env}
	for _, svc := range s.present {
		if busy(s.cfg.host, s.cfg.port(svc)) {
			return nil, fmt.Errorf("port %d of %s is in use: another suite is running? (csidev stop, or -port-base)", s.cfg.port(svc), svc.name)
		}
	}
	// Whatever fails from here, leave nothing running.
	defer func() {
		if err != nil {
			if serr := s.Stop(); serr != nil {
				fmt.Fprintln(o.Log, "suite:", serr)
			}
		}
	}()

	s.step("PostgreSQL")
	if s.db, err = openServer(ctx, s.root, s.scriptEnv, o.Log); err != nil {
		return s, err
	}
	if o.Redis {
		s.step("Redis")
		if err := s.openRedis(ctx); err != nil {
			return s, err
		}
		s.cfg.redisURL = s.redisURL
	}
	if s.cfg.secrets, err = ensureSecrets(s.secretsPath()); err != nil {
		return s, err
	}
	names := make([]string, len(s.present))
	for i, svc := range s.present {
		names[i] = o.DBPrefix + svc.name
	}
	byDB, err := ensureDatabases(ctx, s.db.url, names)
	if err != nil {
		return s, err
	}
	s.cfg.dbURLs = map[string]string{}
	for _, svc := range s.present {
		s.cfg.dbURLs[svc.name] = byDB[o.DBPrefix+svc.name]
	}

	s.step("building %s", serviceNames(s.present))
	if err := build(ctx, s.root, s.present, o.Log); err != nil {
		return s, err
	}

	if s.data, err = demo.Generate(o.SeedValue, places.Default()); err != nil {
		return s, fmt.Errorf("generate the demo data: %w", err)
	}
	b := s.data.Bootstrap()
	s.cfg.bootstrap = map[string]string{
		"CSI_BOOTSTRAP_AMBITO_CODE": b.AmbitoCode, "CSI_BOOTSTRAP_AMBITO_NAME": b.AmbitoName,
		"CSI_BOOTSTRAP_AZIENDA_NAME": b.AziendaName, "CSI_BOOTSTRAP_ADMIN_EMAIL": b.AdminEmail,
		"CSI_BOOTSTRAP_ADMIN_PASSWORD": b.AdminPassword, "CSI_BOOTSTRAP_ADMIN_FISCAL_CODE": b.AdminFiscalCode,
		"CSI_BOOTSTRAP_ADMIN_GIVEN_NAME": b.AdminGivenName, "CSI_BOOTSTRAP_ADMIN_FAMILY_NAME": b.AdminFamilyName,
	}

	for _, svc := range s.present {
		s.step("starting %s on %s", svc.name, s.cfg.url(svc))
		p, err := startProc(svc.name, filepath.Join(s.root, "bin", svc.name), s.cfg.url(svc),
			filepath.Join(s.logDir, svc.name+".log"), s.cfg.env(svc, s.present), o.Tail, false)
		if err != nil {
			return s, err
		}
		s.mu.Lock()
		s.procs = append(s.procs, p)
		s.mu.Unlock()
		if err := p.waitReady(ctx, readyTimeout); err != nil {
			return s, err
		}
		// The machine clients of the services that need one (intake's, interventions', handed
		// to them through the secrets), and identity's demo data, before the other services start.
		if svc.name == seedSteps[0].service {
			if err := s.serviceClients(ctx); err != nil {
				return s, err
			}
		}
		if svc.name == seedSteps[0].service && o.Seed {
			s.step("loading the demo data of %s", svc.name)
			if err := seedSteps[0].load(ctx, s); err != nil {
				return s, err
			}
		}
	}

	if o.Seed {
		s.step("loading the demo data")
		if err := s.seed(ctx); err != nil {
			return s, err
		}
	}
	return s, nil
}

func (s *Suite) step(format string, args ...any) {
	fmt.Fprintf(s.o.Log, "\033[1m==>\033[0m "+format+"\n", args...)
}

func (s *Suite) secretsPath() string { return filepath.Join(s.runDir, "secrets.env") }

// openRedis returns the server of CSI_REDIS_URL, else the private one of scripts/redis.sh,
// started when it is not running (reused when it is, if it is the run directory's own).
func (s *Suite) openRedis(ctx context.Context) error {
	if u := os.Getenv("CSI_REDIS_URL"); u != "" {
		s.redisURL = u
		return nil
	}
	u, err := runScript(ctx, s.root, s.scriptEnv, s.o.Log, "redis.sh", "url")
	if err != nil {
		return err
	}
	wasUp := reachable(u)
	if u, err = runScript(ctx, s.root, s.scriptEnv, s.o.Log, "redis.sh", "start"); err != nil {
		return err
	}
	s.redisURL, s.redisUp = u, !wasUp
	return nil
}

// Services returns the names of the running instances in start order: the services, then the
// instances added with AddInstance.
func (s *Suite) Services() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	names := make([]string, len(s.procs))
	for i, p := range s.procs {
		names[i] = p.name
	}
	return names
}

// Skipped returns the names of the suite's services that this checkout does not have yet.
func (s *Suite) Skipped() []string {
	names := make([]string, len(s.skipped))
	for i, svc := range s.skipped {
		names[i] = svc.name
	}
	return names
}

func (s *Suite) proc(name string) *proc {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// URL returns the base URL of a service or instance ("" when there is none).
func (s *Suite) URL(service string) string {
	if p := s.proc(service); p != nil {
		return p.url
	}
	return ""
}

// LogPath returns the path of the log file of a service or instance.
func (s *Suite) LogPath(service string) string {
	return filepath.Join(s.logDir, service+".log")
}

// LogTail returns the last n lines of the log of a service or instance, indented.
func (s *Suite) LogTail(service string, n int) string { return lastLines(s.LogPath(service), n) }

// DatabaseURL returns the URL of a service's database.
func (s *Suite) DatabaseURL(service string) string { return s.cfg.dbURLs[service] }

// ServerURL returns the URL of the PostgreSQL server (its maintenance database).
func (s *Suite) ServerURL() string { return s.db.url }

// PrivatePostgres reports whether the server is the private cluster of scripts/postgres.sh,
// and whether this suite started it (and so stops it).
func (s *Suite) PrivatePostgres() (private, started bool) { return s.db.private, s.db.started }

// RedisURL returns the URL of the Redis server, "" when Options.Redis is false.
func (s *Suite) RedisURL() string { return s.redisURL }

// RunDir returns the directory of the logs, the secrets and the scripts' private servers.
func (s *Suite) RunDir() string { return s.runDir }

// Script runs scripts/<name> with args as the suite runs it (its run directory and ports) and
// returns what it printed: Script(ctx, "postgres.sh", "stop") stops the suite's private
// PostgreSQL.
func (s *Suite) Script(ctx context.Context, name string, args ...string) (string, error) {
	return runScript(ctx, s.root, s.scriptEnv, s.o.Log, name, args...)
}

// PID returns the process id of a service or instance (0 when there is none).
func (s *Suite) PID(service string) int {
	if p := s.proc(service); p != nil {
		return p.cmd.Process.Pid
	}
	return 0
}

// Signal sends sig to a service or instance.
func (s *Suite) Signal(service string, sig os.Signal) error {
	p := s.proc(service)
	if p == nil {
		return fmt.Errorf("no service %q", service)
	}
	if err := p.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("signal %s: %w", service, err)
	}
	return nil
}

// Wait waits until the process of a service or instance exits and returns its exit status
// (nil for a clean exit).
func (s *Suite) Wait(service string) error {
	p := s.proc(service)
	if p == nil {
		return fmt.Errorf("no service %q", service)
	}
	<-p.done
	return p.err
}

// Restart starts a service or instance again with the same environment (stopping it first when
// it is still running) and waits until it is ready. Its log is appended to.
func (s *Suite) Restart(ctx context.Context, service string) error {
	old := s.proc(service)
	if old == nil {
		return fmt.Errorf("no service %q", service)
	}
	if !old.exited() {
		stopProcs([]*proc{old}, stopTimeout)
	}
	p, err := startProc(old.name, old.bin, old.url, old.logPath, old.env, s.o.Tail, true)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs[slices.Index(s.procs, old)] = p
	s.mu.Unlock()
	return p.waitReady(ctx, readyTimeout)
}

// AddInstance starts one more process of a running service, named instance, listening on port
// and sharing the service's database and secrets, with env appended to the service's
// environment; it waits until the instance is ready. The instance is a service to URL, PID,
// Signal, Wait, Restart and Stop.
func (s *Suite) AddInstance(ctx context.Context, service, instance string, port int, env ...string) error {
	base := s.proc(service)
	if base == nil {
		return fmt.Errorf("no service %q", service)
	}
	if s.proc(instance) != nil {
		return fmt.Errorf("instance %q exists", instance)
	}
	if busy(s.cfg.host, port) {
		return fmt.Errorf("port %d of %s is in use", port, instance)
	}
	addr := net.JoinHostPort(s.cfg.host, strconv.Itoa(port))
	penv := append(append(slices.Clip(base.env), "CSI_HTTP_ADDR="+addr), env...)
	s.step("starting %s on http://%s", instance, addr)
	p, err := startProc(instance, base.bin, "http://"+addr, s.LogPath(instance), penv, s.o.Tail, false)
	if err != nil {
		return err
	}
	s.mu.Lock()
	s.procs = append(s.procs, p)
	s.mu.Unlock()
	return p.waitReady(ctx, readyTimeout)
}

// Secrets returns a copy of the secrets of <run dir>/secrets.env (identity's master key, the
// demo machine client's id and secret, ...).
func (s *Suite) Secrets() map[string]string {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]string, len(s.cfg.secrets))
	for k, v := range s.cfg.secrets {
		out[k] = v
	}
	return out
}

// Demo returns the demo data of the suite (generated from Options.SeedValue; loaded when
// Options.Seed).
func (s *Suite) Demo() demo.Data { return s.data }

// Client returns the demo machine client (zero when the demo data was not loaded).
func (s *Suite) Client() ClientInfo { return s.client }

// CoopClient returns the machine client of the first demo cooperative's management system
// (zero when the interventions demo data was not loaded).
func (s *Suite) CoopClient() ClientInfo {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.coopClient
}

// Stop sends SIGTERM to every instance, newest first, SIGKILL to those still running after a
// timeout, then stops the PostgreSQL and Redis servers this suite started.
func (s *Suite) Stop() error {
	s.mu.Lock()
	procs := slices.Clone(s.procs)
	s.mu.Unlock()
	if len(procs) > 0 {
		s.step("stopping %s", procNames(procs))
		stopProcs(procs, stopTimeout)
	}
	var errs []error
	if s.redisUp {
		s.step("stopping the private Redis")
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		_, err := runScript(ctx, s.root, s.scriptEnv, s.o.Log, "redis.sh", "stop")
		cancel()
		errs = append(errs, err)
		s.redisUp = false
	}
	if s.db != nil && s.db.started {
		s.step("stopping the private PostgreSQL")
		errs = append(errs, s.db.stop(s.o.Log))
		s.db.started = false
	}
	return errors.Join(errs...)
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

// has reports whether the checkout has the service named name (it runs in the suite).
func (s *Suite) has(name string) bool {
	return slices.ContainsFunc(s.present, func(svc service) bool { return svc.name == name })
}
