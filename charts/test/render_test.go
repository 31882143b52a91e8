package charttest

import (
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// rendered is a chart's output, decoded.
type rendered struct {
	objects         []runtime.Object
	serviceMonitors []*unstructured.Unstructured
	prometheusRules []*unstructured.Unstructured
	configMaps      map[string]*corev1.ConfigMap
}

// renderStrict renders a case and decodes every document strictly; ServiceMonitors and
// PrometheusRules (not core types) are decoded strictly into unstructured objects.
func renderStrict(t *testing.T, c valuesCase) rendered {
	t.Helper()
	docs, err := template(t, "csi", c)
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) == 0 {
		t.Fatal("helm template rendered nothing")
	}
	r := rendered{configMaps: map[string]*corev1.ConfigMap{}}
	for _, d := range docs {
		var head struct {
			APIVersion string `json:"apiVersion"`
			Kind       string `json:"kind"`
		}
		if err := yaml.Unmarshal(d.raw, &head); err != nil {
			t.Fatalf("%s: %v", d.source, err)
		}
		if head.APIVersion == "monitoring.coreos.com/v1" && head.Kind == "ServiceMonitor" {
			u := &unstructured.Unstructured{}
			if err := yaml.UnmarshalStrict(d.raw, &u.Object); err != nil {
				t.Fatalf("%s: %v", d.source, err)
			}
			r.serviceMonitors = append(r.serviceMonitors, u)
			continue
		}
		if head.APIVersion == "monitoring.coreos.com/v1" && head.Kind == "PrometheusRule" {
			u := &unstructured.Unstructured{}
			if err := yaml.UnmarshalStrict(d.raw, &u.Object); err != nil {
				t.Fatalf("%s: %v", d.source, err)
			}
			r.prometheusRules = append(r.prometheusRules, u)
			continue
		}
		obj, err := decodeStrict(d)
		if err != nil {
			t.Errorf("strict decoding: %v", err)
			continue
		}
		if cm, ok := obj.(*corev1.ConfigMap); ok {
			r.configMaps[cm.Name] = cm
		}
		r.objects = append(r.objects, obj)
	}
	return r
}

// TestRenderDecodesStrictlyAndFollowsPolicies renders every chart with default and
// production-like values (and one service chart with every option on), decodes every
// document strictly into the Kubernetes API types, and checks the suite's policies.
func TestRenderDecodesStrictlyAndFollowsPolicies(t *testing.T) {
	for _, c := range renderCases(t) {
		t.Run(c.name, func(t *testing.T) {
			r := renderStrict(t, c)
			checkPolicies(t, r)
			if strings.HasSuffix(c.name, "/production") || strings.HasSuffix(c.name, "/everything-on") {
				if len(r.serviceMonitors) == 0 {
					t.Error("no ServiceMonitor rendered with serviceMonitor.enabled")
				}
				for _, sm := range r.serviceMonitors {
					checkServiceMonitor(t, sm)
				}
			} else if len(r.serviceMonitors) != 0 {
				t.Errorf("%d ServiceMonitors rendered with default values (the CRD may be absent)", len(r.serviceMonitors))
			}
			if strings.HasSuffix(c.name, "/production") || strings.HasSuffix(c.name, "/everything-on") {
				if len(r.prometheusRules) != len(r.serviceMonitors) {
					t.Errorf("%d PrometheusRules for %d ServiceMonitors with prometheusRule.enabled", len(r.prometheusRules), len(r.serviceMonitors))
				}
				for _, pr := range r.prometheusRules {
					checkPrometheusRule(t, pr)
				}
			} else if len(r.prometheusRules) != 0 {
				t.Errorf("%d PrometheusRules rendered with default values (the CRD may be absent)", len(r.prometheusRules))
			}
		})
	}
}

