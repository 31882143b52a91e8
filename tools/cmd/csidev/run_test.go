package main

import (
	"strings"
	"testing"

	"github.com/csi-lombardia/csi/pkg/places"
	"github.com/csi-lombardia/csi/tools/internal/demo"
)

// The summary of make run names the sign-in of every comune's social worker, whose accesses
// and cases the intake demo data are, and how to read them through intake.
func TestSummaryNamesTheComuneWorkers(t *testing.T) {
	d, err := demo.Generate(demo.DefaultSeed, places.Default())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	printSignIns(&b, d, "http://127.0.0.1:8081", false)
	printIntake(&b, d, "http://127.0.0.1:8081", "http://127.0.0.1:8083")
	out := b.String()
	if len(d.ComuneWorkers) != len(d.Comuni) {
		t.Fatalf("%d comune workers for %d comuni", len(d.ComuneWorkers), len(d.Comuni))
	}
	for _, u := range d.ComuneWorkers {
		if !strings.Contains(out, u.Email) {
			t.Errorf("the summary does not name %s", u.Email)
		}
	}
	if !strings.Contains(out, "http://127.0.0.1:8083/v1/cases") {
		t.Errorf("the summary does not show intake's cases:\n%s", out)
	}

	b.Reset()
	printSignIns(&b, d, "http://127.0.0.1:8081", true)
	if strings.Contains(b.String(), d.ComuneWorkers[0].Email) {
		t.Errorf("without demo data (adminOnly) the summary names %s, who does not exist", d.ComuneWorkers[0].Email)
	}
}
