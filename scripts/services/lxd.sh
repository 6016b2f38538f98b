# shellcheck shell=bash
# lxd: the LXD daemon, a `dir` storage pool and the image alias ccp-busybox.
# Sourced after common.sh.

LXD_LOG=/tmp/ccp-lxd.log
LXD_PIDFILE=/tmp/ccp-lxd.pid
LXD_IMAGE=ccp-busybox
LXD_POOL=default

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

# Lines of /tmp/ccp-services.env.
lxd_env() { echo "export CCP_TEST_LXD_IMAGE=$LXD_IMAGE"; }

stop_lxd() {
    local pid
    pid=$(pid_of "$LXD_PIDFILE" lxd)
    if [ -z "$pid" ]; then
        # An LXD we did not start (e.g. a system service) is left alone.
        log "lxd: no LXD started by start-services.sh is running"
        return 0
    fi
    if [ "$PURGE" = 1 ]; then
        lxc image delete "$LXD_IMAGE" >/dev/null 2>&1 && log "lxd: deleted image $LXD_IMAGE" || true
    fi
    # `lxd shutdown` stops the containers cleanly, then the daemon.
    log "lxd: shutting down LXD (pid $pid)"
    lxd shutdown --timeout 60 >/dev/null 2>&1 || stop_pid lxd "$pid" 30
    stop_pid lxd "$pid" 30   # no-op when it is already gone
    rm -f "$LXD_PIDFILE"
}
