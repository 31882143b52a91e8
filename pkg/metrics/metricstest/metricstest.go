// Package metricstest checks, in a service's tests, that the service serves the metrics its
// Grafana dashboard queries.
package metricstest

import (
	"bufio"
	"maps"
	"net/http"
	"os"
	"slices"
	"strings"
	"testing"
)

// Families scrapes url (a /metrics endpoint) with client and returns the metric families it
// serves, by the names of its # TYPE lines (a histogram by its family name, without _bucket).
func Families(tb testing.TB, client *http.Client, url string) map[string]bool {
	tb.Helper()
	resp, err := client.Get(url)
	if err != nil {
		tb.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		tb.Fatalf("GET %s = %d", url, resp.StatusCode)
	}
	out := map[string]bool{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
		}
	}
	if err := sc.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// CheckDashboard fails tb for every metric name listed in file (one a line: the names the
// chart's dashboard queries, charts/test/testdata/<chart>-dashboard-metrics.txt, which the chart
// tests keep equal to the rendered dashboard) that url does not serve.
func CheckDashboard(tb testing.TB, client *http.Client, url, file string) {
	tb.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		tb.Fatal(err)
	}
	want := strings.Fields(string(data))
	if len(want) == 0 {
		tb.Fatalf("%s lists no metrics", file)
	}
	served := Families(tb, client, url)
	for _, name := range want {
		if !served[name] {
			tb.Errorf("the dashboard queries %s (%s), which %s does not serve; served: %v", name, file, url, slices.Sorted(maps.Keys(served)))
		}
	}
}
