#!/usr/bin/env bash
# Ensure a Redis server and print its URL.
#   - CSI_REDIS_URL set: use it. Otherwise a private server on 127.0.0.1:$CSI_REDIS_PORT with its
#     files under $RUN_DIR/redis; Debian's redis-server package is installed when missing (as
#     root). A server already on the port is reused only when it is ours (CONFIG GET pidfile
#     names our pid file); any other server there is an error that names it.
# Usage: scripts/redis.sh [start|stop|url]
source "$(dirname "$0")/lib.sh"

cmd=${1:-start}
url="redis://127.0.0.1:$CSI_REDIS_PORT/0"
if [ -n "${CSI_REDIS_URL:-}" ]; then
	[ "$cmd" = stop ] || echo "$CSI_REDIS_URL"
	exit 0
fi
dir="$RUN_DIR/redis"
case "$cmd" in
url) echo "$url"; exit 0 ;;
stop) stop_pidfile "$dir/redis.pid" redis-server; exit 0 ;;
start) ;;
*) die "usage: $0 [start|stop|url]" ;;
esac

if port_open "$CSI_REDIS_PORT"; then
	holder=$(port_holder "$CSI_REDIS_PORT")
	command -v redis-cli >/dev/null || not_ours "Redis server" "$CSI_REDIS_PORT" "$holder" CSI_REDIS_PORT
	got=$(timeout 5 redis-cli -h 127.0.0.1 -p "$CSI_REDIS_PORT" --no-auth-warning --raw CONFIG GET pidfile 2>&1) || true
	pidfile=$(printf '%s\n' "$got" | sed -n 2p)
	if [ "$(printf '%s\n' "$got" | sed -n 1p)" != pidfile ]; then
		not_ours "Redis server" "$CSI_REDIS_PORT" "$holder, which does not answer CONFIG GET pidfile (${got//$'\n'/ })" CSI_REDIS_PORT
	fi
	[ "$pidfile" = "$dir/redis.pid" ] ||
		not_ours "Redis server" "$CSI_REDIS_PORT" "the Redis server of pid file ${pidfile:-(none)}, $holder" CSI_REDIS_PORT
	echo "$url"
	exit 0
fi
command -v redis-server >/dev/null || apt_install redis-server
mkdir -p "$dir"
log "starting Redis on 127.0.0.1:$CSI_REDIS_PORT"
redis-server --bind 127.0.0.1 --port "$CSI_REDIS_PORT" --daemonize yes --save '' --appendonly no \
	--dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null ||
	die "redis-server did not start (log: $dir/redis.log)"
wait_port "$CSI_REDIS_PORT" 10 "redis (log: $dir/redis.log)"
echo "$url"
