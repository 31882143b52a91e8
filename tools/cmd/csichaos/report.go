package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/load"
)

// report renders RELIABILITY.md.
func report(root, cmdline string, loads map[string]offer, bench benchReport, dur, total time.Duration, loadBefore string, outcomes []outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Reliability\n\n")
	fmt.Fprintf(&b, "Faults injected into the running suite under a steady open-loop load, written by `make chaos`\n")
	fmt.Fprintf(&b, "(tools/cmd/csichaos). Do not edit by hand: run it again.\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Commit: %s\n", commit(root))
	fmt.Fprintf(&b, "- Command: `%s` (%s in all)\n", cmdline, total.Round(time.Second))
	fmt.Fprintf(&b, "- Load average: %s before, %s after (the machine is shared: above its %d cores, other work ran too)\n",
		loadBefore, load.LoadAvg(), runtime.NumCPU())
	fmt.Fprintf(&b, "- Load: a fixed arrival rate for %s per scenario whatever the answers take, at **half of the rate\n", dur)
	fmt.Fprintf(&b, "  the mix sustains** by `make bench`: for a mix with fractions f_i of operations each sustaining r_i\n")
	fmt.Fprintf(&b, "  alone (BENCHMARKS.md's *sustained req/s*: p99 <= 25 ms, errors < 1%%), the mix sustains\n")
	fmt.Fprintf(&b, "  1 / Σ f_i / r_i; an operation BENCHMARKS.md has no figure for is measured by a short ramp\n")
	fmt.Fprintf(&b, "  (`tools/internal/load`) on this suite first; `-rate` overrides.")
	if bench.date != "" {
		fmt.Fprintf(&b, " The figures are those of the BENCHMARKS.md of %s (commit `%s`).", bench.date, bench.commit)
	}
	fmt.Fprintf(&b, "\n")
	fmt.Fprintf(&b, "  - registry's mix: **%.0f req/s**, %s.\n", loads["registry"].rate, loads["registry"].source)
	fmt.Fprintf(&b, "  - intake's mix (scenario f): **%.0f req/s**, %s.\n", loads["intake"].rate, loads["intake"].source)
	if l, ok := loads["interventions-batch"]; ok {
		fmt.Fprintf(&b, "  - interventions' batches (scenario h): **%.1f req/s**, %s.\n", l.rate, l.source)
		fmt.Fprintf(&b, "  - interventions' single visits (scenario i): **%.0f req/s**, %s.\n", loads["interventions-visit"].rate, loads["interventions-visit"].source)
		fmt.Fprintf(&b, "  - interventions' document uploads (scenario j): **%.0f req/s**, %s.\n", loads["interventions-docs"].rate, loads["interventions-docs"].source)
	}
	fmt.Fprintf(&b, "- The registry's mix is 4 citizen creates (POST /v1/citizens with an Idempotency-Key, no codice\n")
	fmt.Fprintf(&b, "  fiscale, so only the key keeps a retry from storing twice), 4 reads of citizens the load created\n")
	fmt.Fprintf(&b, "  and 2 client-credentials token requests on identity in 10. The registry runs as two instances\n")
	fmt.Fprintf(&b, "  behind a readiness-aware round-robin proxy (a Kubernetes Service on a laptop); PostgreSQL and\n")
	fmt.Fprintf(&b, "  Redis are private servers under .run/chaos.\n")
	fmt.Fprintf(&b, "- Scenario f drives intake instead: 6 access creates (POST /v1/accesses with an Idempotency-Key,\n")
	fmt.Fprintf(&b, "  each naming a citizen of the registry, which intake asks first) and 4 access reads in 10, as the\n")
	fmt.Fprintf(&b, "  demo social worker of a comune; intake calls the first registry instance directly.\n")
	fmt.Fprintf(&b, "- Scenario g retries the load's creates as a careful client would: on no answer (a %s client\n", attemptTimeout)
	fmt.Fprintf(&b, "  timeout), a 5xx, a 409 (the key's first request still running) or a 429 it sends the same request\n")
	fmt.Fprintf(&b, "  with the same key again, after Retry-After or 100 ms, for up to %s.\n", retryBudget)
	fmt.Fprintf(&b, "- Scenarios h and i write visits as a cooperative's system does, with the bench cooperative's\n")
	fmt.Fprintf(&b, "  machine client (visits:write, `tools/internal/ivload`): each visit its own quarter of an hour of\n")
	fmt.Fprintf(&b, "  one of the cooperative's 60 operators, so the overlap rule never refuses the load's visits and a\n")
	fmt.Fprintf(&b, "  visit stored twice shows as two rows of one operator and start; scenario h retries each batch\n")
	fmt.Fprintf(&b, "  as scenario g retries its creates. Their visits are read back from interventions' database.\n")
	fmt.Fprintf(&b, "- Scenario j keeps interventions' documents in make test's S3 server through a TCP switch that,\n")
	fmt.Fprintf(&b, "  while S3 is away, cuts every connection and refuses new ones (the server is shared: never stopped);\n")
	fmt.Fprintf(&b, "  the documents are read back from the database, the bucket's listing and their presigned links.\n")
	fmt.Fprintf(&b, "- Writes are read back after each scenario: every create answered 2xx (at once or after retries)\n")
	fmt.Fprintf(&b, "  must be in the service's database exactly once (rows counted by the e-mail that marks the\n")
	fmt.Fprintf(&b, "  citizen, the desk that marks the access) and readable through the API.\n")
	fmt.Fprintf(&b, "- *Error burst*: from the first failed request's start to the last failed request's answer, over\n")
	fmt.Fprintf(&b, "  the load's requests (a retried create's first attempt). *p99 back* is the time from the fault's\n")
	fmt.Fprintf(&b, "  end (the server back, or ready again) to the start of the first %s window of requests whose\n", window)
	fmt.Fprintf(&b, "  p99 is <= %s again (windows sliding by %s, a failed request counting as slower than\n", load.Millis(latencyBound), windowSlide)
	fmt.Fprintf(&b, "  any bound); each scenario's notes give the p99 before the fault, and where that was over 25 ms\n")
	fmt.Fprintf(&b, "  already the column also says when the p99 was back to that level.\n\n")

	fmt.Fprintf(&b, "| Scenario | Offered (req/s) | Load (req/s) | Requests | Failures (by status) | Error burst | p99 back | Lost writes | Duplicated writes | Recovery | Result |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---:|---|---|---|---:|---:|---|---|\n")
	for _, o := range outcomes {
		result := "passed"
		if len(o.problems) > 0 {
			result = "**FAILED**"
		}
		fmt.Fprintf(&b, "| %s. %s | %.0f | %.1f | %d | %s | %s | %s | %d | %d | %s | %s |\n", o.key, o.title, o.offered.rate, o.rate,
			len(o.results)+len(o.retries), formatCounts(failures(o.results)), errorBurst(o.results), latencyText(o.results, o.faultEnd, o.before),
			o.w.lost, o.w.duplicated, o.recovery, result)
	}
	fmt.Fprintf(&b, "\nFailures count the load's requests; scenario d's deliberate client timeouts are in its notes, scenario f's\n")
	fmt.Fprintf(&b, "503s are the outage's (required), its retries after it in its notes; scenario g's failures are first\n")
	fmt.Fprintf(&b, "attempts, each create retried to a 2xx (its notes).\n")

	for _, o := range outcomes {
		fmt.Fprintf(&b, "\n## %s. %s\n\n", o.key, o.title)
		fmt.Fprintf(&b, "- Offered %.0f req/s (%s)\n", o.offered.rate, o.offered.source)
		fmt.Fprintf(&b, "- Requests: %s\n", formatCounts(byOp(o.results)))
		fmt.Fprintf(&b, "- Creates answered 2xx: %d; stored without a 2xx answer (a client would retry with its key): %d\n",
			o.w.acked, o.w.unacked)
		if bu := errorBurst(o.results); bu.failed > 0 {
			fmt.Fprintf(&b, "- Error burst: %s, from %s to %s\n", bu, bu.first.Format("15:04:05.000"), bu.last.Format("15:04:05.000"))
		}
		for _, n := range o.notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
		for _, p := range o.problems {
			fmt.Fprintf(&b, "- **Failed:** %s\n", p)
		}
	}
	return b.String()
}

func byOp(results []result) map[string]int {
	out := map[string]int{}
	for _, r := range results {
		out[r.op]++
	}
	return out
}

// machine describes this computer: CPU model, cores, memory, OS.
func machine() string {
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb int64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %d kB", &kb); err == nil {
			mem = fmt.Sprintf(", %.0f GB RAM", float64(kb)/(1<<20))
		}
	}
	return fmt.Sprintf("%s, %d cores%s, %s/%s, %s", model, runtime.NumCPU(), mem, runtime.GOOS, runtime.GOARCH, runtime.Version())
}

func commit(root string) string {
	var out bytes.Buffer
	cmd := exec.Command("git", "describe", "--always", "--dirty")
	cmd.Dir, cmd.Stdout = root, &out
	if cmd.Run() != nil {
		return "unknown"
	}
	return strings.TrimSpace(out.String())
}
