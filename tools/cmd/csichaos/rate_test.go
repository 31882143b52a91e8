package main

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

const benchSample = `# Benchmarks

| | |
|---|---|
| date | 2026-12-01 17:07 UTC |
| commit | ` + "`fcf2283`" + ` |

## Tokens

| operation | sustained req/s | × floor | p50 | p95 | p99 | max | errors | broke at | CPU |
|---|---:|---:|---:|---:|---:|---:|---|---|---|
| token: client credentials | 1600 | - | 1.3 ms | 12.7 ms | 21.9 ms | 42.2 ms | - | 2000/s | 0.48 |

## Citizen reads

| operation | sustained req/s | × floor | p50 | p95 | p99 | max | errors | broke at | CPU |
|---|---:|---:|---:|---:|---:|---:|---|---|---|
| read by id, uncached | 175 | 0.11 | 5.0 ms | 8.5 ms | 11.9 ms | 17.5 ms | - | 200/s | |
| name search | **none within the bound** | 0.00 | | | | | | 1/s | |

| target | figure | met |
|---|---|---|
| citizen create: >= 0.7 × floor | 200 vs 350 req/s | no |

## Citizen creates

| operation | sustained req/s | × floor | p50 | p95 | p99 | max | errors | broke at | CPU |
|---|---:|---:|---:|---:|---:|---:|---|---|---|
| citizen create | 200 | 0.57 | 5.5 ms | 8.8 ms | 14.9 ms | 20.1 ms | - | 250/s | |

<details><summary>each ramp step of each operation</summary>

| operation | rate | ok/s | p50 |
|---|---:|---:|---:|
| citizen create | 50 | 50 | 2.7 ms |
`

// Only the tables of sustained rates count; an operation with none has no figure; the steps
// table (rates offered, not sustained) is not read.
func TestParseBench(t *testing.T) {
	t.Parallel()
	got := parseBench(benchSample)
	want := map[string]float64{"token: client credentials": 1600, "read by id, uncached": 175, "citizen create": 200}
	if d := cmp.Diff(got.sustained, want); d != "" {
		t.Errorf("sustained (-got +want):\n%s", d)
	}
	if got.date != "2026-12-01 17:07 UTC" || got.commit != "fcf2283" {
		t.Errorf("date %q, commit %q", got.date, got.commit)
	}
}

func TestMixRate(t *testing.T) {
	t.Parallel()
	rates := map[string]float64{opCreate: 200, opRead: 175, opToken: 1600, opAccessCreate: 120, opAccessRead: 799}
	tests := []struct {
		name    string
		mix     []string
		want    float64
		wantErr bool
	}{
		{"one operation", []string{opCreate}, 200, false},
		{"two halves", []string{opCreate, opToken}, 1 / (0.5/200 + 0.5/1600), false},
		// 0.4/200 + 0.4/175 + 0.2/1600 = 0.0044107 s per request.
		{"the registry's mix", mix, 1 / (0.4/200 + 0.4/175 + 0.2/1600), false},
		{"intake's mix", intakeMix, 1 / (0.6/120 + 0.4/799), false},
		{"an operation without a rate", []string{opCreate, "unknown"}, 0, true},
		{"empty", nil, 0, true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := mixRate(tc.mix, rates)
			if (err != nil) != tc.wantErr {
				t.Fatalf("mixRate: %v, want error %v", err, tc.wantErr)
			}
			if math.Abs(got-tc.want) > 1e-9 {
				t.Errorf("mixRate = %f, want %f", got, tc.want)
			}
		})
	}
	if r, _ := mixRate(mix, rates); math.Round(r) != 227 {
		t.Errorf("the registry's mix sustains %.1f/s, want about 227/s", r)
	}
}