// checkPolicies checks what every workload of the suite must do.
func checkPolicies(t *testing.T, r rendered) {
	t.Helper()
	counts := map[string]int{}
	deployments := map[string]*appsv1.Deployment{}
	jobs := 0
	for _, o := range r.objects {
		kind := fmt.Sprintf("%T", o)
		counts[kind]++
		switch o := o.(type) {
		case *appsv1.Deployment:
			deployments[o.Name] = o
			checkPod(t, "Deployment "+o.Name, o.Spec.Template.Spec, true)
			checkDeployment(t, o, r.configMaps)
		case *batchv1.Job:
			jobs++
			checkPod(t, "Job "+o.Name, o.Spec.Template.Spec, false)
			checkMigrationJob(t, o)
		case *corev1.Pod:
			checkPod(t, "Pod "+o.Name, o.Spec, false)
			if o.Annotations["helm.sh/hook"] != "test" {
				t.Errorf("Pod %s is not a helm test hook", o.Name)
			}
		case *autoscalingv2.HorizontalPodAutoscaler:
			if o.Spec.MinReplicas == nil || *o.Spec.MinReplicas < 1 || *o.Spec.MinReplicas > o.Spec.MaxReplicas {
				t.Errorf("HPA %s: min %v, max %d: want 1 <= min <= max", o.Name, o.Spec.MinReplicas, o.Spec.MaxReplicas)
			}
			if o.Spec.ScaleTargetRef.Kind != "Deployment" || o.Spec.ScaleTargetRef.APIVersion != "apps/v1" {
				t.Errorf("HPA %s targets %+v", o.Name, o.Spec.ScaleTargetRef)
			}
			if len(o.Spec.Metrics) == 0 {
				t.Errorf("HPA %s has no metrics", o.Name)
			}
		case *policyv1.PodDisruptionBudget:
			if o.Spec.Selector == nil || len(o.Spec.Selector.MatchLabels) == 0 {
				t.Errorf("PDB %s selects nothing", o.Name)
			}
		case *networkingv1.NetworkPolicy:
			if !slices.Contains(o.Spec.PolicyTypes, networkingv1.PolicyTypeEgress) || !slices.Contains(o.Spec.PolicyTypes, networkingv1.PolicyTypeIngress) {
				t.Errorf("NetworkPolicy %s types %v: want Ingress and Egress", o.Name, o.Spec.PolicyTypes)
			}
		}
	}
	n := len(deployments)
	if n == 0 {
		t.Fatal("no Deployment rendered")
	}
	for kind, want := range map[string]int{
		"*v1.PodDisruptionBudget": n, "*v1.NetworkPolicy": n, "*v1.Service": n, "*v1.ServiceAccount": n, "*v1.Pod": n,
	} {
		if got := counts[kind]; got != want {
			t.Errorf("%d %s rendered for %d Deployments, want %d", got, kind, n, want)
		}
	}
	if jobs != n {
		t.Errorf("%d migration Jobs for %d Deployments", jobs, n)
	}
	// Every HPA targets a rendered Deployment, and a Deployment under an HPA leaves replicas to it.
	for _, o := range r.objects {
		if h, ok := o.(*autoscalingv2.HorizontalPodAutoscaler); ok {
			d := deployments[h.Spec.ScaleTargetRef.Name]
			if d == nil {
				t.Errorf("HPA %s targets %s, which is not rendered", h.Name, h.Spec.ScaleTargetRef.Name)
			} else if d.Spec.Replicas != nil {
				t.Errorf("Deployment %s sets replicas although HPA %s scales it", d.Name, h.Name)
			}
		}
	}
}

