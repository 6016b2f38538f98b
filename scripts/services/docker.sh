# shellcheck shell=bash
# docker: dockerd on unix:///tmp/ccp-docker.sock (data in /tmp/ccp-docker)
# + the local-only image ccp/busybox:1. Sourced after common.sh.

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

DOCKER=(docker -H "unix://$DOCKER_SOCK")

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
        build_docker_image
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

# The test image, made from busybox-static (there is no registry to pull from).
build_docker_image() {
    log "docker: building $DOCKER_IMAGE from busybox-static"
    local tmp
    tmp=$(mktemp -d /tmp/ccp-rootfs.XXXXXX)
    make_busybox_rootfs "$tmp/rootfs"
    tar -C "$tmp/rootfs" -c . | "${DOCKER[@]}" import \
        -c 'ENV PATH=/usr/sbin:/usr/bin:/sbin:/bin' -c 'CMD ["sh"]' \
        -m 'CCP test image: busybox-static' - "$DOCKER_IMAGE" >/dev/null ||
        { rm -rf "$tmp"; fail docker "docker import of $DOCKER_IMAGE failed" "$DOCKER_LOG"; }
    rm -rf "$tmp"
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

# Lines of /tmp/ccp-services.env.
docker_env() {
    echo "export DOCKER_HOST=unix://$DOCKER_SOCK"
    echo "export CCP_TEST_DOCKER_IMAGE=$DOCKER_IMAGE"
}

stop_docker() {
    local pid
    pid=$(pid_of "$DOCKER_PIDFILE" dockerd)
    if [ -z "$pid" ]; then
        log "docker: not running"
    else
        # dockerd stops its containers first (10 s grace each, in parallel).
        log "docker: stopping dockerd (pid $pid)"
        stop_pid docker "$pid" 60
    fi
    rm -f "$DOCKER_PIDFILE"
    if [ "$PURGE" = 1 ] && [ -d "$DOCKER_DATA" ]; then
        # dockerd bind-mounts its data root onto itself and leaves it (and,
        # when killed, container overlay mounts below it) mounted: unmount,
        # deepest first, or rm fails with "Device or resource busy".
        awk -v d="$DOCKER_DATA" '$2 == d || index($2, d "/") == 1 { print length($2), $2 }' /proc/mounts |
            sort -rn | cut -d' ' -f2- | while read -r m; do umount -l "$m" 2>/dev/null || true; done
        rm -rf "$DOCKER_DATA"
        log "docker: removed $DOCKER_DATA"
    fi
}
