// Command csichaos runs the suite under a steady load and injects faults (make chaos): Redis
// killed and restarted, PostgreSQL restarted, SIGTERM to a service instance under load, a
// client that times out and retries a create with the same Idempotency-Key, identity's JWKS
// endpoint unreachable, the registry down while intake records accesses, and registry
// instances killed with SIGKILL under creates retried with their keys; interventions killed with
// SIGKILL mid-batch under visits:batch retried with their keys, and identity down while visits
// are recorded. After each scenario it
// reads every write back, through the API and by counting rows in the service's database, and
// checks that every create answered 2xx is stored exactly once. It writes the figures (with
// each scenario's error burst and the time its p99 took to come back within 25 ms) to
// RELIABILITY.md and exits 1 when a scenario fails.
//
// The load is half of what its mix of operations sustains by make bench's BENCHMARKS.md (an
// operation without a figure there is measured by a short ramp first), or -rate.
//
//	csichaos [-rate 0] [-bench BENCHMARKS.md] [-duration 40s] [-only a,b,c,d,e,f,g,h,i,j] [-out RELIABILITY.md] \
//	    [-s3-endpoint host:port -s3-access-key k -s3-secret-key s]
//
// The suite runs on its own ports (-port-base 18081), databases (chaos_*) and private
// PostgreSQL and Redis servers under .run/chaos (ports 55442 and 56389), which it stops and
// starts at will without disturbing make run or make test. Two registry instances run behind a
// readiness-aware round-robin proxy, as a Kubernetes Service would put them; intake calls the
// first one directly (its CSI_REGISTRY_URL).
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/csi-lombardia/csi/pkg/auth"
	"github.com/csi-lombardia/csi/pkg/docstore"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/repo"
	"github.com/csi-lombardia/csi/tools/internal/suite"
)