// checkPod checks the pod security, resources, image and (for servers) probes of a pod spec.
func checkPod(t *testing.T, what string, spec corev1.PodSpec, server bool) {
	t.Helper()
	psc := spec.SecurityContext
	if psc == nil || psc.RunAsNonRoot == nil || !*psc.RunAsNonRoot || psc.SeccompProfile == nil || psc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault {
		t.Errorf("%s: pod securityContext %+v: want runAsNonRoot and seccomp RuntimeDefault", what, psc)
	}
	if spec.AutomountServiceAccountToken == nil || *spec.AutomountServiceAccountToken {
		t.Errorf("%s: the API token is mounted", what)
	}
	if len(spec.Containers) == 0 {
		t.Errorf("%s: no containers", what)
	}
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		where := what + " container " + c.Name
		sc := c.SecurityContext
		switch {
		case sc == nil:
			t.Errorf("%s: no securityContext", where)
		case sc.RunAsNonRoot == nil || !*sc.RunAsNonRoot, sc.RunAsUser == nil || *sc.RunAsUser != 65532:
			t.Errorf("%s: runAsNonRoot %v runAsUser %v, want true and 65532", where, sc.RunAsNonRoot, sc.RunAsUser)
		case sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem:
			t.Errorf("%s: root file system writable", where)
		case sc.AllowPrivilegeEscalation == nil || *sc.AllowPrivilegeEscalation:
			t.Errorf("%s: privilege escalation allowed", where)
		case sc.Capabilities == nil || !cmp.Equal(sc.Capabilities.Drop, []corev1.Capability{"ALL"}) || len(sc.Capabilities.Add) != 0:
			t.Errorf("%s: capabilities %+v, want drop [ALL]", where, sc.Capabilities)
		case sc.SeccompProfile == nil || sc.SeccompProfile.Type != corev1.SeccompProfileTypeRuntimeDefault:
			t.Errorf("%s: seccomp %+v", where, sc.SeccompProfile)
		}
		for _, res := range []corev1.ResourceName{corev1.ResourceCPU, corev1.ResourceMemory} {
			if _, ok := c.Resources.Limits[res]; !ok {
				t.Errorf("%s: no %s limit", where, res)
			}
			if _, ok := c.Resources.Requests[res]; !ok {
				t.Errorf("%s: no %s request", where, res)
			}
		}
		if tag := imageTag(c.Image); tag == "" || tag == "latest" {
			t.Errorf("%s: image %q: want a pinned tag, never latest", where, c.Image)
		}
		if server {
			for name, p := range map[string]*corev1.Probe{"liveness": c.LivenessProbe, "readiness": c.ReadinessProbe, "startup": c.StartupProbe} {
				if p == nil || p.HTTPGet == nil {
					t.Errorf("%s: no HTTP %s probe", where, name)
				}
			}
			if c.LivenessProbe != nil && c.LivenessProbe.HTTPGet != nil && c.LivenessProbe.HTTPGet.Path != "/healthz" {
				t.Errorf("%s: liveness on %s, want /healthz", where, c.LivenessProbe.HTTPGet.Path)
			}
			if c.ReadinessProbe != nil && c.ReadinessProbe.HTTPGet != nil && c.ReadinessProbe.HTTPGet.Path != "/readyz" {
				t.Errorf("%s: readiness on %s, want /readyz", where, c.ReadinessProbe.HTTPGet.Path)
			}
		}
	}
}

// imageTag is the tag of an image reference ("" when it has none).
func imageTag(image string) string {
	if i := strings.LastIndex(image, ":"); i > strings.LastIndex(image, "/") {
		return image[i+1:]
	}
	return ""
}

