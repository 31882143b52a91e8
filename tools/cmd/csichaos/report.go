package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"time"
)

// report renders RELIABILITY.md.
func report(root, cmdline string, rate float64, dur, total time.Duration, outcomes []outcome) string {
	var b strings.Builder
	fmt.Fprintf(&b, "# Reliability\n\n")
	fmt.Fprintf(&b, "Faults injected into the running suite under a steady open-loop load, written by `make chaos`\n")
	fmt.Fprintf(&b, "(tools/cmd/csichaos). Do not edit by hand: run it again.\n\n")
	fmt.Fprintf(&b, "- Machine: %s\n", machine())
	fmt.Fprintf(&b, "- Date: %s\n", time.Now().UTC().Format("2006-01-02 15:04 MST"))
	fmt.Fprintf(&b, "- Commit: %s\n", commit(root))
	fmt.Fprintf(&b, "- Command: `%s` (%s in all)\n", cmdline, total.Round(time.Second))
	fmt.Fprintf(&b, "- Load: %.0f requests/s offered for %s per scenario, a fixed arrival rate whatever the answers take;\n", rate, dur)
	fmt.Fprintf(&b, "  the cycle is 4 citizen creates (POST /v1/citizens with an Idempotency-Key, no codice fiscale, so\n")
	fmt.Fprintf(&b, "  only the key keeps a retry from storing twice), 4 citizen reads and 2 client-credentials token\n")
	fmt.Fprintf(&b, "  requests on identity. The registry runs as two instances behind a readiness-aware round-robin\n")
	fmt.Fprintf(&b, "  proxy (a Kubernetes Service on a laptop); PostgreSQL and Redis are private servers under\n")
	fmt.Fprintf(&b, "  .run/chaos.\n")
	fmt.Fprintf(&b, "- Scenario f drives intake instead: 6 access creates (POST /v1/accesses with an Idempotency-Key,\n")
	fmt.Fprintf(&b, "  each naming a citizen of the registry, which intake asks first) and 4 access reads in 10, as the\n")
	fmt.Fprintf(&b, "  demo social worker of a comune; intake calls the first registry instance directly.\n")
	fmt.Fprintf(&b, "- Writes are read back after each scenario: every create answered 2xx must be in the service's\n")
	fmt.Fprintf(&b, "  database exactly once (rows counted by the e-mail that marks the citizen, the desk that marks\n")
	fmt.Fprintf(&b, "  the access) and readable through the API.\n\n")

	fmt.Fprintf(&b, "| Scenario | Load (req/s) | Requests | Failures (by status) | Lost writes | Duplicated writes | Recovery | Result |\n")
	fmt.Fprintf(&b, "|---|---:|---:|---|---:|---:|---|---|\n")
	for _, o := range outcomes {
		result := "passed"
		if len(o.problems) > 0 {
			result = "**FAILED**"
		}
		fmt.Fprintf(&b, "| %s. %s | %.1f | %d | %s | %d | %d | %s | %s |\n", o.key, o.title, o.rate,
			len(o.results)+len(o.retries), formatCounts(failures(o.results)), o.w.lost, o.w.duplicated, o.recovery, result)
	}
	fmt.Fprintf(&b, "\nFailures count the load's requests; scenario d's deliberate client timeouts are in its notes, scenario f's\n503s are the outage's (required), its retries after it in its notes.\n")

	for _, o := range outcomes {
		fmt.Fprintf(&b, "\n## %s. %s\n\n", o.key, o.title)
		fmt.Fprintf(&b, "- Requests: %s\n", formatCounts(byOp(o.results)))
		fmt.Fprintf(&b, "- Creates answered 2xx: %d; stored without a 2xx answer (a client would retry with its key): %d\n",
			o.w.acked, o.w.unacked)
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