// drainDelay is the registry instances' CSI_DRAIN_DELAY: longer than the proxy's readiness
// interval, so that the proxy stops sending before the instance stops accepting.
const drainDelay = "1s"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stderr)
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "csichaos:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, stderr io.Writer) (err error) {
	fs := flag.NewFlagSet("csichaos", flag.ContinueOnError)
	fs.SetOutput(stderr)
	rate := fs.Float64("rate", 0, "arrival rate of the load, requests per second (0: half of each mix's sustained rate in -bench)")
	benchPath := fs.String("bench", "BENCHMARKS.md", "make bench's report, whose sustained rates set the load (relative to the repository)")
	dur := fs.Duration("duration", 40*time.Second, "length of each scenario")
	only := fs.String("only", "a,b,c,d,e,f,g,h,i,j", "the scenarios to run")
	s3Endpoint := fs.String("s3-endpoint", os.Getenv("CSI_TEST_S3_ENDPOINT"), "an S3 server (host:port, http) for interventions' documents, reached through a switch scenario j cuts (default: make test's, CSI_TEST_S3_ENDPOINT)")
	s3Access := fs.String("s3-access-key", os.Getenv("CSI_TEST_S3_ACCESS_KEY"), "its access key")
	s3Secret := fs.String("s3-secret-key", os.Getenv("CSI_TEST_S3_SECRET_KEY"), "its secret key")
	out := fs.String("out", "RELIABILITY.md", "the report, relative to the repository")
	portBase := fs.Int("port-base", 18081, "port of identity; the other services follow; registry-2 listens on port-base+10")
	dbPrefix := fs.String("db-prefix", "chaos_", "prefix of the services' database names")
	pgPort := fs.Int("pg-port", 55442, "port of the private PostgreSQL under .run/chaos")
	redisPort := fs.Int("redis-port", 56389, "port of the private Redis under .run/chaos")
	tail := fs.Bool("tail", false, "copy the services' logs to the terminal")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	chosen := map[string]bool{}
	for _, k := range strings.Split(*only, ",") {
		chosen[strings.TrimSpace(k)] = true
	}
	root, err := repo.Root("")
	if err != nil {
		return err
	}
	// The faults stop and start the servers: always the private ones of this tool.
	_ = os.Unsetenv("CSI_DATABASE_URL")
	_ = os.Unsetenv("CSI_REDIS_URL")

	began := time.Now()
	loadBefore := load.LoadAvg()
	o := suite.Options{Root: root, PortBase: *portBase, DBPrefix: *dbPrefix, Redis: true, Seed: true,
		RunDir: filepath.Join(root, ".run", "chaos"), PGPort: *pgPort, RedisPort: *redisPort, Log: stderr,
		Env: map[string][]string{"registry": {"CSI_DRAIN_DELAY=" + drainDelay, "CSI_SHUTDOWN_GRACE=10s"}}}
	if *tail {
		o.Tail = stderr
	}
	// Interventions' documents in the S3 server given, through a switch scenario j cuts; the
	// server itself is never stopped (others use it).
	var s3 *s3Switch
	if *s3Endpoint != "" {
		cfg := docstore.S3Config{Endpoint: *s3Endpoint, Bucket: "chaos-documents", AccessKey: *s3Access, SecretKey: *s3Secret}
		if s3, err = newS3Switch(cfg); err != nil {
			return err
		}
		defer s3.Close()
		o.Env["interventions"] = []string{"CSI_INTERVENTIONS_S3_ENDPOINT=" + s3.Addr(), "CSI_INTERVENTIONS_S3_BUCKET=" + cfg.Bucket,
			"CSI_INTERVENTIONS_S3_SECURE=false", "CSI_INTERVENTIONS_S3_ACCESS_KEY=" + cfg.AccessKey, "CSI_INTERVENTIONS_S3_SECRET_KEY=" + cfg.SecretKey}
	}
	s, err := suite.Start(ctx, o)
	if err != nil {
		return err
	}
	defer func() {
		if serr := s.Stop(); serr != nil && err == nil {
			err = serr
		}
	}()
	if err := s.AddInstance(ctx, "registry", "registry-2", *portBase+10); err != nil {
		return err
	}

	px, err := newProxy([]string{"registry", "registry-2"}, []string{s.URL("registry"), s.URL("registry-2")}, 100*time.Millisecond)
	if err != nil {
		return err
	}
	pctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go px.Run(pctx)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	srv := &http.Server{Handler: px, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()

	client := s.Client()
	if client.Secret == "" {
		return fmt.Errorf("the secret of the demo machine client is not in %s: remove .run/chaos and the chaos_* databases to start afresh",
			filepath.Join(s.RunDir(), "secrets.env"))
	}
	worker, ok := s.Demo().DemoUser(auth.RoleSocialWorker)
	if !ok {
		return errors.New("the demo data has no social worker")
	}
	org, ok := s.Demo().Org(worker.OrgKey)
	if !ok || org.ISTATCode == "" {
		return fmt.Errorf("the demo social worker %s is not in a comune", worker.Email)
	}
	e := &env{s: s, px: px, dur: *dur, log: stderr, email: worker.Email, password: worker.Password, s3: s3,
		t: newTarget("http://"+ln.Addr().String(), s.URL("intake"), s.URL("identity"), client.ID, client.Secret, strconv.FormatInt(time.Now().Unix(), 36), org.ISTATCode)}
	if err := e.t.signIn(ctx, e.email, e.password); err != nil {
		return err
	}
	// Something to read from the first request on.
	for range 20 {
		body, marker, key := e.t.newCreate()
		if r := e.t.create(ctx, body, marker, key, 0); !r.ok() {
			return fmt.Errorf("warm-up create: status %d %s", r.status, r.err)
		}
	}
	e.logf("suite ready in %s; registry behind the proxy at %s", time.Since(began).Round(time.Second), ln.Addr())

	// The load: half of what each mix sustains, unless -rate says otherwise.
	var loads map[string]offer
	var bench benchReport
	if *rate > 0 {
		loads = map[string]offer{"registry": {rate: *rate, source: "-rate"}, "intake": {rate: *rate, source: "-rate"}}
	} else {
		bp := *benchPath
		if !filepath.IsAbs(bp) {
			bp = filepath.Join(root, bp)
		}
		md, err := os.ReadFile(bp)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		bench = parseBench(string(md))
		if loads, err = offers(ctx, bench, mixes, e.measureOp); err != nil {
			return err
		}
	}
	for k, v := range ivOffers(bench) {
		loads[k] = v
	}
	for _, name := range []string{"registry", "intake", "interventions-batch", "interventions-visit", "interventions-docs"} {
		e.logf("load on %s: %.1f req/s (%s)", name, loads[name].rate, loads[name].source)
	}

	var outcomes []outcome
	for _, sc := range scenarios {
		if !chosen[sc.key] {
			continue
		}
		e.rate = loads[sc.mix].rate
		e.logf("scenario %s: %s (%s at %.0f req/s)", sc.key, sc.title, *dur, e.rate)
		oc := sc.run(ctx, e)
		oc.key, oc.title, oc.offered = sc.key, sc.title, loads[sc.mix]
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !oc.faultStart.IsZero() {
			if p99, n := windowP99(oc.results, oc.faultStart.Add(-e.at()), oc.faultStart); n > 0 {
				oc.before = p99
				oc.notef("before the fault: p99 %s over %d requests (the load's own level)", latencyText99(p99), n)
			}
		}
		verdict := "passed"
		if len(oc.problems) > 0 {
			verdict = "FAILED: " + strings.Join(oc.problems, "; ")
		}
		e.logf("scenario %s: %d requests, failures %s, lost %d, duplicated %d: %s", sc.key, len(oc.results)+len(oc.retries),
			formatCounts(failures(oc.results)), oc.w.lost, oc.w.duplicated, verdict)
		outcomes = append(outcomes, oc)
	}

	cmdline := "make chaos"
	if len(args) > 0 {
		cmdline = "csichaos " + strings.Join(args, " ")
	}
	path := *out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := os.WriteFile(path, []byte(report(root, cmdline, loads, bench, *dur, time.Since(began), loadBefore, outcomes)), 0o644); err != nil {
		return fmt.Errorf("write the report: %w", err)
	}
	e.logf("wrote %s (%s in all)", *out, time.Since(began).Round(time.Second))
	for _, oc := range outcomes {
		if len(oc.problems) > 0 {
			return fmt.Errorf("scenario %s failed: %s", oc.key, strings.Join(oc.problems, "; "))
		}
	}
	return nil
}
