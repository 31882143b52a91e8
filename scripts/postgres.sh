#!/usr/bin/env bash
# Ensure a PostgreSQL server for the suite and print its URL (postgres superuser, database postgres).
#   - CSI_DATABASE_URL set: use it as it is.
#   - otherwise a private cluster under $RUN_DIR/pg (.run/test/pg for make test, .run/dev/pg for
#     make run) on 127.0.0.1:$CSI_PG_PORT, created and started when not running; Debian's
#     postgresql package is installed when missing (as root). A server already on the port is
#     reused only when it is this cluster (SHOW data_directory names our data directory);
#     any other server there is an error that names it.
# Usage: scripts/postgres.sh [start|stop|url]
source "$(dirname "$0")/lib.sh"

cmd=${1:-start}
url="postgres://postgres@127.0.0.1:$CSI_PG_PORT/postgres?sslmode=disable"

if [ -n "${CSI_DATABASE_URL:-}" ]; then
	[ "$cmd" = stop ] || echo "$CSI_DATABASE_URL"
	exit 0
fi

find_pg_bin() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		[ -x "$d/postgres" ] && [ -x "$d/initdb" ] && { echo "$d"; return 0; }
	done
	return 1
}

# The data directory must be reachable by the user the server runs as. As root that is
# 'postgres', which cannot enter a repository under a private home: then the data lives under
# /var/tmp and .run/pg links to it.
as_pg() {
	if is_root; then (cd / && runuser -u postgres -- "$@"); else "$@"; fi
}

data_dir() {
	# data_dir [create]: the data directory; with create, make the /var/tmp one when needed.
	local d="$RUN_DIR/pg"
	if [ -L "$d" ]; then readlink "$d"; return; fi
	if [ "${1:-}" = create ] && [ ! -d "$d" ] && is_root && ! runuser -u postgres -- test -x "$RUN_DIR" 2>/dev/null; then
		local alt
		alt="/var/tmp/csi-pg-$(echo "$RUN_DIR" | md5sum | cut -c1-8)"
		mkdir -p "$alt" && chown postgres:postgres "$alt" && chmod 700 "$alt"
		ln -sfn "$alt" "$d"
		echo "$alt"
		return
	fi
	echo "$d"
}

case "$cmd" in
url) echo "$url"; exit 0 ;;
stop)
	bin=$(find_pg_bin) || exit 0
	dir=$(data_dir)
	[ -f "$dir/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
	exit 0
	;;
start) ;;
*) die "usage: $0 [start|stop|url]" ;;
esac

if port_open "$CSI_PG_PORT"; then
	# Ours only when its data directory is ours.
	bin=$(find_pg_bin) || not_ours PostgreSQL "$CSI_PG_PORT" "$(port_holder "$CSI_PG_PORT")" CSI_PG_PORT
	dir=$(data_dir create)
	if ! got=$(PGCONNECT_TIMEOUT=5 "$bin/psql" -w -X -At -h 127.0.0.1 -p "$CSI_PG_PORT" -U postgres -d postgres \
		-c 'SHOW data_directory' 2>&1); then
		not_ours PostgreSQL "$CSI_PG_PORT" "$(port_holder "$CSI_PG_PORT"), where psql -U postgres without a password fails: ${got//$'\n'/ }" CSI_PG_PORT
	fi
	[ "$(realpath -m "$got")" = "$(realpath -m "$dir")" ] ||
		not_ours PostgreSQL "$CSI_PG_PORT" "the PostgreSQL of data directory $got, $(port_holder "$CSI_PG_PORT")" CSI_PG_PORT
	echo "$url"
	exit 0
fi

bin=$(find_pg_bin) || { apt_install postgresql; bin=$(find_pg_bin) || die "postgresql binaries not found after install"; }
dir=$(data_dir create)
if [ ! -f "$dir/PG_VERSION" ]; then
	log "initdb $dir"
	mkdir -p "$dir"
	is_root && chown postgres:postgres "$dir"
	chmod 700 "$dir"
	as_pg "$bin/initdb" -D "$dir" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
fi
log "starting PostgreSQL on 127.0.0.1:$CSI_PG_PORT"
# Settings a production server of the suite would have too: room for a bulk import's WAL
# between checkpoints (the default 1 GB forces checkpoints, and full-page images, in the middle
# of a 200,000-row import) and compressed full-page images.
if ! as_pg "$bin/pg_ctl" -D "$dir" -w -t 60 -l "$dir/server.log" -o "-p $CSI_PG_PORT -k $dir -c listen_addresses=127.0.0.1 -c max_connections=400 -c fsync=${CSI_PG_FSYNC:-on} -c shared_buffers=256MB -c max_wal_size=4GB -c wal_compression=on" start >/dev/null; then
	tail -n 20 "$dir/server.log" >&2 || true
	die "PostgreSQL did not start on 127.0.0.1:$CSI_PG_PORT (log: $dir/server.log)"
fi
echo "$url"
