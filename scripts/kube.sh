#!/usr/bin/env bash
# A private Kubernetes API server for the chart tests: etcd (Debian's etcd-server) and
# kube-apiserver, on loopback ports, state under .run/kube. No scheduler, no kubelet, no
# controllers: objects are stored and validated, pods never run (never `helm install --wait`).
#   scripts/kube.sh start       start (or reuse) both and print the path of a kubeconfig
#   scripts/kube.sh kubeconfig  print the path of the kubeconfig (start must have run)
#   scripts/kube.sh stop        stop both (the state directory is kept)
#   scripts/kube.sh build       build kube-apiserver only and print its path
# kube-apiserver v1.37.2 is built once per machine from the k8s.io/kubernetes module (about
# 4.5 minutes) and cached in $BIN_CACHE. Ports: $CSI_KUBE_PORT, etcd $CSI_ETCD_PORT and the next
# (scripts/lib.sh). A server on them is reused only when it is this run directory's own: the API
# server accepts our admin token, etcd is the process of our pid file.
source "$(dirname "$0")/lib.sh"

KUBE_VERSION=v1.37.2
STAGING_VERSION=v0.37.2

cmd=${1:-start}
dir="$RUN_DIR/kube"
apiserver="$BIN_CACHE/kube-apiserver-$KUBE_VERSION"
kubeconfig="$dir/kubeconfig"

# The module zip has no staging/ directory (those are modules of their own): drop the vendor
# tree, the workspace and the ./staging replacements, and require the published staging modules
# at the matching version instead.
use_published_staging() {
	local m
	rm -rf vendor go.work go.work.sum
	for m in $(sed -n 's|^[[:space:]]*\(k8s.io/[a-z0-9-]*\) => ./staging/.*|\1|p' go.mod); do
		sed -i "s|^\([[:space:]]*\)$m v0.0.0$|\1$m $STAGING_VERSION|" go.mod
	done
	sed -i '/=> .\/staging\//d' go.mod
}

build() {
	[ -x "$apiserver" ] && return 0
	log "building kube-apiserver $KUBE_VERSION from the k8s.io/kubernetes module (once per machine, about 4.5 minutes)"
	local ldflags="-s -w" m
	for m in k8s.io/component-base/version k8s.io/client-go/pkg/version; do
		ldflags+=" -X $m.gitVersion=$KUBE_VERSION -X $m.gitMajor=$(echo "$KUBE_VERSION" | cut -d. -f1 | tr -d v)"
		ldflags+=" -X $m.gitMinor=$(echo "$KUBE_VERSION" | cut -d. -f2)"
		ldflags+=" -X $m.gitTreeState=clean -X $m.buildDate=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
	done
	CGO_ENABLED=0 build_from_module "$apiserver" "k8s.io/kubernetes@$KUBE_VERSION" ./cmd/kube-apiserver use_published_staging -ldflags "$ldflags"
}

etcd_bin() {
	local e
	e=$(command -v etcd || true)
	[ -n "$e" ] || [ ! -x /usr/bin/etcd ] || e=/usr/bin/etcd
	if [ -z "$e" ]; then
		apt_install etcd-server
		e=$(command -v etcd || echo /usr/bin/etcd)
	fi
	echo "$e"
}

healthy() {
	[ -f "$dir/admin.token" ] || return 1
	curl -fsS --max-time 2 -k -H "Authorization: Bearer $(cat "$dir/admin.token")" \
		"https://127.0.0.1:$CSI_KUBE_PORT/readyz" >/dev/null 2>&1
}

write_kubeconfig() {
	cat >"$kubeconfig.tmp" <<KC
apiVersion: v1
kind: Config
clusters:
- name: csi-test
  cluster:
    server: https://127.0.0.1:$CSI_KUBE_PORT
    certificate-authority: $dir/serving.crt
users:
- name: admin
  user:
    token: $(cat "$dir/admin.token")
contexts:
- name: csi-test
  context:
    cluster: csi-test
    user: admin
    namespace: default
current-context: csi-test
KC
	chmod 600 "$kubeconfig.tmp"
	mv "$kubeconfig.tmp" "$kubeconfig"
}

