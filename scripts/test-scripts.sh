#!/usr/bin/env bash
# The scripts' own tests. make test runs them first; they take seconds and need no server and no
# network: a stub `go` on PATH stands in for the module download and the build.
#   - the first build of every tool (consul.sh, kube.sh, s3.sh build; helm.sh) into an empty
#     CSI_CACHE_DIR: the binary lands in the cache, the module copy is edited as it must be, no
#     temporary directory is left; the second call reuses the binary;
#   - a failing build stops its script with an error, leaving no binary and no temporary files;
#   - build_from_module, succeeding or failing, leaves no trap behind in the shell that called
#     it, and a later function's return under set -u goes on (issue 9: a RETURN trap set inside
#     a build function fired again on a later return and aborted the first make test);
#   - a failing setup step stops test-env.sh with an error naming the step and its log, and no
#     exports; step passes a command's output through and logs its stderr;
#   - no script sets a RETURN trap or evals a command substitution unchecked.
# Usage: scripts/test-scripts.sh (prints "ok"/"FAIL" lines; exit status 1 when any failed)
set -uo pipefail # no -e: every check reports, none aborts the others
scripts=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/csi-scripts-test.XXXXXX")
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT

failed=0
ok() { printf 'ok   %s\n' "$1"; }
fail() {
	printf 'FAIL %s\n' "$1" >&2
	[ -z "${2:-}" ] || printf '%s\n' "$2" | sed 's/^/     /' >&2
	failed=1
}
check() { # check NAME CONDITION-COMMAND... [-- DETAIL]
	local name=$1
	shift
	if "$@"; then ok "$name"; else fail "$name" "${detail:-}"; fi
}

# The stub go. `go mod download -json MOD@V` prints a module directory under $STUB_MODS (its
# go.mod seeded by the test); `go build -o OUT PKG` records its arguments, its CGO_ENABLED and the
# go.mod it builds with, and writes a script as the binary; `go install PKG@V` writes one into
# GOBIN. STUB_GO_FAIL=1 makes build and install fail.
stub="$work/stub"
mkdir -p "$stub" "$work/mods" "$work/seen"
cat >"$stub/go" <<'STUB'
#!/usr/bin/env bash
set -eu
printf '%s\n' "$*" >>"$STUB_LOG"
case "$1" in
mod)
	mod=${4%@*}
	mkdir -p "$STUB_MODS/$mod"
	[ -f "$STUB_MODS/$mod/go.mod" ] || printf 'module %s\n' "$mod" >"$STUB_MODS/$mod/go.mod"
	chmod -R a-w "$STUB_MODS/$mod" # as in the module cache
	printf '{\n\t"Path": "%s",\n\t"Dir": "%s",\n\t"GoMod": "%s/go.mod"\n}\n' "$mod" "$STUB_MODS/$mod" "$STUB_MODS/$mod"
	;;
build)
	[ -z "${STUB_GO_FAIL:-}" ] || { echo "stub go: build failed" >&2; exit 1; }
	out=
	prev=
	for a in "$@"; do
		[ "$prev" = -o ] && out=$a
		prev=$a
	done
	name=$(basename "$out" | sed 's/\.tmp\..*//')
	cp go.mod "$STUB_SEEN/$name.go.mod"
	printf 'CGO_ENABLED=%s %s\n' "${CGO_ENABLED:-}" "$*" >"$STUB_SEEN/$name.args"
	[ ! -e vendor ] || echo vendor >>"$STUB_SEEN/$name.args"
	printf '#!/bin/sh\necho stub %s\n' "$name" >"$out"
	chmod +x "$out"
	;;
install)
	[ -z "${STUB_GO_FAIL:-}" ] || { echo "stub go: install failed" >&2; exit 1; }
	pkg=${!#}
	mkdir -p "$GOBIN"
	printf '#!/bin/sh\necho stub\n' >"$GOBIN/$(basename "${pkg%@*}")"
	chmod +x "$GOBIN/$(basename "${pkg%@*}")"
	;;
*) echo "stub go: unexpected: $*" >&2; exit 2 ;;
esac
STUB
# A consul on PATH that is not v1.14.11, so that consul.sh builds instead of linking it.
printf '#!/bin/sh\necho "Consul v0.0.0-stub"\n' >"$stub/consul"
chmod +x "$stub/go" "$stub/consul"

# Module trees the prepare steps must edit, shaped like the real go.mod files.
mkdir -p "$work/mods/github.com/hashicorp/consul" "$work/mods/k8s.io/kubernetes/vendor"
cat >"$work/mods/github.com/hashicorp/consul/go.mod" <<'MOD'
module github.com/hashicorp/consul

replace github.com/hashicorp/consul/api => ./api

replace github.com/hashicorp/consul/sdk => ./sdk

replace github.com/hashicorp/consul/proto-public => ./proto-public

require github.com/hashicorp/consul/api v1.20.0
MOD
cat >"$work/mods/k8s.io/kubernetes/go.mod" <<'MOD'
module k8s.io/kubernetes

