package charttest

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/yaml"
)

// repoRoot is the repository, seen from this test module (charts/test).
const repoRoot = "../.."

// suiteService is one line of services/services.tsv.
type suiteService struct {
	name string
	port int
}

var (
	servicesOnce sync.Once
	servicesList []suiteService
	servicesErr  error
)

// suiteServices reads services/services.tsv, the one list of the services and their ports
// (tools/internal/catalog reads it for the tools; this module cannot import that package):
// name<TAB>port lines, # comments and blank lines skipped.
func suiteServices(t testing.TB) []suiteService {
	t.Helper()
	servicesOnce.Do(func() {
		var data []byte
		if data, servicesErr = os.ReadFile(filepath.Join(repoRoot, "services", "services.tsv")); servicesErr != nil {
			return
		}
		for n, line := range strings.Split(string(data), "\n") {
			if strings.TrimSpace(line) == "" || strings.HasPrefix(line, "#") {
				continue
			}
			name, port, ok := strings.Cut(line, "\t")
			p, err := strconv.Atoi(port)
			if !ok || err != nil {
				servicesErr = fmt.Errorf("services/services.tsv:%d: %q: want name<TAB>port", n+1, line)
				return
			}
			servicesList = append(servicesList, suiteService{name, p})
		}
		if len(servicesList) == 0 {
			servicesErr = fmt.Errorf("services/services.tsv lists no service")
		}
	})
	if servicesErr != nil {
		t.Fatal(servicesErr)
	}
	return servicesList
}

// serviceCharts are the service charts: one for every service of services/services.tsv.
func serviceCharts(t testing.TB) []string {
	var names []string
	for _, s := range suiteServices(t) {
		names = append(names, s.name)
	}
	return names
}

// TestChartsMatchServiceList: what the charts take from services/services.tsv and from the
// schema parts is what `go run ./tools/cmd/csicharts` generates from them (Helm reads nothing
// outside a chart, so the generator writes it into each chart: the library chart's service
// table, each service chart's service.port and values.schema.json, the umbrella's schema).
func TestChartsMatchServiceList(t *testing.T) {
	cmd := exec.Command("go", "run", "./tools/cmd/csicharts", "-check")
	cmd.Dir = repoRoot
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("go run ./tools/cmd/csicharts -check: %v\n%s", err, out.String())
	}
}

// TestEveryServiceHasItsChart: every service of services/services.tsv has its chart (named
// after it), a dependency of the umbrella chart switched by <name>.enabled, a section in the
// umbrella's values and production values; no chart is left of a service that is not listed;
// and each chart's Service and container listen on the service's port.
func TestEveryServiceHasItsChart(t *testing.T) {
	svcs := suiteServices(t)
	type dependency struct {
		Name       string `json:"name"`
		Repository string `json:"repository"`
		Condition  string `json:"condition"`
	}
	var umbrellaChart struct {
		Dependencies []dependency `json:"dependencies"`
	}
	readYAML(t, filepath.Join("..", umbrella, "Chart.yaml"), &umbrellaChart)
	var values, production map[string]any
	readYAML(t, filepath.Join("..", umbrella, "values.yaml"), &values)
	readYAML(t, filepath.Join("..", umbrella, "values-production.yaml"), &production)

	listed := map[string]bool{"common": true, umbrella: true, "test": true}
	for _, s := range svcs {
		listed[s.name] = true
		t.Run(s.name, func(t *testing.T) {
			var chart struct {
				Name string `json:"name"`
			}
			readYAML(t, filepath.Join("..", s.name, "Chart.yaml"), &chart)
			if chart.Name != s.name {
				t.Errorf("charts/%s/Chart.yaml names the chart %q", s.name, chart.Name)
			}
			i := slices.IndexFunc(umbrellaChart.Dependencies, func(d dependency) bool { return d.Name == s.name })
			if i < 0 {
				t.Errorf("charts/%s/Chart.yaml has no dependency %s", umbrella, s.name)
			} else if d := umbrellaChart.Dependencies[i]; d.Repository != "file://../"+s.name || d.Condition != s.name+".enabled" {
				t.Errorf("charts/%s/Chart.yaml: dependency %+v, want repository file://../%s and condition %s.enabled", umbrella, d, s.name, s.name)
			}
			if _, ok := values[s.name].(map[string]any); !ok {
				t.Errorf("charts/%s/values.yaml has no %s section", umbrella, s.name)
			}
			if _, ok := production[s.name].(map[string]any); !ok {
				t.Errorf("charts/%s/values-production.yaml has no %s section", umbrella, s.name)
			}

			r := renderStrict(t, valuesCase{chart: s.name})
			var services, deployments int
			for _, o := range r.objects {
				switch o := o.(type) {
				case *corev1.Service:
					services++
					if len(o.Spec.Ports) != 1 || o.Spec.Ports[0].Port != int32(s.port) {
						t.Errorf("Service %s ports %+v, want %d (services/services.tsv)", o.Name, o.Spec.Ports, s.port)
					}
				case *appsv1.Deployment:
					deployments++
					c := o.Spec.Template.Spec.Containers[0]
					if len(c.Ports) != 1 || c.Ports[0].ContainerPort != int32(s.port) {
						t.Errorf("Deployment %s container ports %+v, want %d (services/services.tsv)", o.Name, c.Ports, s.port)
					}
				}
			}
			if services != 1 || deployments != 1 {
				t.Errorf("%d Services and %d Deployments, want one of each", services, deployments)
			}
			if got := r.configMaps["csi-"+s.name].Data["CSI_HTTP_ADDR"]; got != ":"+strconv.Itoa(s.port) {
				t.Errorf("CSI_HTTP_ADDR %q, want :%d", got, s.port)
			}
		})
	}
	entries, err := os.ReadDir("..")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.IsDir() && !listed[e.Name()] {
			t.Errorf("charts/%s is not a service of services/services.tsv (nor the library, the umbrella or the tests)", e.Name())
		}
	}
	for _, d := range umbrellaChart.Dependencies {
		if !listed[d.Name] || d.Name == umbrella || d.Name == "test" {
			t.Errorf("charts/%s/Chart.yaml depends on %s, which is not a service of services/services.tsv", umbrella, d.Name)
		}
	}
}

