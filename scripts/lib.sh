# shellcheck shell=bash
# Common settings for the scripts behind `make run`, `make test` and `make bench`.
# Sourced, never executed.

set -euo pipefail

log() { printf '\033[1m==>\033[0m %s\n' "$*" >&2; }
die() { printf 'error: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# Whose private servers these are. make test and make run never share a server: each has its
# own run directory and ports, so one can neither reuse nor stop the other's.
#   CSI_PROFILE=test  make test (the default): .run/test, PostgreSQL 55432, Redis 56379, ...
#   CSI_PROFILE=dev   make run and make bench (tools/internal/suite sets it): .run/dev, ...
# CSI_RUN_DIR and the CSI_*_PORT variables override a profile's directory and ports (make chaos
# gives its own, .run/chaos).
CSI_PROFILE="${CSI_PROFILE:-test}"
case "$CSI_PROFILE" in
test)
	PURPOSE="make test"
	_pg=55432 _redis=56379 _consul=58500 _s3=58333 _etcd=52379 _kube=56443
	;;
dev)
	PURPOSE="make run"
	_pg=55433 _redis=56380 _consul=58510 _s3=58353 _etcd=52389 _kube=56453
	;;
*) die "CSI_PROFILE=$CSI_PROFILE: it is test (make test) or dev (make run)" ;;
esac
CSI_PG_PORT="${CSI_PG_PORT:-$_pg}"
CSI_REDIS_PORT="${CSI_REDIS_PORT:-$_redis}"
CSI_CONSUL_PORT="${CSI_CONSUL_PORT:-$_consul}" # and the next three (serf LAN, serf WAN, server RPC)
CSI_S3_PORT="${CSI_S3_PORT:-$_s3}"             # and the next 14 (SeaweedFS's master, volume, filer, admin, gRPC)
CSI_ETCD_PORT="${CSI_ETCD_PORT:-$_etcd}"       # and the next (etcd's peer port)
CSI_KUBE_PORT="${CSI_KUBE_PORT:-$_kube}"
unset _pg _redis _consul _s3 _etcd _kube
# The one identity of the private S3 server (scripts/s3.sh); test-env.sh passes it to the tests.
CSI_S3_ACCESS_KEY="${CSI_S3_ACCESS_KEY:-csi-test}"
CSI_S3_SECRET_KEY="${CSI_S3_SECRET_KEY:-csi-test-secret-key}"

RUN_DIR="${CSI_RUN_DIR:-$ROOT/.run/$CSI_PROFILE}"
mkdir -p "$RUN_DIR"
RUN_DIR=$(cd "$RUN_DIR" && pwd)

# Tools built from their Go modules (Consul, Helm, kube-apiserver, SeaweedFS) are kept here, once
# per machine. CSI_CACHE_DIR moves the cache (CI points it at an empty directory to prove the
# cold path while Go's own module and build caches stay warm).
CACHE_DIR="${CSI_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/csi}"
BIN_CACHE="$CACHE_DIR/bin"
PG_BIN="${PG_BIN:-}"
mkdir -p "$BIN_CACHE"

CONSUL_VERSION=v1.14.11

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

# --- Who holds a port ---------------------------------------------------------------------
# A server found on one of our ports is reused only when it is this run directory's own; the
# scripts check that with each server's own notion of identity (PostgreSQL's data directory,
# Redis's pid file) or, for the servers without one, the process that listens.

listener_pid() {
	# listener_pid PORT: the pid of the process listening on TCP PORT ("" when none is visible:
	# a process of another user shows no pid to a non-root user).
	local out
	out=$(ss -Htlnp "sport = :$1" 2>/dev/null) || true
	if [[ $out =~ pid=([0-9]+) ]]; then echo "${BASH_REMATCH[1]}"; fi
}

proc_desc() {
	# proc_desc PID: "pid N (command line)".
	local args
	args=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null | sed 's/ *$//' | cut -c1-200) || true
	printf 'pid %s (%s)' "$1" "$args"
}

port_holder() {
	# port_holder PORT: who listens on PORT, for messages.
	local pid
	pid=$(listener_pid "$1")
	if [ -n "$pid" ]; then proc_desc "$pid"; else printf 'a process this user cannot see'; fi
}

not_ours() {
	# not_ours WHAT PORT HOLDER PORT_VARIABLE: die, saying who holds the port and what to do.
	die "port $2 is held by $3, not by the $1 of this checkout's $PURPOSE servers (run directory $RUN_DIR).
  Stop that server ('make stop' in the checkout it belongs to) or give ours another free port: $4=<port> $PURPOSE"
}

