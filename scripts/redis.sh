#!/usr/bin/env bash
# Ensure a Redis server and print its URL.
#   - CSI_REDIS_URL set: use it. Otherwise a private server on 127.0.0.1:$CSI_REDIS_PORT,
#     reused when running; Debian's redis-server package is installed when missing (as root).
# Usage: scripts/redis.sh [start|stop]
source "$(dirname "$0")/lib.sh"

cmd=${1:-start}
url="redis://127.0.0.1:$CSI_REDIS_PORT/0"
if [ -n "${CSI_REDIS_URL:-}" ]; then
	[ "$cmd" = stop ] || echo "$CSI_REDIS_URL"
	exit 0
fi
dir="$RUN_DIR/redis"
case "$cmd" in
stop)
	[ -f "$dir/redis.pid" ] && kill "$(cat "$dir/redis.pid")" 2>/dev/null || true
	exit 0
	;;
start) ;;
*) die "usage: $0 [start|stop]" ;;
esac

if port_open "$CSI_REDIS_PORT"; then
	echo "$url"
	exit 0
fi
command -v redis-server >/dev/null || apt_install redis-server
mkdir -p "$dir"
log "starting Redis on 127.0.0.1:$CSI_REDIS_PORT"
redis-server --bind 127.0.0.1 --port "$CSI_REDIS_PORT" --daemonize yes --save '' --appendonly no \
	--dir "$dir" --pidfile "$dir/redis.pid" --logfile "$dir/redis.log" >/dev/null
wait_port "$CSI_REDIS_PORT" 10 redis
echo "$url"
