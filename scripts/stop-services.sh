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
# still the program we started (a pid may have been reused since). The stop_*
# functions and the settings they use are in scripts/services/<name>.sh.
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