pidfile_pid() {
	# pidfile_pid FILE NAME: the pid in FILE when that process is alive and its command line
	# contains NAME; fails otherwise.
	local pid args
	[ -f "$1" ] || return 1
	pid=$(tr -dc 0-9 <"$1")
	[ -n "$pid" ] || return 1
	args=$(tr '\0' ' ' 2>/dev/null <"/proc/$pid/cmdline") || return 1
	[[ $args == *"$2"* ]] || return 1
	echo "$pid"
}

holds_port() {
	# holds_port PIDFILE NAME PORT: the live process of PIDFILE (command line containing NAME)
	# is the one listening on PORT.
	local pid
	pid=$(pidfile_pid "$1" "$2") || return 1
	[ "$(listener_pid "$3")" = "$pid" ]
}

stop_pidfile() {
	# stop_pidfile FILE NAME: stop the process of a pid file (when it is still NAME) and wait
	# up to 10 s for it to exit, then kill it (SeaweedFS's weed server has taken 16 s to close
	# its streams; left running it keeps ports the next start needs); remove the file.
	local pid
	if pid=$(pidfile_pid "$1" "$2"); then
		kill "$pid" 2>/dev/null || true
		for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		if kill -0 "$pid" 2>/dev/null; then
			log "$2 (pid $pid) did not stop within 10 s of SIGTERM: SIGKILL"
			kill -9 "$pid" 2>/dev/null || true
			for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
		fi
	fi
	rm -f "$1"
}

# --- Building tools from their Go modules --------------------------------------------------

build_from_module() (
	# build_from_module OUT MODULE@VERSION PACKAGE PREPARE [GO BUILD FLAGS...]
	# Download MODULE, copy it to a temporary directory, run the function PREPARE there (to edit
	# go.mod; ':' for nothing), go build PACKAGE into OUT. A subshell on purpose: the EXIT trap
	# that removes the temporary directory belongs to it and ends with it. (A RETURN trap set
	# in a function is global in bash: it fired again when the calling function returned
	# (kube.sh start), after the local variable it used was gone, and aborted under set -u.)
	local out=$1 mod=$2 pkg=$3 prepare=$4 tmp src
	shift 4
	command -v go >/dev/null || die "Go is needed to build $mod"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/csi-build.XXXXXX")
	trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp" "$out.tmp.$BASHPID"' EXIT
	src=$(cd "$tmp" && GOWORK=off GOFLAGS=-mod=mod go mod download -json "$mod" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p') || true
	[ -n "$src" ] || die "could not download $mod"
	cp -r "$src" "$tmp/src" && chmod -R u+w "$tmp/src"
	cd "$tmp/src"
	"$prepare"
	GOWORK=off GOFLAGS=-mod=mod go build -trimpath "$@" -o "$out.tmp.$BASHPID" "$pkg" || die "go build $pkg of $mod failed"
	mv "$out.tmp.$BASHPID" "$out"
)

go_install() (
	# go_install OUT PACKAGE@VERSION: go install into a temporary GOBIN, then move the binary to
	# OUT. A subshell, for the same reason as build_from_module.
	local out=$1 pkg=$2 tmp
	command -v go >/dev/null || die "Go is needed to install $pkg"
	tmp=$(mktemp -d "${TMPDIR:-/tmp}/csi-build.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	(cd "$tmp" && GOWORK=off GOBIN="$tmp/bin" go install -trimpath -ldflags='-s -w' "$pkg") || die "go install $pkg failed"
	mv "$tmp/bin/$(basename "${pkg%@*}")" "$out"
)

# --- Setup steps -------------------------------------------------------------------------------

step() {
	# step NAME COMMAND...: run one setup step and print what it prints on stdout. Its stderr
	# goes to the terminal and to $RUN_DIR/logs/setup-NAME.log. When it fails: an error naming
	# the step, its command and that log, and its non-zero status, so that the caller stops:
	#   url=$(step postgres scripts/postgres.sh start) || exit 1
	# (a bare eval "$(command)" would go on without the environment the command did not print).
	local name=$1 log out rc=0
	shift
	log="$RUN_DIR/logs/setup-$name.log"
	mkdir -p "$RUN_DIR/logs"
	# fd 3 carries the command's stdout out of the pipe to tee; the command gets it as its stdout
	# only (3>&-), or a server it starts would inherit fd 3 and keep this substitution waiting.
	out=$({ "$@" 2>&1 1>&3 3>&- | tee "$log" >&2; exit "${PIPESTATUS[0]}"; } 3>&1) || rc=$?
	if [ "$rc" != 0 ]; then
		printf 'error: setup step "%s" failed (exit status %s): %s\n  its output is in %s\n' "$name" "$rc" "$*" "$log" >&2
		return "$rc"
	fi
	printf '%s\n' "$out"
}
