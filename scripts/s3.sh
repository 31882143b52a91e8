#!/usr/bin/env bash
# Ensure an S3-compatible object store for the tests and print its endpoint (host:port, plain
# HTTP): SeaweedFS (Apache-2.0) `weed mini`, one process running its master, volume, filer and
# S3 servers, with its data under $RUN_DIR/s3.
#   - The binary is built once per machine from the SeaweedFS Go module (about 17 minutes of CPU
#     time: 5 to 10 minutes on two idle cores) and
#     cached in $BIN_CACHE.
#   - Ports: S3 on 127.0.0.1:$CSI_S3_PORT; master, volume, filer and admin on the next four; the
#     gRPC port of each of those five ten above its HTTP port. All set explicitly, none left to
#     weed's defaults (8333, 9333, ...) or its search for a free port.
#   - One identity, $CSI_S3_ACCESS_KEY / $CSI_S3_SECRET_KEY (csi-test / csi-test-secret-key),
#     allowed Admin, Read, List, Tagging and Write.
#   - A server already on the port is reused only when it is the process of our pid file; any
#     other is an error that names it.
# Usage: scripts/s3.sh [start|stop|build]
source "$(dirname "$0")/lib.sh"

SEAWEEDFS_VERSION=v0.0.0-20261109003541-7506e5f91cd6

cmd=${1:-start}
dir="$RUN_DIR/s3"
weed="$BIN_CACHE/weed-$SEAWEEDFS_VERSION"
endpoint="127.0.0.1:$CSI_S3_PORT"

build() {
	[ -x "$weed" ] && return 0
	log "building SeaweedFS from its Go module (once per machine, 5 to 10 minutes: about 17 minutes of CPU time)"
	build_from_module "$weed" "github.com/seaweedfs/seaweedfs@$SEAWEEDFS_VERSION" ./weed : -ldflags='-s -w'
}

case "$cmd" in
build) build; echo "$weed"; exit 0 ;;
stop) stop_pidfile "$dir/weed.pid" weed; exit 0 ;;
start) ;;
*) die "usage: $0 [start|stop|build]" ;;
esac

# answers: S3 lists the buckets for our identity (a signed ListBuckets answers 200).
answers() {
	[ "$(curl -s -o /dev/null --max-time 2 -w '%{http_code}' --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$CSI_S3_ACCESS_KEY:$CSI_S3_SECRET_KEY" "http://$endpoint/" 2>/dev/null)" = 200 ]
}

if port_open "$CSI_S3_PORT"; then
	holds_port "$dir/weed.pid" weed "$CSI_S3_PORT" ||
		not_ours "S3 server" "$CSI_S3_PORT" "$(port_holder "$CSI_S3_PORT")" CSI_S3_PORT
	answers || die "our S3 server on $endpoint (pid $(cat "$dir/weed.pid")) refuses $CSI_S3_ACCESS_KEY's ListBuckets: it was started with other keys? scripts/s3.sh stop, then start (log: $dir/weed.log)"
	echo "$endpoint"
	exit 0
fi
build
stop_pidfile "$dir/weed.pid" weed
mkdir -p "$dir/data"
# The identities are read at start: written every time, so a change of keys takes effect.
umask_was=$(umask)
umask 077
cat >"$dir/s3.json" <<JSON
{
  "identities": [
    {
      "name": "csi-test",
      "credentials": [{"accessKey": "$CSI_S3_ACCESS_KEY", "secretKey": "$CSI_S3_SECRET_KEY"}],
      "actions": ["Admin", "Read", "List", "Tagging", "Write"]
    }
  ]
}
JSON
umask "$umask_was"
p=$CSI_S3_PORT
log "starting SeaweedFS S3 on $endpoint"
# Every test makes a bucket of its own, and SeaweedFS gives each bucket volumes of its own: small
# volumes and a fixed bound, rather than a bound computed from the free disk (with a few GB free
# it was reached within one make test: "No writable volumes and no free volumes left").
nohup "$weed" mini -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 -s3.config="$dir/s3.json" \
	-s3.port="$p" -s3.port.grpc=$((p + 10)) -s3.port.iceberg=0 -s3.port.lance=0 \
	-master.port=$((p + 1)) -master.port.grpc=$((p + 11)) -master.telemetry=false \
	-volume.port=$((p + 2)) -volume.port.grpc=$((p + 12)) \
	-filer.port=$((p + 3)) -filer.port.grpc=$((p + 13)) \
	-admin.ui=false -admin.port=$((p + 4)) -admin.port.grpc=$((p + 14)) -admin.port.legacy=0 \
	-filer.localSocket="$dir/filer.sock" -s3.localSocket="$dir/s3.sock" \
	-volume.max=2000 -master.volumeSizeLimitMB=16 \
	-webdav=false >"$dir/weed.log" 2>&1 &
echo $! >"$dir/weed.pid"
for _ in $(seq 1 600); do
	answers && { echo "$endpoint"; exit 0; }
	kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null || { tail -n 20 "$dir/weed.log" >&2; die "weed mini exited (log: $dir/weed.log)"; }
	sleep 0.1
done
tail -n 20 "$dir/weed.log" >&2
die "SeaweedFS S3 did not answer on $endpoint within 60 s (log: $dir/weed.log)"
