package charttest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/metadata"
	"k8s.io/client-go/tools/clientcmd"
)

// testNamespace holds the releases of the API server tests (namespaces are never deleted:
// without kube-controller-manager a deleted namespace stays Terminating forever).
const testNamespace = "csi-charttest"

// kubeconfig is the kubeconfig of the private API server (scripts/kube.sh start).
func kubeconfig(t testing.TB) string {
	t.Helper()
	p := os.Getenv("CSI_KUBECONFIG")
	if p == "" {
		t.Fatal("CSI_KUBECONFIG is not set: run the tests with 'make test' (scripts/test-env-k8s.sh), or export CSI_KUBECONFIG=$(scripts/kube.sh start)")
	}
	return p
}

// warnings records the warnings the API server sends back (PodSecurity admission warns about
// workload templates that break the namespace's "restricted" level).
type warnings struct {
	mu   sync.Mutex
	list []string
}

// HandleWarningHeader implements rest.WarningHandler.
func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	l := w.list
	w.list = nil
	return l
}

// restrictedLabels enforce (for pods) and warn about (for workload templates) the
// "restricted" Pod Security Standard in the test namespace.
var restrictedLabels = map[string]string{
	"pod-security.kubernetes.io/enforce": "restricted",
	"pod-security.kubernetes.io/warn":    "restricted",
}

// kubeClient connects to the API server and makes sure the test namespace exists, with the
// restricted Pod Security Standard.
func kubeClient(t testing.TB) (*kubernetes.Clientset, *warnings) {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig(t))
	if err != nil {
		t.Fatalf("CSI_KUBECONFIG: %v", err)
	}
	w := &warnings{}
	cfg.WarningHandler = w
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ns, err := cs.CoreV1().Namespaces().Get(ctx, testNamespace, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		_, err = cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: testNamespace, Labels: restrictedLabels}}, metav1.CreateOptions{})
	case err == nil && !maps.Equal(restrictedLabels, filterLabels(ns.Labels, restrictedLabels)):
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		maps.Copy(ns.Labels, restrictedLabels)
		_, err = cs.CoreV1().Namespaces().Update(ctx, ns, metav1.UpdateOptions{})
	}
	if err != nil {
		t.Fatalf("namespace %s on the API server of CSI_KUBECONFIG: %v", testNamespace, err)
	}
	// The "default" ServiceAccount that kube-controller-manager would make (pods need one).
	_, err = cs.CoreV1().ServiceAccounts(testNamespace).Get(ctx, "default", metav1.GetOptions{})
	if apierrors.IsNotFound(err) {
		_, err = cs.CoreV1().ServiceAccounts(testNamespace).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "default"}}, metav1.CreateOptions{})
	}
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatalf("default ServiceAccount in %s: %v", testNamespace, err)
	}
	return cs, w
}

// filterLabels keeps the labels whose keys are in keys.
func filterLabels(labels, keys map[string]string) map[string]string {
	out := map[string]string{}
	for k := range keys {
		if v, ok := labels[k]; ok {
			out[k] = v
		}
	}
	return out
}

// releaseName is a release name of this run (Helm allows 53 characters).
func releaseName(prefix string) string {
	return fmt.Sprintf("%s%d", prefix, time.Now().UnixNano()%1_000_000_000)
}

// helmKube runs helm against the API server, in the test namespace. Hooks are never run: the
// migration Job would wait for a kubelet that does not exist (checked apart, below), and
// --wait is never used for the same reason.
func helmKube(t *testing.T, args ...string) string {
	t.Helper()
	args = append(args, "--kubeconfig", kubeconfig(t), "--namespace", testNamespace)
	charts(t)
	start := time.Now()
	out, stderr, err := runHelmStderr(helmPath(t), args...)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("helm %s: %v", args[0], time.Since(start).Round(time.Millisecond))
	if strings.Contains(stderr, "PodSecurity") {
		t.Errorf("helm %s: the API server warns about pod security:\n%s", args[0], stderr)
	}
	return out
}

// deployment reads a Deployment.
func deployment(t *testing.T, cs *kubernetes.Clientset, name string) *appsv1.Deployment {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	d, err := cs.AppsV1().Deployments(testNamespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		t.Fatalf("Deployment %s: %v", name, err)
	}
	return d
}

// releaseResources are the kinds of objects the charts make.
var releaseResources = []schema.GroupVersionResource{
	{Group: "apps", Version: "v1", Resource: "deployments"},
	{Version: "v1", Resource: "services"},
	{Version: "v1", Resource: "configmaps"},
	{Version: "v1", Resource: "secrets"},
	{Version: "v1", Resource: "serviceaccounts"},
	{Group: "policy", Version: "v1", Resource: "poddisruptionbudgets"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "networkpolicies"},
	{Group: "autoscaling", Version: "v2", Resource: "horizontalpodautoscalers"},
	{Group: "networking.k8s.io", Version: "v1", Resource: "ingresses"},
	{Group: "batch", Version: "v1", Resource: "jobs"},
	{Version: "v1", Resource: "pods"},
}