// checkDeployment checks the rollout annotations and the shutdown timing of a Deployment.
func checkDeployment(t *testing.T, d *appsv1.Deployment, configMaps map[string]*corev1.ConfigMap) {
	t.Helper()
	if d.Spec.Template.Annotations["checksum/config"] == "" {
		t.Errorf("Deployment %s: no checksum/config pod annotation (pods would not roll on a configuration change)", d.Name)
	}
	c := d.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, from := range c.EnvFrom {
		if from.ConfigMapRef == nil {
			continue
		}
		cm := configMaps[from.ConfigMapRef.Name]
		if cm == nil {
			t.Errorf("Deployment %s: ConfigMap %s is not rendered", d.Name, from.ConfigMapRef.Name)
			continue
		}
		for k, v := range cm.Data {
			env[k] = v
		}
	}
	if env["CSI_MIGRATE"] != "false" {
		t.Errorf("Deployment %s: CSI_MIGRATE=%q, want false (the hook Job migrates)", d.Name, env["CSI_MIGRATE"])
	}
	drain, err1 := time.ParseDuration(env["CSI_DRAIN_DELAY"])
	grace, err2 := time.ParseDuration(env["CSI_SHUTDOWN_GRACE"])
	if err1 != nil || err2 != nil {
		t.Errorf("Deployment %s: CSI_DRAIN_DELAY %q, CSI_SHUTDOWN_GRACE %q: %v %v", d.Name, env["CSI_DRAIN_DELAY"], env["CSI_SHUTDOWN_GRACE"], err1, err2)
		return
	}
	tg := d.Spec.Template.Spec.TerminationGracePeriodSeconds
	if tg == nil || time.Duration(*tg)*time.Second <= drain+grace {
		t.Errorf("Deployment %s: terminationGracePeriodSeconds %v, want more than drain %v + grace %v", d.Name, tg, drain, grace)
	}
	secretVars := map[string]bool{}
	var memLimit *corev1.ResourceFieldSelector
	for _, e := range c.Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secretVars[e.Name] = true
		}
		if e.Name == "CSI_MEMORY_LIMIT_MIB" && e.ValueFrom != nil {
			memLimit = e.ValueFrom.ResourceFieldRef
		}
	}
	// The process sets GOMEMLIMIT at 90% of its container's memory limit (pkg/app), given in MiB.
	if memLimit == nil || memLimit.Resource != "limits.memory" || memLimit.ContainerName != c.Name || memLimit.Divisor.String() != "1Mi" {
		t.Errorf("Deployment %s: CSI_MEMORY_LIMIT_MIB = %+v, want the container's limits.memory in MiB", d.Name, memLimit)
	}
	if _, ok := c.Resources.Limits[corev1.ResourceMemory]; !ok {
		t.Errorf("Deployment %s: no memory limit (GOMEMLIMIT would not be set)", d.Name)
	}
	if !secretVars["CSI_DATABASE_URL"] {
		t.Errorf("Deployment %s: CSI_DATABASE_URL is not read from a Secret", d.Name)
	}
	for k, v := range env {
		if strings.Contains(strings.ToLower(v), "password") || strings.Contains(v, "@") && strings.Contains(v, "://") {
			t.Errorf("Deployment %s: ConfigMap value %s=%q looks like a credential", d.Name, k, v)
		}
	}
}

// checkMigrationJob checks the hook annotations and settings of a migration Job.
func checkMigrationJob(t *testing.T, j *batchv1.Job) {
	t.Helper()
	got := map[string]string{
		"helm.sh/hook":               j.Annotations["helm.sh/hook"],
		"helm.sh/hook-delete-policy": j.Annotations["helm.sh/hook-delete-policy"],
	}
	want := map[string]string{
		"helm.sh/hook":               "pre-install,pre-upgrade",
		"helm.sh/hook-delete-policy": "before-hook-creation,hook-succeeded",
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Job %s hook annotations (-got +want):\n%s", j.Name, diff)
	}
	c := j.Spec.Template.Spec.Containers[0]
	env := map[string]string{}
	for _, e := range c.Env {
		env[e.Name] = e.Value
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			env[e.Name] = "secret:" + e.ValueFrom.SecretKeyRef.Key
		}
	}
	if env["CSI_MIGRATE_ONLY"] != "true" || env["CSI_MIGRATE"] != "true" || env["CSI_DATABASE_URL"] == "" {
		t.Errorf("Job %s: CSI_MIGRATE_ONLY=%q CSI_MIGRATE=%q CSI_DATABASE_URL=%q: want true, true and a Secret reference",
			j.Name, env["CSI_MIGRATE_ONLY"], env["CSI_MIGRATE"], env["CSI_DATABASE_URL"])
	}
	if j.Spec.Template.Spec.RestartPolicy != corev1.RestartPolicyNever {
		t.Errorf("Job %s: restartPolicy %s", j.Name, j.Spec.Template.Spec.RestartPolicy)
	}
}