start() {
	if healthy; then
		[ -f "$kubeconfig" ] || write_kubeconfig
		echo "$kubeconfig"
		return 0
	fi
	if port_open "$CSI_KUBE_PORT" && ! holds_port "$dir/apiserver.pid" kube-apiserver "$CSI_KUBE_PORT"; then
		not_ours kube-apiserver "$CSI_KUBE_PORT" "$(port_holder "$CSI_KUBE_PORT")" CSI_KUBE_PORT
	fi
	build
	local etcd
	etcd=$(etcd_bin)
	mkdir -p "$dir"
	chmod 700 "$dir"
	# Keys and certificates, made once.
	if [ ! -f "$dir/sa.key" ]; then
		openssl genrsa -out "$dir/sa.key" 2048 2>/dev/null
		openssl rsa -in "$dir/sa.key" -pubout -out "$dir/sa.pub" 2>/dev/null
	fi
	if [ ! -f "$dir/serving.crt" ]; then
		openssl req -x509 -newkey rsa:2048 -nodes -days 3650 -subj "/CN=127.0.0.1" \
			-addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
			-keyout "$dir/serving.key" -out "$dir/serving.crt" 2>/dev/null
	fi
	if [ ! -f "$dir/admin.token" ]; then
		head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$dir/admin.token"
		printf '%s,admin,admin,system:masters\n' "$(cat "$dir/admin.token")" >"$dir/tokens.csv"
	fi

	if port_open "$CSI_ETCD_PORT"; then
		holds_port "$dir/etcd.pid" etcd "$CSI_ETCD_PORT" ||
			not_ours etcd "$CSI_ETCD_PORT" "$(port_holder "$CSI_ETCD_PORT")" CSI_ETCD_PORT
	else
		stop_pidfile "$dir/etcd.pid" etcd
		log "starting etcd on 127.0.0.1:$CSI_ETCD_PORT"
		ETCD_UNSUPPORTED_ARCH="${ETCD_UNSUPPORTED_ARCH:-}" nohup "$etcd" --name csi-test --data-dir "$dir/etcd" \
			--listen-client-urls "http://127.0.0.1:$CSI_ETCD_PORT" --advertise-client-urls "http://127.0.0.1:$CSI_ETCD_PORT" \
			--listen-peer-urls "http://127.0.0.1:$((CSI_ETCD_PORT + 1))" \
			--initial-advertise-peer-urls "http://127.0.0.1:$((CSI_ETCD_PORT + 1))" \
			--initial-cluster "csi-test=http://127.0.0.1:$((CSI_ETCD_PORT + 1))" \
			--log-level warn >"$dir/etcd.log" 2>&1 &
		echo $! >"$dir/etcd.pid"
		wait_port "$CSI_ETCD_PORT" 30 etcd
	fi

	stop_pidfile "$dir/apiserver.pid" kube-apiserver
	log "starting kube-apiserver $KUBE_VERSION on https://127.0.0.1:$CSI_KUBE_PORT"
	nohup "$apiserver" \
		--etcd-servers "http://127.0.0.1:$CSI_ETCD_PORT" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$CSI_KUBE_PORT" \
		--tls-cert-file "$dir/serving.crt" --tls-private-key-file "$dir/serving.key" \
		--cert-dir "$dir/certs" \
		--token-auth-file "$dir/tokens.csv" \
		--authorization-mode AlwaysAllow \
		--endpoint-reconciler-type none \
		--service-account-issuer https://kubernetes.default.svc \
		--service-account-key-file "$dir/sa.pub" \
		--service-account-signing-key-file "$dir/sa.key" \
		--service-cluster-ip-range 10.96.0.0/16 \
		--enable-priority-and-fairness=false \
		>"$dir/apiserver.log" 2>&1 &
	echo $! >"$dir/apiserver.pid"
	write_kubeconfig
	for _ in $(seq 1 600); do
		healthy && { echo "$kubeconfig"; return 0; }
		kill -0 "$(cat "$dir/apiserver.pid")" 2>/dev/null || { tail -20 "$dir/apiserver.log" >&2; die "kube-apiserver exited (log: $dir/apiserver.log)"; }
		sleep 0.1
	done
	tail -20 "$dir/apiserver.log" >&2
	die "kube-apiserver not ready within 60 s (log: $dir/apiserver.log)"
}

case "$cmd" in
build) build; echo "$apiserver" ;;
start) start ;;
kubeconfig)
	[ -f "$kubeconfig" ] || die "no kubeconfig: run $0 start"
	echo "$kubeconfig"
	;;
stop)
	stop_pidfile "$dir/apiserver.pid" kube-apiserver
	stop_pidfile "$dir/etcd.pid" etcd
	;;
*) die "usage: $0 [start|stop|kubeconfig|build]" ;;
esac
