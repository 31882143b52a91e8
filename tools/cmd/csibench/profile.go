package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/csi-lombardia/csi/tools/internal/load"
)

// profile is a CPU profile of a service taken while one of its operations ran at a fixed rate.
type profile struct {
	Op      string
	Service string
	Rate    float64
	Flat    string // go tool pprof -top
	Cum     string // go tool pprof -top -cum
	Err     string
}

// maxProfiles is how many operations of each service are profiled at most.
var maxProfiles = map[string]int{"registry": 2, "intake": 2}

// laggardRatio is "far below the floor": under this share of the floor's throughput an
// operation is profiled.
const laggardRatio = 0.7

// profileLaggards profiles the service of each of the operations furthest below their floor:
// the two of the registry's and the two of intake's that lag most.
func profileLaggards(ctx context.Context, logw io.Writer, debug debugAddrs, results []opResult, d time.Duration) []profile {
	type lag struct {
		r     opResult
		ratio float64
	}
	var lags []lag
	for _, r := range results {
		f := floorOf(results, r.target.floor)
		if f == nil || f.out.Sustained() == 0 || !strings.Contains(r.target.name, "read") && !strings.Contains(r.target.name, "create") {
			continue
		}
		if ratio := r.out.Sustained() / f.out.Sustained(); ratio < laggardRatio {
			lags = append(lags, lag{r, ratio})
		}
	}
	slices.SortFunc(lags, func(a, b lag) int {
		switch {
		case a.ratio < b.ratio:
			return -1
		case a.ratio > b.ratio:
			return 1
		}
		return 0
	})
	var out []profile
	perService := map[string]int{}
	for _, l := range lags {
		svc := l.r.target.profiled()
		if perService[svc] >= maxProfiles[svc] || debug[svc] == "" {
			continue
		}
		perService[svc]++
		rate := l.r.target.start
		if l.r.out.Best != nil {
			rate = l.r.out.Best.Rate
		}
		fmt.Fprintf(logw, "==> CPU profile of %s during %q at %.0f/s (%.0f%% of the floor)\n", svc, l.r.target.name, rate, 100*l.ratio)
		var next int64 // go on where the ramp stopped: fresh ids and new people
		for _, st := range l.r.out.Steps {
			next += int64(st.Sent)
		}
		out = append(out, takeProfile(ctx, debug[svc], l.r.target, rate, next, d))
	}
	return out
}

func floorOf(results []opResult, name string) *opResult {
	for i := range results {
		if results[i].target.name == name && name != "" {
			return &results[i]
		}
	}
	return nil
}

func takeProfile(ctx context.Context, debugAddr string, t target, rate float64, first int64, d time.Duration) profile {
	p := profile{Op: t.name, Service: t.profiled(), Rate: rate}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		load.Run(ctx, t.op, load.Step{Rate: rate, Duration: d + time.Second, First: first})
	}()
	defer wg.Wait()
	time.Sleep(500 * time.Millisecond)
	f, err := os.CreateTemp("", "csibench-*.pprof")
	if err != nil {
		p.Err = err.Error()
		return p
	}
	defer os.Remove(f.Name())
	resp, err := http.Get(fmt.Sprintf("http://%s/debug/pprof/profile?seconds=%d", debugAddr, int(d.Seconds())))
	if err != nil {
		p.Err = err.Error()
		return p
	}
	_, err = io.Copy(f, resp.Body)
	resp.Body.Close()
	f.Close()
	if err != nil {
		p.Err = err.Error()
		return p
	}
	top := func(extra ...string) string {
		args := append([]string{"tool", "pprof", "-top", "-nodecount=25"}, extra...)
		b, err := exec.CommandContext(ctx, "go", append(args, f.Name())...).CombinedOutput()
		if err != nil {
			return "pprof: " + err.Error() + ": " + string(b)
		}
		return strings.TrimSpace(string(b))
	}
	p.Flat, p.Cum = top(), top("-cum")
	return p
}