// leftovers lists the objects labelled with a release that are still on the server.
func leftovers(t *testing.T, release string) []string {
	t.Helper()
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig(t))
	if err != nil {
		t.Fatal(err)
	}
	mc, err := metadata.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var left []string
	for _, gvr := range releaseResources {
		l, err := mc.Resource(gvr).Namespace(testNamespace).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/instance=" + release})
		if err != nil {
			t.Fatalf("list %s: %v", gvr.Resource, err)
		}
		for _, o := range l.Items {
			left = append(left, gvr.Resource+"/"+o.Name)
		}
	}
	return left
}

// TestUmbrellaInstallUpgradeUninstall installs the suite on a real kube-apiserver, upgrades
// one service's value alone, and uninstalls, leaving nothing behind.
func TestUmbrellaInstallUpgradeUninstall(t *testing.T) {
	cs, _ := kubeClient(t)
	rel := releaseName("csi")
	chart := chartPath(t, umbrella)
	out := helmKube(t, "install", rel, chart, "--no-hooks", "--timeout", "2m",
		"--set", "identity.secrets.inline.database-url=postgres://identity:x@db:5432/identity",
		"--set", "identity.secrets.inline.master-key=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=")
	t.Cleanup(func() {
		if left := leftovers(t, rel); len(left) > 0 {
			_, _ = helm(t, "uninstall", rel, "--kubeconfig", kubeconfig(t), "--namespace", testNamespace)
		}
	})

	// Every service of services/services.tsv, its Deployment at the appVersion tag, its
	// address in the notes.
	deployments := map[string]*appsv1.Deployment{}
	for _, s := range suiteServices(t) {
		d := deployment(t, cs, rel+"-"+s.name)
		deployments[s.name] = d
		if c := d.Spec.Template.Spec.Containers[0]; !strings.HasSuffix(c.Image, ":0.1.0") {
			t.Errorf("%s image %s, want the appVersion tag", d.Name, c.Image)
		}
		if want := fmt.Sprintf("http://%s-%s.%s.svc:%d", rel, s.name, testNamespace, s.port); !strings.Contains(out, want) {
			t.Errorf("the notes do not list %s:\n%s", want, out)
		}
	}
	if id := deployments["identity"]; id.Spec.Replicas == nil || *id.Spec.Replicas != 2 {
		t.Errorf("identity replicas %v after install, want 2", id.Spec.Replicas)
	}

	// Upgrade one service's value alone: only its Deployment changes.
	helmKube(t, "upgrade", rel, chart, "--no-hooks", "--reuse-values", "--set", "identity.replicaCount=3", "--timeout", "2m")
	for name, before := range deployments {
		after := deployment(t, cs, rel+"-"+name)
		if name == "identity" {
			if after.Spec.Replicas == nil || *after.Spec.Replicas != 3 {
				t.Errorf("identity replicas %v after the upgrade, want 3", after.Spec.Replicas)
			}
		} else if after.Generation != before.Generation {
			t.Errorf("%s Deployment changed by an identity-only upgrade: generation %d -> %d", name, before.Generation, after.Generation)
		}
	}

	left := leftovers(t, rel)
	want := []string{"deployments/" + rel + "-identity", "secrets/" + rel + "-identity"}
	for _, s := range suiteServices(t) {
		want = append(want, "serviceaccounts/"+rel+"-"+s.name, "poddisruptionbudgets/"+rel+"-"+s.name, "networkpolicies/"+rel+"-"+s.name)
	}
	want = append(want, "horizontalpodautoscalers/"+rel+"-registry", "horizontalpodautoscalers/"+rel+"-intake",
		"horizontalpodautoscalers/"+rel+"-interventions")
	for _, w := range want {
		if !slices.Contains(left, w) {
			t.Errorf("%s not found by the release's label before uninstall; found %v", w, left)
		}
	}
	helmKube(t, "uninstall", rel, "--timeout", "2m")
	if left := leftovers(t, rel); len(left) > 0 {
		t.Errorf("objects left after helm uninstall: %v", left)
	}
}