// checkServiceMonitor checks the fields of a ServiceMonitor decoded as an unstructured object.
func checkServiceMonitor(t *testing.T, sm *unstructured.Unstructured) {
	t.Helper()
	labels, _, err := unstructured.NestedStringMap(sm.Object, "spec", "selector", "matchLabels")
	if err != nil || labels["app.kubernetes.io/name"] == "" || labels["app.kubernetes.io/instance"] == "" {
		t.Errorf("ServiceMonitor %s: selector %v (%v)", sm.GetName(), labels, err)
	}
	eps, _, err := unstructured.NestedSlice(sm.Object, "spec", "endpoints")
	if err != nil || len(eps) != 1 {
		t.Fatalf("ServiceMonitor %s: endpoints %v (%v)", sm.GetName(), eps, err)
	}
	ep, _ := eps[0].(map[string]any)
	got := map[string]any{"port": ep["port"], "path": ep["path"]}
	if diff := cmp.Diff(got, map[string]any{"port": "http", "path": "/metrics"}); diff != "" {
		t.Errorf("ServiceMonitor %s endpoint (-got +want):\n%s", sm.GetName(), diff)
	}
	for _, f := range []string{"interval", "scrapeTimeout"} {
		if s, _ := ep[f].(string); s == "" {
			t.Errorf("ServiceMonitor %s: no %s", sm.GetName(), f)
		} else if _, err := time.ParseDuration(s); err != nil {
			t.Errorf("ServiceMonitor %s: %s %q: %v", sm.GetName(), f, s, err)
		}
	}
}

// checkPrometheusRule checks the audit alerts of a PrometheusRule decoded as an unstructured
// object: both alerts, on the metrics pkg/audit exports, with a duration and a severity.
func checkPrometheusRule(t *testing.T, pr *unstructured.Unstructured) {
	t.Helper()
	groups, _, err := unstructured.NestedSlice(pr.Object, "spec", "groups")
	if err != nil || len(groups) != 1 {
		t.Fatalf("PrometheusRule %s: groups %v (%v)", pr.GetName(), groups, err)
	}
	rules, _, err := unstructured.NestedSlice(groups[0].(map[string]any), "rules")
	if err != nil {
		t.Fatalf("PrometheusRule %s: rules: %v", pr.GetName(), err)
	}
	want := map[string][]string{
		"AuditTrailBroken":        {"csi_audit_verification_ok{", "== 0"},
		"AuditVerificationNotRun": {"csi_audit_verification_last_run_timestamp_seconds{", "2 * max by", "csi_audit_verification_interval_seconds{", "unless"},
	}
	seen := map[string]bool{}
	for _, r := range rules {
		rule := r.(map[string]any)
		name, _ := rule["alert"].(string)
		expr, _ := rule["expr"].(string)
		seen[name] = true
		for _, w := range want[name] {
			if !strings.Contains(expr, w) {
				t.Errorf("PrometheusRule %s alert %s: expr %q lacks %q", pr.GetName(), name, expr, w)
			}
		}
		if !strings.Contains(expr, `namespace="csi-test"`) {
			t.Errorf("PrometheusRule %s alert %s: expr %q is not limited to the release's namespace", pr.GetName(), name, expr)
		}
		if d, _ := rule["for"].(string); d == "" {
			t.Errorf("PrometheusRule %s alert %s: no for", pr.GetName(), name)
		} else if _, err := time.ParseDuration(d); err != nil {
			t.Errorf("PrometheusRule %s alert %s: for %q: %v", pr.GetName(), name, d, err)
		}
		if sev, _, _ := unstructured.NestedString(rule, "labels", "severity"); sev == "" {
			t.Errorf("PrometheusRule %s alert %s: no severity", pr.GetName(), name)
		}
	}
	for name := range want {
		if !seen[name] {
			t.Errorf("PrometheusRule %s: no alert %s", pr.GetName(), name)
		}
	}
}

