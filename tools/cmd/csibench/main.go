// Command csibench is the load bench behind make bench. It starts the suite as make run does
// (with Redis, on its own ports and databases), loads an ambito of synthetic citizens through
// the registry's import, records intake's demo accesses and cases on them, makes the bench
// cooperatives of interventions (tools/internal/ivload) and fills its visits table for the
// statement (once, kept between runs), starts the floor (csifloor, on the registry's, intake's
// and interventions' databases), ramps every operation at a fixed arrival rate until p99 or the
// error rate breaks the bound, profiles the service that lags its floor most, runs pgbench with
// the same SQL, and writes BENCHMARKS.md.
//
//	csibench [-port-base 28081] [-db-prefix bench_] [-citizens 190000] [-step 3s] [-visits-fill 10000000] [-out BENCHMARKS.md]
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
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/csi-lombardia/csi/tools/internal/ivload"
	"github.com/csi-lombardia/csi/tools/internal/load"
	"github.com/csi-lombardia/csi/tools/internal/repo"
	"github.com/csi-lombardia/csi/tools/internal/suite"
)

var sigterm os.Signal = syscall.SIGTERM

// passwordP99 is the bound of the sign-in by password: argon2id costs tens of milliseconds by
// design, so 25 ms cannot hold; the figure still says what the service sustains.
const passwordP99 = 250 * time.Millisecond

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "csibench:", err)
		os.Exit(1)
	}
}

type config struct {
	portBase   int
	dbPrefix   string
	citizens   int
	fresh      int
	hot        int
	seed       uint64
	step       time.Duration
	out        string
	only       string
	profile    time.Duration
	pgbenchDur time.Duration
	visitsFill int64
	command    string
}

