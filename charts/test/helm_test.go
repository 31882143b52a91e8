package charttest

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/yaml"
)

// umbrella is the chart that installs every service chart (serviceCharts, services_test.go).
const umbrella = "csi"

// helmPath is the Helm CLI named by CSI_HELM (scripts/helm.sh installs it).
func helmPath(t testing.TB) string {
	t.Helper()
	p := os.Getenv("CSI_HELM")
	if p == "" {
		t.Fatal("CSI_HELM is not set: run the tests with 'make test' (scripts/test-env-k8s.sh), or export CSI_HELM=$(scripts/helm.sh)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Fatalf("CSI_HELM=%s: %v", p, err)
	}
	return p
}

var (
	chartsOnce sync.Once
	chartsDir  string
	helmHome   string
	chartsErr  error
)

// charts returns a private copy of charts/ with every chart's dependencies built (the library
// chart packaged into each service chart, the service charts into the umbrella chart), so
// the tests never write into the repository.
func charts(t testing.TB) string {
	t.Helper()
	helm := helmPath(t)
	names := append(serviceCharts(t), umbrella)
	chartsOnce.Do(func() {
		var tmp string
		tmp, chartsErr = os.MkdirTemp("", "csi-charts-")
		if chartsErr != nil {
			return
		}
		helmHome = filepath.Join(tmp, "helm-home")
		chartsDir = filepath.Join(tmp, "charts")
		if chartsErr = copyCharts("..", chartsDir); chartsErr != nil {
			return
		}
		for _, c := range names {
			if _, chartsErr = runHelm(helm, "dependency", "build", "--skip-refresh", filepath.Join(chartsDir, c)); chartsErr != nil {
				return
			}
		}
	})
	if chartsErr != nil {
		t.Fatalf("preparing the charts: %v", chartsErr)
	}
	return chartsDir
}

// copyCharts copies the chart directories (everything but this test module and packaged
// dependencies left by a manual `helm dependency build`).
func copyCharts(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		parts := strings.Split(rel, string(filepath.Separator))
		if parts[0] == "test" || (len(parts) == 2 && parts[1] == "charts" && d.IsDir()) {
			return filepath.SkipDir
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
}

// runHelm runs the Helm CLI with private configuration, cache and data directories and
// returns its standard output.
func runHelm(helm string, args ...string) (string, error) {
	out, _, err := runHelmStderr(helm, args...)
	return out, err
}

// runHelmStderr is runHelm that also returns the standard error (where Helm prints the API
// server's warnings).
func runHelmStderr(helm string, args ...string) (string, string, error) {
	cmd := exec.Command(helm, args...)
	cmd.Env = append(os.Environ(),
		"HELM_CACHE_HOME="+filepath.Join(helmHome, "cache"),
		"HELM_CONFIG_HOME="+filepath.Join(helmHome, "config"),
		"HELM_DATA_HOME="+filepath.Join(helmHome, "data"),
	)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), stderr.String(), fmt.Errorf("helm %s: %w\n%s%s", strings.Join(args, " "), err, stderr.String(), stdout.String())
	}
	return stdout.String(), stderr.String(), nil
}

// helm runs the Helm CLI against the private chart copy.
func helm(t testing.TB, args ...string) (string, error) {
	t.Helper()
	charts(t)
	return runHelm(helmPath(t), args...)
}

// chartPath is the private copy of a chart.
func chartPath(t testing.TB, chart string) string {
	return filepath.Join(charts(t), chart)
}

// valuesCase is one set of values a chart is rendered with.
type valuesCase struct {
	name  string
	chart string
	files []string // values files, relative to the charts directory
	set   []string // --set arguments
}

