package main

import (
	"bufio"
	"context"
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/load"
)

// benchOps names, for each operation of the chaos load, the operation of make bench whose
// sustained rate stands for it. The load reads citizens it created moments before, most of
// them for the first time: the uncached read. Intake's access read has no figure of its own;
// the case read (one row by id, scope check, audit, no call to the registry) stands for it.
var benchOps = map[string]string{
	opCreate:       "citizen create",
	opRead:         "read by id, uncached",
	opToken:        "token: client credentials",
	opAccessCreate: "access create",
	opAccessRead:   "case read",
}

// benchReport is what csichaos takes from BENCHMARKS.md: the sustained rate of each operation,
// and when and at which commit the bench ran.
type benchReport struct {
	sustained    map[string]float64 // operation -> sustained req/s
	date, commit string
}

// parseBench reads the tables of BENCHMARKS.md whose second column is "sustained req/s"; an
// operation without a number there (none within the bound) has no figure.
func parseBench(md string) benchReport {
	b := benchReport{sustained: map[string]float64{}}
	inTable := false
	sc := bufio.NewScanner(strings.NewReader(md))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "|") {
			inTable = false
			continue
		}
		cells := strings.Split(strings.Trim(line, "|"), "|")
		for i := range cells {
			cells[i] = strings.TrimSpace(cells[i])
		}
		if len(cells) < 2 {
			continue
		}
		switch {
		case cells[0] == "date" && b.date == "":
			b.date = cells[1]
		case cells[0] == "commit" && b.commit == "":
			b.commit = strings.Trim(cells[1], "`")
		case cells[1] == "sustained req/s":
			inTable = true
		case inTable:
			if v, err := strconv.ParseFloat(cells[1], 64); err == nil && v > 0 {
				b.sustained[cells[0]] = v
			}
		}
	}
	return b
}

// mixRate is the rate a mix of operations sustains when each operation alone sustains
// rates[op]: the fraction f_i of requests of operation i costs f_i / r_i of a second's
// capacity, so the mix sustains 1 / Σ f_i / r_i requests a second.
func mixRate(mix []string, rates map[string]float64) (float64, error) {
	if len(mix) == 0 {
		return 0, fmt.Errorf("an empty mix")
	}
	var cost float64
	for _, op := range mix {
		r := rates[op]
		if r <= 0 {
			return 0, fmt.Errorf("no sustained rate for %s", op)
		}
		cost += 1 / (float64(len(mix)) * r)
	}
	return 1 / cost, nil
}

// offer is the load a scenario runs at, and where that figure came from.
type offer struct {
	rate      float64
	sustained float64 // the mix's sustained rate (0: the rate was given with -rate)
	source    string
}

// offers works out the offered rate of each mix: half of what it sustains, from the rates of
// its operations in BENCHMARKS.md; an operation without a figure there is measured by a short
// ramp on this suite first (measure).
func offers(ctx context.Context, bench benchReport, mixes map[string][]string,
	measure func(ctx context.Context, op string) (float64, error)) (map[string]offer, error) {
	rates := map[string]float64{}
	sources := map[string]string{}
	out := map[string]offer{}
	for _, name := range []string{"registry", "intake"} {
		mix := mixes[name]
		var parts []string
		seen := map[string]bool{}
		for _, op := range mix {
			if seen[op] {
				continue
			}
			seen[op] = true
			if _, ok := rates[op]; !ok {
				if r, ok := bench.sustained[benchOps[op]]; ok {
					rates[op], sources[op] = r, "BENCHMARKS.md "+benchOps[op]
				} else {
					r, err := measure(ctx, op)
					if err != nil {
						return nil, fmt.Errorf("measure the sustained rate of %s (BENCHMARKS.md has no figure for %q): %w", op, benchOps[op], err)
					}
					rates[op], sources[op] = r, "a short ramp here"
				}
			}
			parts = append(parts, fmt.Sprintf("%s %.0f/s (%s)", op, rates[op], sources[op]))
		}
		sustained, err := mixRate(mix, rates)
		if err != nil {
			return nil, err
		}
		out[name] = offer{rate: math.Round(sustained / 2), sustained: sustained,
			source: fmt.Sprintf("half of %.0f/s, the mix's sustained rate from %s", sustained, strings.Join(parts, ", "))}
	}
	return out, nil
}

// measureOp ramps one operation of the chaos load on this suite (briefly: 2 s steps) and
// returns its sustained rate, for an operation BENCHMARKS.md has no figure for.
func (e *env) measureOp(ctx context.Context, op string) (float64, error) {
	if err := e.t.signIn(ctx, e.email, e.password); err != nil {
		return 0, err
	}
	do := func(ctx context.Context, i int64) (int, error) {
		var r result
		switch op {
		case opCreate:
			body, marker, key := e.t.newCreate()
			r = e.t.create(ctx, body, marker, key, 0)
		case opRead:
			r = e.t.read(ctx)
		case opToken:
			r = e.t.token(ctx)
		case opAccessCreate:
			body, marker, key := e.t.newAccess()
			r = e.t.createAccess(ctx, body, marker, key)
		case opAccessRead:
			r = e.t.readAccess(ctx)
		}
		if !r.ok() {
			return r.status, fmt.Errorf("status %d %s", r.status, r.err)
		}
		return r.status, nil
	}
	e.logf("measuring %s by a short ramp (BENCHMARKS.md has no figure for it)", op)
	out := load.Ramp{Start: 50, Min: 5, Max: 3000, Bisect: 1, Step: 2 * time.Second, Confirm: true,
		Bound: load.Bound{P99: 25 * time.Millisecond, ErrorRate: 0.01}}.Run(ctx, load.Op{Name: op, Do: do})
	if out.Void != "" {
		return 0, fmt.Errorf("%s", out.Void)
	}
	if out.Best == nil {
		return 0, fmt.Errorf("no step kept p99 <= 25 ms (%s)", out.Limit)
	}
	e.logf("%s sustains %.0f/s", op, out.Sustained())
	return out.Sustained(), nil
}