// TestServiceChartInstallsAndUpgradesAlone installs one service chart as a release of its own
// and upgrades it with a changed value.
func TestServiceChartInstallsAndUpgradesAlone(t *testing.T) {
	cs, _ := kubeClient(t)
	rel := releaseName("reg")
	chart := chartPath(t, "registry")
	helmKube(t, "install", rel, chart, "--no-hooks", "--set", "autoscaling.enabled=false", "--set", "replicaCount=2")
	t.Cleanup(func() { helmKube(t, "uninstall", rel) })
	name := rel + "-registry"
	if d := deployment(t, cs, name); d.Spec.Replicas == nil || *d.Spec.Replicas != 2 {
		t.Errorf("replicas %v after install, want 2", d.Spec.Replicas)
	}
	before := deployment(t, cs, name).Spec.Template.Annotations["checksum/config"]
	helmKube(t, "upgrade", rel, chart, "--no-hooks", "--reuse-values", "--set", "replicaCount=4", "--set", "config.logLevel=debug")
	d := deployment(t, cs, name)
	if d.Spec.Replicas == nil || *d.Spec.Replicas != 4 {
		t.Errorf("replicas %v after the upgrade, want 4", d.Spec.Replicas)
	}
	if after := d.Spec.Template.Annotations["checksum/config"]; after == before {
		t.Errorf("checksum/config unchanged (%s) after a configuration change: pods would not roll", after)
	}
}

// TestHooksAcceptedByServer sends the hook objects to the API server - the migration Job, its
// hook Secret and the `helm test` pod - as a server-side dry run, then a real create and
// delete, in a namespace enforcing the restricted Pod Security Standard. helm install runs
// with --no-hooks above because Helm would wait for the Job to complete, which needs a kubelet.
func TestHooksAcceptedByServer(t *testing.T) {
	cs, warns := kubeClient(t)
	rel := releaseName("mig")
	docs, err := template(t, rel, valuesCase{chart: "identity", set: []string{
		"secrets.inline.database-url=postgres://identity:x@db:5432/identity",
	}}, "--namespace", testNamespace, "--show-only", "templates/migrate-job.yaml", "--show-only", "templates/migrate-secret.yaml",
		"--show-only", "templates/tests/test-readyz.yaml")
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != 3 {
		t.Fatalf("%d documents, want the Job, its Secret and the test Pod", len(docs))
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	// The control: the namespace refuses a pod that breaks the restricted standard.
	plain := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: "plain"}, Spec: corev1.PodSpec{
		Containers: []corev1.Container{{Name: "c", Image: "busybox:1.37.0"}}}}
	if _, err := cs.CoreV1().Pods(testNamespace).Create(ctx, plain, metav1.CreateOptions{DryRun: []string{metav1.DryRunAll}}); !apierrors.IsForbidden(err) {
		t.Fatalf("a pod without a security context: error %v, want forbidden by PodSecurity (restricted)", err)
	}
	for _, d := range docs {
		obj, err := decodeStrict(d)
		if err != nil {
			t.Fatal(err)
		}
		for _, dryRun := range [][]string{{metav1.DryRunAll}, nil} {
			opts := metav1.CreateOptions{DryRun: dryRun, FieldValidation: "Strict"}
			switch o := obj.(type) {
			case *batchv1.Job:
				o.Namespace = testNamespace
				got, err := cs.BatchV1().Jobs(testNamespace).Create(ctx, o, opts)
				if err != nil {
					t.Fatalf("create Job (dry run %v): %v", dryRun, err)
				}
				if got.Annotations["helm.sh/hook"] != "pre-install,pre-upgrade" {
					t.Errorf("stored Job annotations %v", got.Annotations)
				}
				if dryRun == nil {
					policy := metav1.DeletePropagationBackground
					if err := cs.BatchV1().Jobs(testNamespace).Delete(ctx, o.Name, metav1.DeleteOptions{PropagationPolicy: &policy}); err != nil {
						t.Errorf("delete Job: %v", err)
					}
				}
			case *corev1.Secret:
				o.Namespace = testNamespace
				if _, err := cs.CoreV1().Secrets(testNamespace).Create(ctx, o, opts); err != nil {
					t.Fatalf("create Secret (dry run %v): %v", dryRun, err)
				}
				if dryRun == nil {
					if err := cs.CoreV1().Secrets(testNamespace).Delete(ctx, o.Name, metav1.DeleteOptions{}); err != nil {
						t.Errorf("delete Secret: %v", err)
					}
				}
			case *corev1.Pod:
				o.Namespace = testNamespace
				if _, err := cs.CoreV1().Pods(testNamespace).Create(ctx, o, opts); err != nil {
					t.Fatalf("create Pod (dry run %v): %v", dryRun, err)
				}
				if dryRun == nil {
					if err := cs.CoreV1().Pods(testNamespace).Delete(ctx, o.Name, metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
						t.Errorf("delete Pod: %v", err)
					}
				}
			default:
				t.Fatalf("unexpected %T in the hook templates", obj)
			}
			if w := warns.take(); len(w) > 0 {
				t.Errorf("%s %s: API server warnings: %v", obj.GetObjectKind().GroupVersionKind().Kind, d.source, w)
			}
		}
	}
}
