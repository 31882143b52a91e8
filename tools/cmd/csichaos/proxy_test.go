package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// instance is a backend that answers its name, and 200 or 503 on /readyz.
func instance(t *testing.T, name string, ready *atomic.Bool) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/readyz" {
			if !ready.Load() {
				w.WriteHeader(http.StatusServiceUnavailable)
			}
			return
		}
		_, _ = io.WriteString(w, name)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func TestProxy(t *testing.T) {
	var readyA, readyB atomic.Bool
	readyA.Store(true)
	readyB.Store(true)
	a, b := instance(t, "a", &readyA), instance(t, "b", &readyB)
	px, err := newProxy([]string{"a", "b"}, []string{a.URL, b.URL}, 10*time.Millisecond)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go px.Run(ctx)
	front := httptest.NewServer(px)
	defer front.Close()

	// counts sends n requests and counts the answers by backend.
	counts := func(n int) map[string]int {
		got := map[string]int{}
		for range n {
			resp, err := http.Get(front.URL + "/v1/x")
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			_ = resp.Body.Close()
			got[string(body)]++
		}
		return got
	}
	// settle waits until the proxy has seen the backends' readiness.
	settle := func(wantA, wantB bool) {
		t.Helper()
		deadline := time.Now().Add(5 * time.Second)
		for px.backends[0].ready.Load() != wantA || px.backends[1].ready.Load() != wantB {
			if time.Now().After(deadline) {
				t.Fatalf("the proxy did not see readiness a=%v b=%v", wantA, wantB)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}

	since := time.Now()
	for _, tc := range []struct {
		name         string
		readyA, want bool
		readyB       bool
		wantCounts   map[string]int
	}{
		{name: "both ready: round robin", readyA: true, readyB: true, wantCounts: map[string]int{"a": 5, "b": 5}},
		{name: "b draining: all to a", readyA: true, readyB: false, wantCounts: map[string]int{"a": 10}},
		{name: "none ready: fail open to both", readyA: false, readyB: false, wantCounts: map[string]int{"a": 5, "b": 5}},
		{name: "b back", readyA: false, readyB: true, wantCounts: map[string]int{"b": 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			readyA.Store(tc.readyA)
			readyB.Store(tc.readyB)
			settle(tc.readyA, tc.readyB)
			if diff := cmp.Diff(tc.wantCounts, counts(10)); diff != "" {
				t.Errorf("answers by backend (-want +got):\n%s", diff)
			}
		})
	}
	var got []string
	for _, c := range px.Changes(since) {
		state := "unready"
		if c.ready {
			state = "ready"
		}
		got = append(got, c.backend+" "+state)
	}
	want := []string{"b unready", "a unready", "b ready"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("readiness changes (-want +got):\n%s", diff)
	}
}

func TestCheckCounts(t *testing.T) {
	results := []result{{op: opCreate, status: 201}, {op: opRead, status: 503}, {op: opRead, status: 503}, {op: opToken}}
	if got, want := formatCounts(failures(results)), "503×2, no answer×1"; got != want {
		t.Errorf("failures = %q, want %q", got, want)
	}
	if got, want := formatCounts(nil), "0"; got != want {
		t.Errorf("no failures = %q, want %q", got, want)
	}
	if got, want := letters(0)+letters(1)+letters(16), "ACCc"; got != want {
		t.Errorf("letters = %q, want %q", got, want)
	}
}
