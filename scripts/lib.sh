# shellcheck shell=bash
# Common settings for the scripts behind `make run`, `make test` and `make bench`.
# Sourced, never executed.

set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
RUN_DIR="${CSI_RUN_DIR:-$ROOT/.run}" # CSI_RUN_DIR: another directory for private servers (make chaos)
CACHE_DIR="${XDG_CACHE_HOME:-$HOME/.cache}/csi"
BIN_CACHE="$CACHE_DIR/bin"
PG_BIN="${PG_BIN:-}"
mkdir -p "$RUN_DIR" "$BIN_CACHE"

# Private ports, away from the system defaults so a system server can coexist.
CSI_PG_PORT="${CSI_PG_PORT:-55432}"
CSI_REDIS_PORT="${CSI_REDIS_PORT:-56379}"
CSI_CONSUL_PORT="${CSI_CONSUL_PORT:-58500}"

CONSUL_VERSION=v1.14.11

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

apt_install() {
	# apt_install PACKAGE...: install Debian packages when we are root; otherwise explain.
	if ! is_root; then
		die "missing $*: install with 'sudo apt-get install -y $*' and run again"
	fi
	if [ ! -f "$RUN_DIR/.apt-updated" ]; then
		log "apt-get update"
		DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null
		touch "$RUN_DIR/.apt-updated"
	fi
	log "apt-get install $*"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

wait_port() {
	# wait_port PORT SECONDS NAME
	local i
	for ((i = 0; i < $2 * 10; i++)); do
		port_open "$1" && return 0
		sleep 0.1
	done
	die "$3 did not open port $1 within $2 s"
}
