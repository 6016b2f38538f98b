#!/usr/bin/env bash
# Stop the services that scripts/start-services.sh started (for developers;
# CI machines are simply thrown away).
#
# Usage: scripts/stop-services.sh [--purge] [docker|swarm|lxd|s3|postgres|all]...
#   all (default)  stop dockerd, LXD, SeaweedFS and PostgreSQL; their data
#                  (images, swarm state, buckets, databases) is kept for the
#                  next start.
#   swarm          make the node leave the swarm (dockerd keeps running).
#   --purge        also delete the data dirs in /tmp and the LXD test image,
#                  so that the next start builds everything anew.
#
# Only processes recorded in our pidfiles are signalled, and only if they are
# still the program we started (a pid may have been reused since).
set -euo pipefail

# --- settings (kept in step with scripts/start-services.sh) -------------------
DOCKER_SOCK=/tmp/ccp-docker.sock
DOCKER_DATA=/tmp/ccp-docker
DOCKER_PIDFILE=/tmp/ccp-docker.pid
LXD_PIDFILE=/tmp/ccp-lxd.pid
LXD_IMAGE=ccp-busybox
SEAWEED_DIR=/tmp/ccp-seaweed
SEAWEED_PIDFILE=/tmp/ccp-seaweed.pid
PG_PORT=55432
PG_ROOT=/tmp/ccp-pg
PG_DATA=$PG_ROOT/data
ENV_FILE=/tmp/ccp-services.env

DOCKER=(docker -H "unix://$DOCKER_SOCK")

log() { printf '[ccp-services] %s\n' "$*"; }

# The pid in PIDFILE if that process is alive (not a zombie) and runs COMMAND,
# else nothing.
pid_of() {
    local pidfile=$1 command=$2 pid
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    local stat
    stat=$(ps -o stat=,comm= -p "$pid" 2>/dev/null) || return 0
    # A zombie is already dead: nothing to stop.
    [[ "$stat" != Z* && "$stat" == *" $command" ]] && echo "$pid"
    return 0
}

# Alive and not a zombie (an exited daemon whose parent has not reaped it yet
# still passes `kill -0`).
alive() {
    local stat
    stat=$(ps -o stat= -p "$1" 2>/dev/null) && [[ "$stat" != Z* ]]
}

# stop_pid NAME PID TIMEOUT: SIGTERM, wait up to TIMEOUT seconds, then SIGKILL.
stop_pid() {
    local name=$1 pid=$2 timeout=$3 deadline
    kill -TERM "$pid" 2>/dev/null || return 0
    deadline=$((SECONDS + timeout))
    while alive "$pid"; do
        if [ "$SECONDS" -ge "$deadline" ]; then
            log "$name: still running after ${timeout}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            sleep 0.5
            break
        fi
        sleep 0.2
    done
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

stop_swarm() {
    if "${DOCKER[@]}" info >/dev/null 2>&1; then
        "${DOCKER[@]}" swarm leave --force >/dev/null 2>&1 && log "swarm: left the swarm" ||
            log "swarm: not in a swarm"
    else
        log "swarm: dockerd not running (its swarm state stays in $DOCKER_DATA)"
    fi
}

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
    # these are the ones for the ports start-services.sh gives it.
    rm -f /tmp/seaweedfs-*-{8333,18333,8335,18335,8336,18336,9333,19333}.sock
    if [ "$PURGE" = 1 ] && [ -d "$SEAWEED_DIR" ]; then
        rm -rf "$SEAWEED_DIR"
        log "s3: removed $SEAWEED_DIR"
    fi
}

stop_postgres() {
    local pgbin
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)
    if [ -n "$pgbin" ] && [ -f "$PG_DATA/postmaster.pid" ]; then
        log "postgres: stopping (port $PG_PORT)"
        local as_pg=()
        [ "$(id -u)" -ne 0 ] || as_pg=(runuser -u postgres --)
        "${as_pg[@]}" "$pgbin/pg_ctl" -D "$PG_DATA" -m fast -w -t 60 stop >/dev/null ||
            log "postgres: pg_ctl stop failed"
    else
        log "postgres: not running"
    fi
    if [ "$PURGE" = 1 ] && [ -d "$PG_ROOT" ]; then
        rm -rf "$PG_ROOT"
        log "postgres: removed $PG_ROOT"
    fi
}

PURGE=0
ALL=0
services=()
for arg in "$@"; do
    case "$arg" in
        --purge) PURGE=1 ;;
        all) ALL=1; services+=(docker lxd s3 postgres) ;;
        docker|swarm|lxd|s3|postgres) services+=("$arg") ;;
        *) echo "usage: $0 [--purge] [docker|swarm|lxd|s3|postgres|all]..." >&2; exit 2 ;;
    esac
done
[ "${#services[@]}" -gt 0 ] || { ALL=1; services=(docker lxd s3 postgres); }

# Each in a subshell (with errexit, which `( ... ) || ...` would turn off):
# one that fails does not keep the others running.
failed=()
for s in "${services[@]}"; do
    set +e
    ( set -e; "stop_$s" )
    rc=$?
    set -e
    [ "$rc" -eq 0 ] || { log "$s: FAILED to stop cleanly" >&2; failed+=("$s"); }
done
if [ "$PURGE" = 1 ] && [ "$ALL" = 1 ]; then rm -f "$ENV_FILE"; fi
[ "${#failed[@]}" -eq 0 ] || exit 1
