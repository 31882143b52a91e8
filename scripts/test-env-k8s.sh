#!/usr/bin/env bash
# Print the exports the chart tests (charts/test) need, installing and starting what is
# missing: the Helm CLI (scripts/helm.sh) and a private kube-apiserver with etcd
# (scripts/kube.sh, reused when running):
#   exports=$(scripts/test-env-k8s.sh) || exit 1; eval "$exports"
source "$(dirname "$0")/lib.sh"
helm=$(step helm "$ROOT/scripts/helm.sh") || exit 1
kubeconfig=$(step kube "$ROOT/scripts/kube.sh" start) || exit 1
printf 'export CSI_HELM=%q\n' "$helm"
printf 'export CSI_KUBECONFIG=%q\n' "$kubeconfig"
