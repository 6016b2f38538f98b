# shellcheck shell=bash
# swarm: the dockerd of docker.sh as a single-node swarm manager.
# Sourced after common.sh and docker.sh (it uses that dockerd).

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

# swarm needs dockerd (probing it again is cheap).
start_docker_then_swarm() {
    docker_up || start_docker
    start_swarm
}

# Two one-shot tasks must both reach "Complete". The image exists only
# locally, hence --no-resolve-image (no registry lookup of its digest), and
# --detach because a service with --restart-condition none never "converges".
verify_swarm() {
    local name="ccp-smoke-$$" states deadline=$((SECONDS + 60))
    # shellcheck disable=SC2016  # expanded inside the container
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

stop_swarm() {
    if "${DOCKER[@]}" info >/dev/null 2>&1; then
        "${DOCKER[@]}" swarm leave --force >/dev/null 2>&1 && log "swarm: left the swarm" ||
            log "swarm: not in a swarm"
    else
        log "swarm: dockerd not running (its swarm state stays in $DOCKER_DATA)"
    fi
}
