#!/usr/bin/env bash
# make test: start (or reuse) the real servers the tests need, then run every module's tests
# with the race detector, then short fuzz runs, then make lint. Safe to run from a fresh clone on a fresh
# Debian/Ubuntu machine as root (it installs what is missing), or as a user with PostgreSQL
# and Redis installed. The servers are make test's own (.run/test, scripts/lib.sh), never
# make run's.
export CSI_PROFILE=test
source "$(dirname "$0")/lib.sh"
cd "$ROOT"

command -v go >/dev/null || die "Go is not installed (https://go.dev/doc/install); this project needs Go 1.26"

# The scripts' own checks first: seconds, and they need no server.
step scripts-selftest "$ROOT/scripts/test-scripts.sh" >/dev/null || die "the scripts' self-test failed; no test ran"

# Each setup step stops make test at once when it fails: no test runs without its servers.
exports=$("$ROOT/scripts/test-env.sh") || die "the test servers are not ready (scripts/test-env.sh); no test ran"
eval "$exports"
exports=$("$ROOT/scripts/test-env-k8s.sh") || die "Helm or the Kubernetes API server is not ready (scripts/test-env-k8s.sh); no test ran"
eval "$exports"
log "PostgreSQL $CSI_TEST_DATABASE_URL, Redis $CSI_TEST_REDIS_URL, Consul $CSI_TEST_CONSUL_ADDR, S3 $CSI_TEST_S3_ENDPOINT"

modules=$(go list -m -f '{{.Dir}}')
status=0
for dir in $modules; do
	rel=${dir#"$ROOT"/}
	log "go test -race $rel"
	(cd "$dir" && go test -race -count=1 -timeout 15m ${CSI_TEST_FLAGS:-} ./...) || status=1
done

# Short fuzz runs on the parsers that take untrusted input (seed corpora are committed).
fuzz() { # fuzz MODULE_DIR PACKAGE TARGET
	log "fuzz $2 $3 (${CSI_FUZZTIME:-10s})"
	(cd "$ROOT/$1" && go test -run='^$' -fuzz="^$3\$" -fuzztime="${CSI_FUZZTIME:-10s}" "$2") || status=1
}
fuzz pkg ./codicefiscale FuzzParse
fuzz pkg ./httpapi FuzzUnmarshal
fuzz services/identity . FuzzDecode
fuzz services/identity . FuzzParseImport
fuzz services/registry . FuzzDecode
fuzz services/registry . FuzzImportRows
fuzz services/intake . FuzzDecode
fuzz services/interventions . FuzzDecode
fuzz services/interventions . FuzzBatchDecode

# make lint last, whatever the tests said (so that one run reports both): gofmt, vet,
# staticcheck, Redocly, the dependency rule, the charts in sync.
log "make lint"
make -C "$ROOT" --no-print-directory lint || status=1

exit $status
