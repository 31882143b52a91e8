#!/usr/bin/env bash
# Print the path of the Redocly CLI (the OpenAPI linter of `make lint`), installing it once per
# machine when absent:
#   redocly=$(scripts/redocly.sh)
#   - CSI_REDOCLY set and executable: use it.
#   - otherwise $CACHE_DIR/redocly-$REDOCLY_VERSION/node_modules/.bin/redocly, installed with
#     `npm install --prefix` from the npm registry (needs node >= 20 and npm) and reused afterwards.
# A redocly already on PATH is not used: the documents are checked with one known version.
source "$(dirname "$0")/lib.sh"

REDOCLY_VERSION=${REDOCLY_VERSION:-2.77.0}

if [ -n "${CSI_REDOCLY:-}" ] && [ -x "$CSI_REDOCLY" ]; then
	echo "$CSI_REDOCLY"
	exit 0
fi
prefix="$CACHE_DIR/redocly-$REDOCLY_VERSION"
redocly="$prefix/node_modules/.bin/redocly"
if [ ! -x "$redocly" ]; then
	command -v npm >/dev/null || die "npm (with node >= 20) is needed to install the Redocly CLI"
	log "installing @redocly/cli@$REDOCLY_VERSION with npm (once per machine)"
	tmp="$prefix.tmp.$$"
	rm -rf "$tmp"
	trap 'rm -rf "$tmp"' EXIT
	npm install --prefix "$tmp" --no-audit --no-fund --loglevel=error "@redocly/cli@$REDOCLY_VERSION" >&2 ||
		die "npm install @redocly/cli@$REDOCLY_VERSION failed"
	rm -rf "$prefix"
	mv "$tmp" "$prefix"
fi
echo "$redocly"
