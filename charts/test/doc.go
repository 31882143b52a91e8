// Package charttest checks the Helm charts under charts/: every chart renders with its default
// and its production-like values into documents that decode strictly into Kubernetes API
// types and follow the suite's policies, `helm lint --strict` passes, the values schemas refuse
// wrong values, and the umbrella chart installs, upgrades and uninstalls against a real
// kube-apiserver.
//
// The tests need the Helm CLI (CSI_HELM) and a kubeconfig for a running API server
// (CSI_KUBECONFIG); `make test` sets both through scripts/test-env-k8s.sh.
package charttest
