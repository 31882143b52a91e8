#!/usr/bin/env bash
# Print the exports the chart tests (charts/test) need, installing and starting what is
# missing: the Helm CLI (scripts/helm.sh) and a private kube-apiserver with etcd
# (scripts/kube.sh, reused when running):
#   eval "$(scripts/test-env-k8s.sh)"
source "$(dirname "$0")/lib.sh"
helm=$("$ROOT/scripts/helm.sh")
kubeconfig=$("$ROOT/scripts/kube.sh" start)
printf 'export CSI_HELM=%q\n' "$helm"
printf 'export CSI_KUBECONFIG=%q\n' "$kubeconfig"
