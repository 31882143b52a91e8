#!/usr/bin/env bash
# Print the path of a Helm v3 CLI, installing it once per machine when absent:
#   helm=$(scripts/helm.sh)
#   - CSI_HELM set and executable: use it.
#   - otherwise $BIN_CACHE/helm-$HELM_VERSION, built with `go install helm.sh/helm/v3/cmd/helm`
#     (about 1.5 minutes the first time) and reused afterwards.
# A helm already on PATH is not used: the charts are checked with one known version.
source "$(dirname "$0")/lib.sh"

HELM_VERSION=${HELM_VERSION:-v3.22.0}

if [ -n "${CSI_HELM:-}" ] && [ -x "$CSI_HELM" ]; then
	echo "$CSI_HELM"
	exit 0
fi
helm="$BIN_CACHE/helm-$HELM_VERSION"
if [ ! -x "$helm" ]; then
	log "installing Helm $HELM_VERSION with go install (once per machine, about 1.5 minutes)"
	go_install "$helm" "helm.sh/helm/v3/cmd/helm@$HELM_VERSION"
fi
echo "$helm"