// TestUmbrellaWiresThePeers renders the umbrella chart and reads each service's peer URLs
// (TestUmbrellaInstallUpgradeUninstall checks its notes, which Helm renders on install only):
// intake reaches identity and the registry, interventions identity, through their Services in
// the release, on their ports of services/services.tsv; every service but identity gets identity's key set.
func TestUmbrellaWiresThePeers(t *testing.T) {
	port := map[string]int{}
	for _, s := range suiteServices(t) {
		port[s.name] = s.port
	}
	r := renderStrict(t, valuesCase{chart: umbrella})
	env := func(svc, key string) string {
		cm := r.configMaps["csi-"+svc]
		if cm == nil {
			t.Fatalf("no ConfigMap csi-%s", svc)
		}
		return cm.Data[key]
	}
	for _, tc := range []struct{ svc, key, want string }{
		{"registry", "CSI_JWKS_URL", fmt.Sprintf("http://csi-identity:%d/.well-known/jwks.json", port["identity"])},
		{"intake", "CSI_JWKS_URL", fmt.Sprintf("http://csi-identity:%d/.well-known/jwks.json", port["identity"])},
		{"intake", "CSI_IDENTITY_URL", fmt.Sprintf("http://csi-identity:%d", port["identity"])},
		{"intake", "CSI_REGISTRY_URL", fmt.Sprintf("http://csi-registry:%d", port["registry"])},
		{"interventions", "CSI_JWKS_URL", fmt.Sprintf("http://csi-identity:%d/.well-known/jwks.json", port["identity"])},
		{"interventions", "CSI_IDENTITY_URL", fmt.Sprintf("http://csi-identity:%d", port["identity"])},
		{"interventions", "CSI_REGISTRY_URL", fmt.Sprintf("http://csi-registry:%d", port["registry"])},
		{"interventions", "CSI_INTAKE_URL", fmt.Sprintf("http://csi-intake:%d", port["intake"])},
		{"intake", "CSI_INTAKE_URL", ""},
		{"identity", "CSI_JWKS_URL", ""},
		{"registry", "CSI_IDENTITY_URL", ""},
	} {
		if got := env(tc.svc, tc.key); got != tc.want {
			t.Errorf("%s %s = %q, want %q", tc.svc, tc.key, got, tc.want)
		}
	}
	// The chart alone falls back to the peers installed as releases named after them.
	alone := renderStrict(t, valuesCase{chart: "intake"})
	if got, want := alone.configMaps["csi-intake"].Data["CSI_REGISTRY_URL"], fmt.Sprintf("http://registry:%d", port["registry"]); got != want {
		t.Errorf("intake alone: CSI_REGISTRY_URL %q, want %q", got, want)
	}
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}