require (
	k8s.io/api v0.0.0
	k8s.io/apiserver v0.0.0
)

replace (
	k8s.io/api => ./staging/src/k8s.io/api
	k8s.io/apiserver => ./staging/src/k8s.io/apiserver
)
MOD
touch "$work/mods/k8s.io/kubernetes/go.work"

# run NAME SCRIPT ARGS...: run a script with the stub and an empty cache of its own; sets out,
# err and rc. CACHE (default $work/cache) and the STUB_* variables may be set by the caller.
run() {
	local name=$1
	shift
	mkdir -p "$work/tmp" "$work/run"
	rc=0
	out=$(env PATH="$stub:$PATH" TMPDIR="$work/tmp" CSI_CACHE_DIR="${CACHE:-$work/cache}" CSI_RUN_DIR="$work/run" \
		STUB_LOG="$work/go.log" STUB_MODS="$work/mods" STUB_SEEN="$work/seen" CSI_HELM= "$@" 2>"$work/$name.err") || rc=$?
	err=$(cat "$work/$name.err")
}
builds() { grep -c '^build ' "$work/go.log" 2>/dev/null || true; }
tmp_empty() { [ -z "$(ls -A "$work/tmp")" ]; }
bin="$work/cache/bin"

# --- First builds ----------------------------------------------------------------------------
run consul "$scripts/consul.sh" build
detail="rc=$rc out=$out err=$err"
check "consul.sh build: cold cache, builds into CSI_CACHE_DIR" \
	test "$rc" = 0 -a "$out" = "$bin/consul-v1.14.11" -a -x "$bin/consul-v1.14.11"
detail=$(cat "$work/seen/consul-v1.14.11.go.mod" 2>&1)
check "consul.sh build: the local replace lines are dropped, the requirements kept" \
	eval '! grep -q "=> ./" "$work/seen/consul-v1.14.11.go.mod" && grep -q "require github.com/hashicorp/consul/api v1.20.0" "$work/seen/consul-v1.14.11.go.mod"'
detail=$(ls -A "$work/tmp" "$bin")
check "consul.sh build: no temporary directory or file is left" eval 'tmp_empty && [ "$(ls "$bin")" = consul-v1.14.11 ]'
n=$(builds)
run consul2 "$scripts/consul.sh" build
detail="rc=$rc builds before $n, after $(builds)"
check "consul.sh build: a second call reuses the binary" test "$rc" = 0 -a "$(builds)" = "$n" -a "$out" = "$bin/consul-v1.14.11"

run kube "$scripts/kube.sh" build
detail="rc=$rc out=$out err=$err"
check "kube.sh build: cold cache, builds into CSI_CACHE_DIR" \
	test "$rc" = 0 -a "$out" = "$bin/kube-apiserver-v1.37.2" -a -x "$bin/kube-apiserver-v1.37.2"
detail="$(cat "$work/seen/kube-apiserver-v1.37.2.go.mod" "$work/seen/kube-apiserver-v1.37.2.args" 2>&1)"
check "kube.sh build: staging modules pinned to v0.37.2, ./staging replaces and vendor dropped, static, versioned" \
	eval 'grep -q "k8s.io/apiserver v0.37.2" "$work/seen/kube-apiserver-v1.37.2.go.mod" &&
		! grep -q staging "$work/seen/kube-apiserver-v1.37.2.go.mod" &&
		grep -q "^CGO_ENABLED=0 .*gitVersion=v1.37.2.* ./cmd/kube-apiserver$" "$work/seen/kube-apiserver-v1.37.2.args" &&
		! grep -qx vendor "$work/seen/kube-apiserver-v1.37.2.args"'

run s3 "$scripts/s3.sh" build
detail="rc=$rc out=$out err=$err"
check "s3.sh build: cold cache, builds SeaweedFS ./weed into CSI_CACHE_DIR" \
	eval '[ "$rc" = 0 ] && [ -x "$out" ] && [ "$out" = "$bin/weed-v0.0.0-20261109003541-7506e5f91cd6" ] && grep -q " ./weed$" "$work/seen/weed-v0.0.0-20261109003541-7506e5f91cd6.args"'

run helm "$scripts/helm.sh"
detail="rc=$rc out=$out err=$err"
check "helm.sh: cold cache, installs into CSI_CACHE_DIR" test "$rc" = 0 -a "$out" = "$bin/helm-v3.22.0" -a -x "$bin/helm-v3.22.0"
detail=$(ls -A "$work/tmp")
check "builds leave no temporary directory" tmp_empty

# --- A failing build -----------------------------------------------------------------------
CACHE="$work/cache-fail" STUB_GO_FAIL=1 run consul-fail "$scripts/consul.sh" build
detail="rc=$rc out=$out err=$err"
check "consul.sh build: a failing build fails the script with its error" \
	eval '[ "$rc" != 0 ] && [ -z "$out" ] && grep -q "go build . of github.com/hashicorp/consul@v1.14.11 failed" <<<"$err"'
