package charttest

import (
	"path/filepath"
	"strings"
	"testing"
)

// TestLintStrict runs `helm lint --strict` on every chart with its default and production-like
// values.
func TestLintStrict(t *testing.T) {
	cases := append([]valuesCase{{name: "common/default", chart: "common"}}, renderCases(t)...)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			args := append([]string{"lint", "--strict", chartPath(t, c.chart)}, c.valuesArgs(t)...)
			if out, err := helm(t, args...); err != nil {
				t.Fatal(err)
			} else if !strings.Contains(out, "0 chart(s) failed") {
				t.Errorf("helm lint output:\n%s", out)
			}
		})
	}
}

// TestSchemaRejectsWrongValues shows that values.schema.json stops a wrong value at template
// time (and so at install time): a wrong type, an unknown key, a value outside its enum or
// range, and the latest tag.
func TestSchemaRejectsWrongValues(t *testing.T) {
	cases := []struct {
		name     string
		chart    string
		set      []string
		wantErrs []string // each must appear in helm's error
	}{
		{"wrong type", "identity", []string{"replicaCount=three"}, []string{"replicaCount", "integer"}},
		{"unknown key", "registry", []string{"replicas=3"}, []string{"replicas"}},
		{"unknown nested key", "identity", []string{"autoscaling.maxReplica=3"}, []string{"maxReplica"}},
		{"enum", "registry", []string{"config.logLevel=verbose"}, []string{"logLevel"}},
		{"minimum", "identity", []string{"shutdown.graceSeconds=0"}, []string{"graceSeconds"}},
		{"latest tag", "identity", []string{"image.tag=latest"}, []string{"tag"}},
		{"umbrella global latest tag", umbrella, []string{"global.image.tag=latest"}, []string{"tag"}},
		{"umbrella unknown global", umbrella, []string{"global.consul=x:8500"}, []string{"consul"}},
		{"umbrella subchart wrong type", umbrella, []string{"registry.replicaCount=three"}, []string{"registry", "replicaCount"}},
		{"min above max", "registry", []string{"autoscaling.minReplicas=5", "autoscaling.maxReplicas=3"}, []string{"minReplicas must not exceed"}},
		{"checkpoints without a store", "identity", []string{"audit.checkpoints.enabled=true"}, []string{"endpoint", "bucket"}},
		{"documents' S3 without a bucket", "interventions", []string{"documents.s3.endpoint=s3.example.org:9000"}, []string{"documents", "bucket"}},
		{"documents' link lifetime", "interventions", []string{"documents.linkTTL=forever"}, []string{"linkTTL"}},
		{"audit interval", "registry", []string{"audit.verifyInterval=hourly"}, []string{"verifyInterval"}},
		{"prometheusRule unknown key", "identity", []string{"prometheusRule.severity=page"}, []string{"severity"}},
		{"peer URL not HTTP", "intake", []string{"config.registryURL=registry:8082"}, []string{"registryURL"}},
		{"peer URL on a chart without the peer", "registry", []string{"config.intakeURL=http://intake"}, []string{"intakeURL"}},
		{"intake unknown key", "intake", []string{"config.registryUrl=http://r"}, []string{"registryUrl"}},
		{"umbrella Secret of no service", umbrella, []string{"global.existingSecrets.billing=s"}, []string{"billing"}},
		{"umbrella intake wrong type", umbrella, []string{"intake.enabled=maybe"}, []string{"intake", "enabled"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			docs, err := template(t, "csi", valuesCase{chart: c.chart, set: c.set})
			if err == nil {
				t.Fatalf("helm template with %v succeeded (%d documents), want a schema error", c.set, len(docs))
			}
			for _, want := range c.wantErrs {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not mention %q:\n%v", want, err)
				}
			}
		})
	}
	// The control: the same charts render with their defaults.
	for _, chart := range append([]string{umbrella}, serviceCharts(t)...) {
		if _, err := template(t, "csi", valuesCase{chart: chart}); err != nil {
			t.Errorf("%s with default values: %v", filepath.Base(chart), err)
		}
	}
}