var updateDashboardMetrics = flag.Bool("update-dashboard-metrics", false, "write testdata/<chart>-dashboard-metrics.txt from the dashboards")

// TestDashboardQueriesTheServiceMetrics reads the Grafana dashboard of each service chart,
// extracts the metric names of every query (histogram series by their family name) and compares
// them with testdata/<chart>-dashboard-metrics.txt. Each service's own tests read that file and
// check that its /metrics serves every name in it (TestDashboardMetricsServed), so a panel
// cannot query a metric its service never exports. -update-dashboard-metrics writes the files.
func TestDashboardQueriesTheServiceMetrics(t *testing.T) {
	for _, chart := range serviceCharts(t) {
		t.Run(chart, func(t *testing.T) {
			r := renderStrict(t, valuesCase{chart: chart, set: []string{"dashboard.enabled=true"}})
			var cm *corev1.ConfigMap
			for _, c := range r.configMaps {
				if c.Labels["grafana_dashboard"] == "1" {
					cm = c
				}
			}
			if cm == nil {
				t.Fatal("no ConfigMap labelled grafana_dashboard=1")
			}
			var dash struct {
				Panels []struct {
					Title   string `json:"title"`
					Targets []struct {
						Expr string `json:"expr"`
					} `json:"targets"`
				} `json:"panels"`
			}
			if err := json.Unmarshal([]byte(cm.Data["csi-"+chart+".json"]), &dash); err != nil {
				t.Fatalf("dashboard JSON: %v", err)
			}
			var exprs []string
			names := map[string]bool{}
			for _, p := range dash.Panels {
				if len(p.Targets) == 0 {
					t.Errorf("panel %q has no query", p.Title)
				}
				for _, tg := range p.Targets {
					exprs = append(exprs, tg.Expr)
					found := metricNames(tg.Expr)
					if len(found) == 0 {
						t.Errorf("panel %q: no metric in %q", p.Title, tg.Expr)
					}
					for _, n := range found {
						names[n] = true
					}
				}
			}
			all := strings.Join(exprs, "\n")
			for _, want := range []string{
				"rate(csi_" + chart + "_http_requests_total",
				`status=~"5.."`,
				"histogram_quantile(0.99, sum by (le) (rate(csi_" + chart + "_http_request_duration_seconds_bucket",
				"csi_" + chart + "_db_pool_acquired_connections",
			} {
				if !strings.Contains(all, want) {
					t.Errorf("no panel queries %s; queries:\n%s", want, all)
				}
			}
			golden := filepath.Join("testdata", chart+"-dashboard-metrics.txt")
			got := slices.Sorted(maps.Keys(names))
			if *updateDashboardMetrics {
				if err := os.WriteFile(golden, []byte(strings.Join(got, "\n")+"\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			data, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (go test -run TestDashboardQueriesTheServiceMetrics -update-dashboard-metrics writes it)", err)
			}
			if want := strings.Fields(string(data)); !slices.Equal(got, want) {
				t.Errorf("the dashboard queries %v; %s lists %v: update the file (go test -run TestDashboardQueriesTheServiceMetrics -update-dashboard-metrics), and the service's /metrics must serve each", got, golden, want)
			}
		})
	}
}

// promKeywords are the PromQL words that look like metric names: functions, aggregations,
// modifiers and label-matching keywords.
var promKeywords = map[string]bool{
	"sum": true, "avg": true, "min": true, "max": true, "count": true, "rate": true, "irate": true, "increase": true,
	"histogram_quantile": true, "clamp_min": true, "clamp_max": true, "by": true, "without": true, "on": true,
	"ignoring": true, "group_left": true, "group_right": true, "offset": true, "bool": true, "and": true, "or": true,
	"unless": true, "topk": true, "bottomk": true, "abs": true, "delta": true, "deriv": true, "time": true, "vector": true,
	"scalar": true, "absent": true, "label_replace": true, "avg_over_time": true, "max_over_time": true,
}

// metricNames returns the metric names of a PromQL expression: identifiers outside label
// matchers ({...}), grouping clauses (by (...)) and range selectors ([5m]), that are not
// keywords, function names or numbers. Histogram series (_bucket, _sum, _count) are named by
// their family, as /metrics lists them in its # TYPE lines.
func metricNames(expr string) []string {
	var out []string
	depthBrace, depthBracket := 0, 0
	grouping := false // inside the parentheses after by/without/on/ignoring
	prev := ""
	for i := 0; i < len(expr); {
		c := expr[i]
		switch {
		case c == '"':
			j := i + 1
			for j < len(expr) && expr[j] != '"' {
				if expr[j] == '\\' {
					j++
				}
				j++
			}
			i = j + 1
			continue
		case c == '{':
			depthBrace++
		case c == '}':
			depthBrace--
		case c == '[':
			depthBracket++
		case c == ']':
			depthBracket--
		case c == '(' && (prev == "by" || prev == "without" || prev == "on" || prev == "ignoring"):
			grouping = true
		case c == ')' && grouping:
			grouping = false
		case c == '_' || c == ':' || (c|0x20 >= 'a' && c|0x20 <= 'z'):
			j := i
			for j < len(expr) && (expr[j] == '_' || expr[j] == ':' || (expr[j]|0x20 >= 'a' && expr[j]|0x20 <= 'z') || (expr[j] >= '0' && expr[j] <= '9')) {
				j++
			}
			word := expr[i:j]
			next := strings.TrimLeft(expr[j:], " ")
			isCall := strings.HasPrefix(next, "(")
			if depthBrace == 0 && depthBracket == 0 && !grouping && !promKeywords[word] && !isCall && !(i > 0 && (expr[i-1] >= '0' && expr[i-1] <= '9' || expr[i-1] == '.')) {
				for _, suffix := range []string{"_bucket", "_sum", "_count"} {
					if trimmed, ok := strings.CutSuffix(word, suffix); ok {
						word = trimmed
						break
					}
				}
				out = append(out, word)
			}
			prev = word
			i = j
			continue
		}
		if c != ' ' {
			prev = string(c)
		}
		i++
	}
	slices.Sort(out)
	return slices.Compact(out)
}

func TestMetricNames(t *testing.T) {
	tests := []struct {
		name, expr string
		want       []string
	}{
		{name: "rate by route", expr: `sum by (route) (rate(csi_x_http_requests_total{namespace="a b",status=~"5.."}[5m]))`, want: []string{"csi_x_http_requests_total"}},
		{name: "histogram", expr: `histogram_quantile(0.95, sum by (le) (rate(csi_x_seconds_bucket{a="b"}[5m])))`, want: []string{"csi_x_seconds"}},
		{name: "ratio", expr: `sum(rate(a_total[5m])) / clamp_min(sum(rate(b_total{x="sum"}[5m])), 1e-9)`, want: []string{"a_total", "b_total"}},
		{name: "gauge", expr: `sum(csi_x_db_pool_idle_connections{namespace="n"})`, want: []string{"csi_x_db_pool_idle_connections"}},
		{name: "bare", expr: `up`, want: []string{"up"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := metricNames(tc.expr); !slices.Equal(got, tc.want) {
				t.Errorf("metricNames(%q) = %v, want %v", tc.expr, got, tc.want)
			}
		})
	}
}