detail=$(ls -A "$work/cache-fail/bin" "$work/tmp")
check "consul.sh build: a failing build leaves no binary and no temporary files" \
	eval '[ -z "$(ls -A "$work/cache-fail/bin")" ] && tmp_empty'

# --- No trap left behind ---------------------------------------------------------------------
# The caller is a shell like the scripts' (set -euo pipefail, lib.sh sourced) whose function
# start builds and goes on, as kube.sh start does: a RETURN trap set during the build fired again
# when start returned, after the build's local variables were gone.
cat >"$work/caller.sh" <<'CALLER'
source "$SCRIPTS/lib.sh"
after() { local x=1; return 0; }
start() {
	if [ "${EXPECT_FAIL:-}" ]; then
		if build_from_module "$BIN_CACHE/tool" example.com/tool@v1.0.0 . :; then echo "built?"; exit 4; fi
	else
		build_from_module "$BIN_CACHE/tool" example.com/tool@v1.0.0 . :
	fi
	after
	return 0
}
start
traps=$(trap -p)
[ -z "$traps" ] || { echo "traps left: $traps"; exit 3; }
after
echo survived
CALLER
for mode in succeeds fails; do
	if [ "$mode" = fails ]; then export EXPECT_FAIL=1 STUB_GO_FAIL=1; fi
	CACHE="$work/cache-trap-$mode" run "trap-$mode" env SCRIPTS="$scripts" bash -c 'set -euo pipefail; source "$0"' "$work/caller.sh"
	detail="rc=$rc out=$out err=$err"
	check "build_from_module $mode: no trap left, a later function return under set -u goes on" \
		test "$rc" = 0 -a "$out" = survived
	unset EXPECT_FAIL STUB_GO_FAIL
done

# --- Setup steps -----------------------------------------------------------------------------
run step-ok env SCRIPTS="$scripts" bash -c 'source "$SCRIPTS/lib.sh"; step demo bash -c "echo out; echo progress >&2"'
detail="rc=$rc out=$out err=$err log=$(cat "$work/run/logs/setup-demo.log" 2>&1)"
check "step: passes stdout through, shows and logs stderr" \
	eval '[ "$rc" = 0 ] && [ "$out" = out ] && [ "$err" = progress ] && [ "$(cat "$work/run/logs/setup-demo.log")" = progress ]'
run step-fail env SCRIPTS="$scripts" bash -c 'source "$SCRIPTS/lib.sh"; step broken bash -c "echo half; echo boom >&2; exit 7" || exit; echo went-on'
detail="rc=$rc out=$out err=$err"
check "step: a failing step prints nothing, names itself and its log, keeps its status" \
	eval '[ "$rc" = 7 ] && [ -z "$out" ] && grep -q "setup step \"broken\" failed (exit status 7)" <<<"$err" && grep -q "logs/setup-broken.log" <<<"$err"'

# A step that starts a server (stdout and stderr sent to its log, as the scripts do) returns
# at once: the server does not inherit the step's own descriptors.
start=$SECONDS
run step-daemon env SCRIPTS="$scripts" PIDFILE="$work/daemon.pid" timeout 20 bash -c \
	'source "$SCRIPTS/lib.sh"; step daemon bash -c "sleep 30 >/dev/null 2>&1 & echo \$! >\"\$PIDFILE\"; echo started"'
took=$((SECONDS - start))
kill "$(cat "$work/daemon.pid" 2>/dev/null)" 2>/dev/null
detail="rc=$rc out=$out err=$err after ${took}s"
check "step: a command that leaves a server running returns at once" test "$rc" = 0 -a "$out" = started -a "$took" -lt 10

# test-env.sh with servers given by the environment and an S3 server that cannot be built.
CACHE="$work/cache-env" STUB_GO_FAIL=1 run test-env env CSI_DATABASE_URL=postgres://x CSI_REDIS_URL=redis://x \
	CSI_CONSUL_ADDR=127.0.0.1:1 CSI_S3_PORT=1 "$scripts/test-env.sh"
detail="rc=$rc out=$out err=$err"
check "test-env.sh: a failing step stops it, with no exports, naming the step and its log" \
	eval '[ "$rc" != 0 ] && [ -z "$out" ] && grep -q "setup step \"s3\" failed" <<<"$err" && grep -q "setup-s3.log" <<<"$err"'

# --- Patterns that must not come back ----------------------------------------------------------
hits=$(grep -nE "^[^#]*trap .*RETURN|^[^#]*eval \"\\$\\(" "$scripts"/*.sh "$scripts/../Makefile" "$scripts/../.ci/run" || true)
detail=$hits
check "no script sets a RETURN trap or evals an unchecked command substitution" test -z "$hits"

if [ "$failed" != 0 ]; then
	echo "scripts/test-scripts.sh: some checks failed" >&2
	exit 1
fi
echo "scripts/test-scripts.sh: all passed" >&2
