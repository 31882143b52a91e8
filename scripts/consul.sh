#!/usr/bin/env bash
# Ensure a Consul agent (dev mode) and print its address (host:port).
#   - CSI_CONSUL_ADDR set: use it. Otherwise a private dev agent on 127.0.0.1:$CSI_CONSUL_PORT,
#     reused when it is this run directory's own (see below). The binary is Consul v1.14.11 (the
#     last MPL-2.0 release), built once from its Go module and cached in $BIN_CACHE.
# A dev agent keeps its state in memory only, so there is no data directory to identify it by:
# an agent on the port is ours when it is the process of our pid file.
# Usage: scripts/consul.sh [start|stop|build]
source "$(dirname "$0")/lib.sh"

cmd=${1:-start}
addr="127.0.0.1:$CSI_CONSUL_PORT"
if [ -n "${CSI_CONSUL_ADDR:-}" ] && [ "$cmd" != build ]; then
	[ "$cmd" = stop ] || echo "$CSI_CONSUL_ADDR"
	exit 0
fi
dir="$RUN_DIR/consul"
consul="$BIN_CACHE/consul-$CONSUL_VERSION"

# Consul's module points three of its own modules at local directories that its zip lacks.
drop_local_replaces() { sed -i '/=> .\/\(api\|sdk\|proto-public\)$/d' go.mod; }

build() {
	[ -x "$consul" ] && return 0
	if command -v consul >/dev/null && consul version 2>/dev/null | grep -q "Consul ${CONSUL_VERSION}"; then
		ln -sf "$(command -v consul)" "$consul"
		return 0
	fi
	log "building Consul $CONSUL_VERSION from its Go module (once per machine, about 3 minutes)"
	build_from_module "$consul" "github.com/hashicorp/consul@$CONSUL_VERSION" . drop_local_replaces -ldflags='-s -w'
}

case "$cmd" in
build) build; echo "$consul"; exit 0 ;;
stop) stop_pidfile "$dir/consul.pid" consul; exit 0 ;;
start) ;;
*) die "usage: $0 [start|stop|build]" ;;
esac

if port_open "$CSI_CONSUL_PORT"; then
	holds_port "$dir/consul.pid" consul "$CSI_CONSUL_PORT" ||
		not_ours "Consul agent" "$CSI_CONSUL_PORT" "$(port_holder "$CSI_CONSUL_PORT")" CSI_CONSUL_PORT
	echo "$addr"
	exit 0
fi
build
mkdir -p "$dir"
log "starting Consul dev agent on $addr"
nohup "$consul" agent -dev -bind=127.0.0.1 -client=127.0.0.1 -http-port="$CSI_CONSUL_PORT" \
	-grpc-port=-1 -grpc-tls-port=-1 -dns-port=-1 -serf-lan-port=$((CSI_CONSUL_PORT + 1)) -serf-wan-port=$((CSI_CONSUL_PORT + 2)) \
	-server-port=$((CSI_CONSUL_PORT + 3)) -log-level=warn >"$dir/consul.log" 2>&1 &
echo $! >"$dir/consul.pid"
wait_port "$CSI_CONSUL_PORT" 30 "consul (log: $dir/consul.log)"
# Wait for a leader so registrations succeed.
for _ in $(seq 1 100); do
	curl -fsS "http://$addr/v1/status/leader" 2>/dev/null | grep -q ':' && break
	sleep 0.1
done
echo "$addr"