// renderCases are every chart with its default values and with production-like values (the
// umbrella's values-production.yaml, and its sections for each service chart alone).
func renderCases(t testing.TB) []valuesCase {
	cases := []valuesCase{{name: "csi/default", chart: umbrella}, {name: "csi/production", chart: umbrella, files: []string{"csi/values-production.yaml"}}}
	for _, c := range serviceCharts(t) {
		cases = append(cases,
			valuesCase{name: c + "/default", chart: c},
			valuesCase{name: c + "/production", chart: c, files: []string{productionValues(t, c)}},
			valuesCase{name: c + "/everything-on", chart: c, set: []string{
				"ingress.enabled=true", "ingress.host=" + c + ".example.org", "ingress.tlsSecretName=tls",
				"serviceMonitor.enabled=true", "prometheusRule.enabled=true", "dashboard.enabled=true", "autoscaling.enabled=true",
				"audit.checkpoints.enabled=true", "audit.checkpoints.s3.endpoint=s3.example.org:9000", "audit.checkpoints.s3.bucket=csi-audit",
				"secrets.inline.database-url=postgres://u:p@db/" + c, "config.debugAddr=127.0.0.1:6061",
			}},
		)
	}
	return cases
}

// productionValues writes the production-like values of one service chart (its section of
// the umbrella's values-production.yaml, plus the global section) and returns the file's path
// relative to the charts directory.
func productionValues(t testing.TB, chart string) string {
	t.Helper()
	dir := charts(t)
	b, err := os.ReadFile(filepath.Join(dir, "csi", "values-production.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var all map[string]any
	if err := yaml.Unmarshal(b, &all); err != nil {
		t.Fatalf("values-production.yaml: %v", err)
	}
	section, _ := all[chart].(map[string]any)
	if section == nil {
		t.Fatalf("values-production.yaml has no %s section", chart)
	}
	section["global"] = all["global"]
	out, err := yaml.Marshal(section)
	if err != nil {
		t.Fatal(err)
	}
	rel := filepath.Join("test-values", chart+"-production.yaml")
	if err := os.MkdirAll(filepath.Join(dir, "test-values"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, rel), out, 0o644); err != nil {
		t.Fatal(err)
	}
	return rel
}

// valuesArgs are the -f and --set arguments of a case.
func (c valuesCase) valuesArgs(t testing.TB) []string {
	var args []string
	for _, f := range c.files {
		args = append(args, "-f", filepath.Join(charts(t), f))
	}
	for _, s := range c.set {
		args = append(args, "--set", s)
	}
	return args
}

// document is one rendered manifest.
type document struct {
	source string // the template it came from
	raw    []byte
}

// template runs helm template and splits its output into documents.
func template(t testing.TB, release string, c valuesCase, extra ...string) ([]document, error) {
	t.Helper()
	args := append([]string{"template", release, chartPath(t, c.chart), "--namespace", "csi-test"}, c.valuesArgs(t)...)
	out, err := helm(t, append(args, extra...)...)
	if err != nil {
		return nil, err
	}
	return splitDocuments(out)
}

func splitDocuments(out string) ([]document, error) {
	r := utilyaml.NewYAMLReader(bufio.NewReader(strings.NewReader(out)))
	var docs []document
	for {
		b, err := r.Read()
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, err
		}
		var source string
		content := false
		for _, line := range strings.Split(string(b), "\n") {
			trimmed := strings.TrimSpace(line)
			if s, ok := strings.CutPrefix(trimmed, "# Source: "); ok {
				source = s
			} else if trimmed != "" && trimmed != "---" && !strings.HasPrefix(trimmed, "#") {
				content = true
			}
		}
		if content {
			docs = append(docs, document{source: source, raw: b})
		}
	}
}

// strictCodecs decode with strict checks: an unknown or duplicated field is an error, as is a
// value of the wrong type.
var strictCodecs = serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict)

// decodeStrict decodes a document into its Kubernetes API type.
func decodeStrict(d document) (runtime.Object, error) {
	obj, _, err := strictCodecs.UniversalDeserializer().Decode(d.raw, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", d.source, err)
	}
	return obj, nil
}