func run(ctx context.Context, args []string, logw io.Writer) error {
	fs := flag.NewFlagSet("csibench", flag.ContinueOnError)
	var c config
	fs.IntVar(&c.portBase, "port-base", 28081, "identity's port; the registry and intake follow, the floor is on port-base+9")
	fs.StringVar(&c.dbPrefix, "db-prefix", "bench_", "database names <prefix><service>")
	fs.IntVar(&c.citizens, "citizens", 190_000, "citizens imported (the ambito scale)")
	fs.IntVar(&c.fresh, "fresh", 0, "new synthetic citizens for each create ramp (the suite's and the floor's); 0: as many as the ramp can send at most")
	fs.IntVar(&c.hot, "hot", 2000, "citizens of the cached reads")
	fs.Uint64Var(&c.seed, "seed", 20250101, "synthetic data seed")
	fs.DurationVar(&c.step, "step", 3*time.Second, "length of each ramp step")
	fs.StringVar(&c.out, "out", "BENCHMARKS.md", "report file (relative to the repository root)")
	fs.StringVar(&c.only, "only", "", "run only the operations whose name contains this (a quick look)")
	fs.DurationVar(&c.profile, "profile", 10*time.Second, "CPU profile of the services under load where they lag the floor (0 = none)")
	fs.DurationVar(&c.pgbenchDur, "pgbench", 8*time.Second, "length of each pgbench run (0 = none)")
	fs.Int64Var(&c.visitsFill, "visits-fill", 10_000_000, "visits the interventions statement's table holds (filled once by SQL, kept between runs)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	c.command = "make bench"
	if len(args) > 0 {
		c.command = "go run ./tools/cmd/csibench " + strings.Join(args, " ")
	}
	root, err := repo.Root("")
	if err != nil {
		return err
	}
	began := time.Now()
	rep := report{began: began, step: c.step, command: c.command, machine: machine(), commit: commit(root), citizens: c.citizens}
	rep.loadBefore = load.LoadAvg()

	// Generate while nothing else runs: every create ramp gets a new resident for every request
	// it can send, however its steps go, so that its last steps measure the server and not the
	// data running out.
	need := benchRamp(createStart, createMax, c.step, load.Bound{}).MaxRequests()
	if c.fresh == 0 {
		c.fresh = int(need)
	}
	fmt.Fprintf(logw, "==> generating %d synthetic citizens (seed %d) and 2 × %d new ones (a create ramp sends %d requests at most)\n",
		c.citizens, c.seed, c.fresh, need)
	rep.freshPerRamp = c.fresh
	ppl, err := generate(c.seed, c.citizens, 2*c.fresh)
	if err != nil {
		return err
	}

	debug := debugAddrs{"registry": net.JoinHostPort("127.0.0.1", strconv.Itoa(c.portBase+101)),
		"intake": net.JoinHostPort("127.0.0.1", strconv.Itoa(c.portBase+102)), "interventions": net.JoinHostPort("127.0.0.1", strconv.Itoa(c.portBase+103))}
	s, err := suite.Start(ctx, suite.Options{PortBase: c.portBase, DBPrefix: c.dbPrefix, Redis: true, Seed: true, Log: logw,
		Env: map[string][]string{"registry": {"CSI_DEBUG_ADDR=" + debug["registry"], "CSI_LOG_LEVEL=warn", "CSI_REGISTRY_CACHE_TTL=5m"},
			"identity": {"CSI_LOG_LEVEL=warn"}, "intake": {"CSI_DEBUG_ADDR=" + debug["intake"], "CSI_LOG_LEVEL=warn"},
			"interventions": {"CSI_DEBUG_ADDR=" + debug["interventions"], "CSI_LOG_LEVEL=warn"}}})
	if err != nil {
		return err
	}
	defer func() {
		if err := s.Stop(); err != nil {
			fmt.Fprintln(logw, "csibench: stop:", err)
		}
	}()
	if err := freshRegistry(ctx, s, logw); err != nil {
		return err
	}
	cr, err := prepareIdentity(ctx, s, ppl)
	if err != nil {
		return err
	}

	fmt.Fprintf(logw, "==> importing %d citizens of %d comuni through POST /v1/imports\n", c.citizens, len(ppl.comuni))
	if rep.importTime, err = importAll(ctx, s, ppl, logw); err != nil {
		return err
	}
	fmt.Fprintf(logw, "    imported in %s\n", rep.importTime.Round(100*time.Millisecond))
	all, err := loaded(ctx, s.DatabaseURL("registry"))
	if err != nil {
		return err
	}
	if len(all) < c.hot*4 {
		return fmt.Errorf("only %d citizens loaded", len(all))
	}
	parts := split(all, c.hot)
	if rep.intake, err = freshIntake(ctx, s, logw); err != nil {
		return err
	}
	cases, err := intakeCases(ctx, s.DatabaseURL("intake"))
	if err != nil {
		return err
	}
	if len(cases) == 0 {
		return errors.New("intake's demo data made no cases")
	}
	workers, err := newWorkerTokens(ctx, s)
	if err != nil {
		return err
	}

	// Interventions: the bench cooperatives, their operators and authorizations, the last run's
	// visits removed, the statement's table filled (once).
	var iv ivload.Setup
	var cals []ivload.Calendar
	ivTok := ivTokens{client: new(string), coord: new(string)}
	if s.URL("interventions") != "" {
		if cals, err = ivCalendars(c.step); err != nil {
			return err
		}
		if iv, err = ivload.Prepare(ctx, s, c.seed, logw); err != nil {
			return err
		}
		if err := resetBenchVisits(ctx, s.DatabaseURL("interventions"), iv.WriteCoop, logw); err != nil {
			return err
		}
		if rep.fillHave, rep.fillTook, err = fillVisits(ctx, s.DatabaseURL("interventions"), iv, c.visitsFill, logw); err != nil {
			return err
		}
		if err := ivTok.refresh(ctx, s, iv); err != nil {
			return err
		}
	}

	floorURL, stopFloor, floorPID, err := startFloor(ctx, root, s.DatabaseURL("registry"), s.DatabaseURL("intake"), s.DatabaseURL("interventions"),
		cr.ambito.String(), c.portBase+9, logw)
	if err != nil {
		return err
	}
	defer stopFloor()

	procs, err := processes(ctx, s, floorPID, c.dbPrefix)
	if err != nil {
		return err
	}
	rep.procs = procs
	hc := load.NewClient()
	var token string
	ts := targets(hc, s.URL("identity"), s.URL("registry"), floorURL, cr, parts, ppl.fresh, ppl.comuni[0].ISTAT, &token)
	ts = append(ts, intakeTargets(hc, s.URL("intake"), floorURL, parts.hot, cases, workers, warmer(hc, s.URL("registry"), parts.hot, &token))...)
	if s.URL("interventions") != "" {
		for _, t := range interventionsTargets(hc, s.URL("interventions"), floorURL, iv, cals, ivTok, rep.fillHave) {
			if t.stmt && !hasRoute(ctx, hc, s.URL("interventions")+"/v1/statements/"+iv.StmtCoop.String()+"/"+stmtMonth, *ivTok.coord) {
				fmt.Fprintln(logw, "==> interventions has no GET /v1/statements/{cooperative}/{month} in this checkout: no statement target")
				continue
			}
			ts = append(ts, t)
		}
	}

	for i := range ts {
		t := &ts[i]
		t.op.Name = t.name
		if c.only != "" && !selected(ts, *t, c.only) {
			continue
		}
		if t.tokens {
			if token, err = benchToken(ctx, s); err != nil {
				return err
			}
			if err := workers.refresh(ctx, s); err != nil {
				return err
			}
			if s.URL("interventions") != "" {
				if err := ivTok.refresh(ctx, s, iv); err != nil {
					return err
				}
			}
		}
		if t.warm != nil {
			fmt.Fprintf(logw, "==> warming the cache: %d citizens by id and by code\n", c.hot)
			if err := t.warm(ctx); err != nil {
				return fmt.Errorf("warm the cache: %w", err)
			}
		}
		fmt.Fprintf(logw, "==> ramp: %s\n", t.name)
		bound := t.bound
		if bound.P99 == 0 {
			bound = load.Bound{P99: 25 * time.Millisecond, ErrorRate: 0.01}
		}
		r := benchRamp(t.start, t.max, c.step, bound)
		r.Procs = procs
		r.OnStep = func(r load.Result, ok bool, why string) {
			verdict := "ok"
			if !ok {
				verdict = "BROKEN: " + why
			}
			fmt.Fprintf(logw, "    %6.0f/s: %6.0f ok/s  p50 %-9s p99 %-9s max %-9s %s\n", r.Rate, r.Throughput,
				load.Millis(r.P50), load.Millis(r.P99), load.Millis(r.Max), verdict)
		}
		if err := enoughData(*t, r); err != nil {
			return err
		}
		out := r.Run(ctx, t.op)
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if out.Void != "" {
			return fmt.Errorf("the bench failed: ramp %q: %s; no report written (its figures would measure the bench's data, not the server)", t.name, out.Void)
		}
		rep.results = append(rep.results, opResult{target: *t, bound: bound, out: out})
	}

	if c.profile > 0 {
		if token, err = benchToken(ctx, s); err != nil {
			return err
		}
		if err := workers.refresh(ctx, s); err != nil {
			return err
		}
		if s.URL("interventions") != "" {
			if err := ivTok.refresh(ctx, s, iv); err != nil {
				return err
			}
		}
		rep.profiles = profileLaggards(ctx, logw, debug, rep.results, c.profile)
	}
	if c.pgbenchDur > 0 {
		rep.pgbench, rep.pgbenchErr = runPgbench(ctx, logw, map[string]string{"registry": s.DatabaseURL("registry"), "intake": s.DatabaseURL("intake")}, cr.ambito.String(), c.pgbenchDur)
	}
	rep.loadAfter = load.LoadAvg()
	rep.took = time.Since(began)
	path := c.out
	if !filepath.IsAbs(path) {
		path = filepath.Join(root, path)
	}
	if err := rep.write(path); err != nil {
		return err
	}
	fmt.Fprintf(logw, "==> wrote %s (the bench took %s)\n", path, rep.took.Round(time.Second))
	return nil
}

// The create ramps' first step and ceiling: a create needs a new resident per request, and
// the ceiling bounds how many a ramp can ask for (load.Ramp.MaxRequests); the floor's insert
// broke at 400/s, the service's at 250/s, far below it.
const (
	createStart = 50
	createMax   = 2000
)

// benchRamp is the ramp of every operation: from start up to max (5000/s when 0), doubling,
// halving, then two bisection steps; a broken step runs again before it counts.
func benchRamp(start, max float64, step time.Duration, bound load.Bound) load.Ramp {
	if max == 0 {
		max = 5000
	}
	return load.Ramp{Start: start, Min: 1, Max: max, Factor: 2, Bisect: 2, Confirm: true, Step: step, Pause: 500 * time.Millisecond,
		Timeout: 5 * time.Second, Bound: bound}
}

// enoughData fails when an operation that spends a datum per request (a new resident per
// create) has fewer than its ramp can ask for.
func enoughData(t target, r load.Ramp) error {
	if t.fresh == 0 {
		return nil
	}
	if need := r.MaxRequests(); int64(t.fresh) < need {
		return fmt.Errorf("ramp %q: %d fresh residents for up to %d requests: the last steps would measure the data running out (raise -fresh)",
			t.name, t.fresh, need)
	}
	return nil
}

// hasRoute reports whether the service serves url (GET): anything but 404 and 405.
func hasRoute(ctx context.Context, hc *http.Client, url, token string) bool {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return false
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := hc.Do(req)
	if err != nil {
		return false
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode != http.StatusNotFound && resp.StatusCode != http.StatusMethodNotAllowed
}

// selected reports whether -only picks t: its name contains only, or it is the floor of one
// whose name does.
func selected(ts []target, t target, only string) bool {
	if strings.Contains(t.name, only) {
		return true
	}
	for _, o := range ts {
		if o.floor == t.name && strings.Contains(o.name, only) {
			return true
		}
	}
	return false
}

// startFloor builds csifloor into bin/ and starts it on the registry's, intake's and
// interventions' databases (interventionsURL "": not served).
func startFloor(ctx context.Context, root, dbURL, intakeURL, interventionsURL, ambito string, port int, logw io.Writer) (string, func(), int, error) {
	bin := filepath.Join(root, "bin", "csifloor")
	fmt.Fprintln(logw, "==> building and starting csifloor (the floor)")
	b := exec.CommandContext(ctx, "go", "build", "-o", bin, "./tools/cmd/csifloor")
	b.Dir, b.Stdout, b.Stderr = root, logw, logw
	if err := b.Run(); err != nil {
		return "", nil, 0, fmt.Errorf("build csifloor: %w", err)
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	args := []string{"-addr", addr, "-database-url", dbURL, "-intake-database-url", intakeURL, "-ambito", ambito}
	if interventionsURL != "" {
		args = append(args, "-interventions-database-url", interventionsURL)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logw, logw
	if err := cmd.Start(); err != nil {
		return "", nil, 0, fmt.Errorf("start csifloor: %w", err)
	}
	stop := func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			conn.Close()
			break
		}
		if time.Now().After(deadline) {
			stop()
			return "", nil, 0, errors.New("csifloor did not start listening within 10 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	return "http://" + addr, stop, cmd.Process.Pid, nil
}

// processes are the processes whose CPU and memory the bench reports: the services, the
// floor, PostgreSQL (the backends of the bench's databases: the server may serve others too)
// and Redis.
func processes(ctx context.Context, s *suite.Suite, floorPID int, prefix string) ([]load.Proc, error) {
	procs := []load.Proc{{Name: "identity", PID: s.PID("identity")}, {Name: "registry", PID: s.PID("registry")},
		{Name: "intake", PID: s.PID("intake")}}
	if pid := s.PID("interventions"); pid > 0 {
		procs = append(procs, load.Proc{Name: "interventions", PID: pid})
	}
	procs = append(procs, load.Proc{Name: "csifloor", PID: floorPID})
	conn, err := pgx.Connect(ctx, s.DatabaseURL("registry"))
	if err != nil {
		return nil, err
	}
	var backend int
	err = conn.QueryRow(ctx, `SELECT pg_backend_pid()`).Scan(&backend)
	conn.Close(ctx)
	if err != nil {
		return nil, err
	}
	if ppid := parentOf(backend); ppid > 0 {
		procs = append(procs, load.Proc{Name: "postgres", PID: ppid, Children: true, Match: " " + prefix})
	}
	if pid := redisPID(s.RedisURL()); pid > 0 {
		procs = append(procs, load.Proc{Name: "redis", PID: pid})
	}
	return procs, nil
}

// parentOf returns the parent's pid of pid (0 when unknown).
func parentOf(pid int) int {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0
	}
	i := strings.LastIndexByte(string(b), ')')
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// redisPID asks Redis for its process id (INFO server), through a plain connection.
func redisPID(redisURL string) int {
	if redisURL == "" {
		return 0
	}
	host := strings.TrimPrefix(strings.TrimPrefix(redisURL, "redis://"), "rediss://")
	if i := strings.IndexAny(host, "/?"); i >= 0 {
		host = host[:i]
	}
	if i := strings.LastIndexByte(host, '@'); i >= 0 {
		host = host[i+1:]
	}
	conn, err := net.DialTimeout("tcp", host, 2*time.Second)
	if err != nil {
		return 0
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := conn.Write([]byte("INFO server\r\n")); err != nil {
		return 0
	}
	buf := make([]byte, 64<<10)
	n := 0
	for n < len(buf) {
		m, err := conn.Read(buf[n:])
		n += m
		if err != nil || strings.Contains(string(buf[:n]), "\r\n\r\n") && strings.Contains(string(buf[:n]), "process_id:") {
			break
		}
	}
	for line := range strings.Lines(string(buf[:n])) {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "process_id:"); ok {
			pid, _ := strconv.Atoi(v)
			return pid
		}
	}
	return 0
}

func itoa(n int) string { return strconv.Itoa(n) }