// Half of each mix's sustained rate; a figure BENCHMARKS.md lacks (intake's, here) is measured,
// each operation once; the source says where each figure came from.
func TestOffers(t *testing.T) {
	t.Parallel()
	var measured []string
	measure := func(ctx context.Context, op string) (float64, error) {
		measured = append(measured, op)
		return map[string]float64{opAccessCreate: 120, opAccessRead: 800}[op], nil
	}
	got, err := offers(t.Context(), parseBench(benchSample), mixes, measure)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(measured, []string{opAccessCreate, opAccessRead}); d != "" {
		t.Errorf("measured (-got +want):\n%s", d)
	}
	if r := got["registry"].rate; r != 113 {
		t.Errorf("registry's offer %.0f/s, want 113 (half of 226.7)", r)
	}
	if r := got["intake"].rate; r != math.Round(1/(0.6/120+0.4/800)/2) {
		t.Errorf("intake's offer %.0f/s", r)
	}
	for _, want := range []string{"BENCHMARKS.md citizen create", "half of 227/s"} {
		if !strings.Contains(got["registry"].source, want) {
			t.Errorf("registry's source %q lacks %q", got["registry"].source, want)
		}
	}
	if !strings.Contains(got["intake"].source, "a short ramp here") {
		t.Errorf("intake's source %q does not say the figure was measured", got["intake"].source)
	}

	failing := func(context.Context, string) (float64, error) { return 0, errors.New("no step kept the bound") }
	if _, err := offers(t.Context(), benchReport{}, mixes, failing); err == nil {
		t.Error("offers without figures and a failing measure: no error")
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	tests := []struct {
		status int
		want   bool
	}{
		{0, true}, // no answer: a timeout, the connection cut by a kill
		{http.StatusBadGateway, true},
		{http.StatusServiceUnavailable, true},
		{http.StatusConflict, true}, // the key's first request still running
		{http.StatusTooManyRequests, true},
		{http.StatusCreated, false},
		{http.StatusUnprocessableEntity, false}, // the key reused with another body: a bug, not a retry
		{http.StatusBadRequest, false},
	}
	for _, tc := range tests {
		if got := retryable(result{status: tc.status}); got != tc.want {
			t.Errorf("retryable(%d) = %v, want %v", tc.status, got, tc.want)
		}
	}
}

// A burst spans the first failure's start to the last failure's answer; the latency is back
// at the first window after the fault's end whose p99 keeps the bound, a failure counting
// as over it.
func TestBurstAndLatencyRecovery(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	var rs []result
	// 10 s at 50 req/s: fast, but failures from 2.0 s to 3.0 s and slow answers (80 ms) up to 5 s.
	for i := range 500 {
		at := t0.Add(time.Duration(i) * 20 * time.Millisecond)
		r := result{op: opRead, at: at, dur: 5 * time.Millisecond, status: 200}
		switch s := at.Sub(t0); {
		case s >= 2*time.Second && s < 3*time.Second:
			r.status, r.dur = 503, 2*time.Millisecond
		case s >= 3*time.Second && s < 5*time.Second:
			r.dur = 80 * time.Millisecond
		}
		rs = append(rs, r)
	}
	b := errorBurst(rs)
	if b.failed != 50 || b.first != t0.Add(2*time.Second) || b.last != t0.Add(2980*time.Millisecond+2*time.Millisecond) {
		t.Errorf("burst %d failed from %s to %s", b.failed, b.first, b.last)
	}
	if got := errorBurst(rs[:10]).String(); got != "none" {
		t.Errorf("burst without failures: %q", got)
	}

	end := t0.Add(3 * time.Second) // the fault's end
	after, ok, _ := latencyRecovery(rs, end, latencyBound)
	if !ok || after != 2*time.Second {
		t.Errorf("latency back after %s (ok %v), want 2 s (the slow answers end at 5 s)", after, ok)
	}
	// Right after the failures the window holds a failure: over the bound.
	if p99, n := windowP99(rs, t0.Add(2500*time.Millisecond), t0.Add(3500*time.Millisecond)); p99 != math.MaxInt64 || n != 50 {
		t.Errorf("window over the failures: p99 %s, %d requests", p99, n)
	}
	if got := latencyText(rs[:200], end, 0); !strings.HasPrefix(got, "no full window") {
		t.Errorf("latency text with the load ending at the fault: %q", got)
	}
	if got := latencyText(rs[:240], end, 0); got != "not within the load (last window p99 80.0 ms)" {
		t.Errorf("latency text never back: %q", got)
	}
	if got := latencyText(rs, time.Time{}, 0); got != "-" {
		t.Errorf("latency text without a fault's end: %q", got)
	}
	// A busy machine: every answer takes 40 ms, 90 ms after the fault up to 4 s.
	busy := slices.Clone(rs)
	for i := range busy {
		busy[i].status, busy[i].dur = 200, 40*time.Millisecond
		if s := busy[i].at.Sub(t0); s >= 3*time.Second && s < 4*time.Second {
			busy[i].dur = 90 * time.Millisecond
		}
	}
	want := "not within the load (last window p99 40.0 ms); back to the p99 before the fault (40.0 ms) after 1.0 s"
	if got := latencyText(busy, end, 40*time.Millisecond); got != want {
		t.Errorf("latency text on a busy machine:\n got %q\nwant %q", got, want)
	}
}
