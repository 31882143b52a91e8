#!/usr/bin/env bash
# Ensure an S3-compatible object store for the tests and print its endpoint (host:port, plain
# HTTP): SeaweedFS (Apache-2.0) `weed server`, one process running its master, volume, filer and
# S3 servers, with its data under $RUN_DIR/s3.
#   - Not `weed mini`: mini fixes the volume server's free-space floor at 1% of the disk, and below
#     it every volume turns read-only and every PUT waits until its deadline. On a 252 GB disk that
#     is 2.5 GB, and the machines this runs on have had less free (CI failed so). The floor here is
#     $CSI_S3_MIN_FREE (256MiB), and a write is tried before the endpoint is printed. Starting
#     takes about 11 s (the lone master's election, 2 s here, then the volume server joining it).
#   - The binary is built once per machine from the SeaweedFS Go module (about 17 minutes of CPU
#     time: 5 to 10 minutes on two idle cores) and
#     cached in $BIN_CACHE.
#   - Ports: S3 on 127.0.0.1:$CSI_S3_PORT; master, volume and filer on the next three; the gRPC
#     port of each of those four ten above its HTTP port. All set explicitly, none left to
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
CSI_S3_MIN_FREE=${CSI_S3_MIN_FREE:-256MiB}

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

# s3 METHOD PATH [curl args...]: a request signed for our identity; prints the HTTP status.
s3() {
	local method=$1 path=$2
	shift 2
	curl -s -o /dev/null --max-time "${S3_TIMEOUT:-2}" -w '%{http_code}' -X "$method" --aws-sigv4 aws:amz:us-east-1:s3 \
		--user "$CSI_S3_ACCESS_KEY:$CSI_S3_SECRET_KEY" "$@" "http://$endpoint$path" 2>/dev/null
}

# answers: S3 lists the buckets for our identity (a signed ListBuckets answers 200).
answers() { [ "$(s3 GET /)" = 200 ]; }

# writes: an object can be written and deleted (a volume server that has turned its volumes
# read-only still lists buckets, but every PUT hangs).
writes() {
	local b=csi-probe-$$
	# 409: made by an earlier try of ours whose answer came too late.
	case "$(S3_TIMEOUT=20 s3 PUT "/$b")" in 200 | 409) ;; *) return 1 ;; esac
	local put
	# curl signs a body only with its hash given (else: SignatureDoesNotMatch).
	put=$(S3_TIMEOUT=20 s3 PUT "/$b/probe" --data-binary probe -H 'Content-Type: text/plain' \
		-H "x-amz-content-sha256: $(printf probe | sha256sum | cut -d ' ' -f 1)")
	s3 DELETE "/$b/probe" >/dev/null
	s3 DELETE "/$b" >/dev/null
	[ "$put" = 200 ]
}

# refuses_writes: fail naming the free disk where the data is.
refuses_writes() {
	tail -n 20 "$dir/weed.log" >&2
	die "SeaweedFS on $endpoint answers but refuses a write; free disk where its data is: $(df -h --output=avail "$dir" | tail -n 1 | tr -d ' ') (its floor: $CSI_S3_MIN_FREE; log: $dir/weed.log)"
}

if port_open "$CSI_S3_PORT"; then
	holds_port "$dir/weed.pid" weed "$CSI_S3_PORT" ||
		not_ours "S3 server" "$CSI_S3_PORT" "$(port_holder "$CSI_S3_PORT")" CSI_S3_PORT
	answers || die "our S3 server on $endpoint (pid $(cat "$dir/weed.pid")) refuses $CSI_S3_ACCESS_KEY's ListBuckets: it was started with other keys? scripts/s3.sh stop, then start (log: $dir/weed.log)"
	writes || refuses_writes
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
# SSE-S3 (the tests ask for server-side encryption) needs a key-encryption key, and a passphrase that
# wraps it where the filer keeps it: random once per data directory, kept in it (0600), reused
# at every start (objects written under one KEK are unreadable under another).
secret() {
	[ -s "$1" ] || (umask 077 && head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$1")
	cat "$1"
}
WEED_S3_SSE_KEK=$(secret "$dir/data/.sse-kek")
WEED_S3_SSE_KEK_PASSPHRASE=$(secret "$dir/data/.sse-kek-passphrase")
export WEED_S3_SSE_KEK WEED_S3_SSE_KEK_PASSPHRASE
p=$CSI_S3_PORT
log "starting SeaweedFS S3 on $endpoint"
# Every test makes a bucket of its own, and SeaweedFS gives each bucket volumes of its own: small
# volumes grown one at a time (the master would grow seven for every new bucket) and a fixed bound,
# rather than a bound computed from the free disk (with a few GB free it was reached within one
# make test: "No writable volumes and no free volumes left").
WEED_MASTER_VOLUME_GROWTH_COPY_1=1 nohup "$weed" server -dir="$dir/data" -ip=127.0.0.1 -ip.bind=127.0.0.1 \
	-master.port=$((p + 1)) -master.port.grpc=$((p + 11)) -master.telemetry=false \
	-master.volumeSizeLimitMB=16 -master.electionTimeout=2s \
	-volume.port=$((p + 2)) -volume.port.grpc=$((p + 12)) \
	-volume.max=2000 -volume.minFreeSpace="$CSI_S3_MIN_FREE" -volume.preStopSeconds=1 \
	-filer -filer.port=$((p + 3)) -filer.port.grpc=$((p + 13)) -filer.localSocket="$dir/filer.sock" \
	-s3 -s3.config="$dir/s3.json" -s3.port="$p" -s3.port.grpc=$((p + 10)) \
	-s3.port.iceberg=0 -s3.port.lance=0 -s3.localSocket="$dir/s3.sock" \
	-webdav=false -sftp=false >"$dir/weed.log" 2>&1 &
echo $! >"$dir/weed.pid"
# Listing answers before the master has elected itself leader and before the volume server has
# joined it; a write succeeds after both. 60 s in all.
deadline=$((SECONDS + 60))
while [ $SECONDS -lt $deadline ]; do
	kill -0 "$(cat "$dir/weed.pid")" 2>/dev/null || { tail -n 20 "$dir/weed.log" >&2; die "weed server exited (log: $dir/weed.log)"; }
	if answers; then
		writes && { echo "$endpoint"; exit 0; }
	fi
	sleep 0.2
done
# Not left running when it failed: it would hold the ports.
trap 'stop_pidfile "$dir/weed.pid" weed' EXIT
answers && refuses_writes
tail -n 20 "$dir/weed.log" >&2
die "SeaweedFS S3 did not answer on $endpoint within 60 s (log: $dir/weed.log)"
