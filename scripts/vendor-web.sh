#!/usr/bin/env bash
# Vendor the web pages' third-party code into the package, from the npm registry, at build
# time: Leaflet (the GeoJSON preview's map) into ccp/web/static/vendor/leaflet/. Nothing is
# loaded from a CDN when the pages run. The folder is git-ignored; run.sh and test.sh call
# this script, which does nothing when the pinned version is already there.
#
# Usage: scripts/vendor-web.sh          (needs node + npm: Debian's `npm`, or Node.js's own)
set -euo pipefail
cd "$(dirname "$0")/.."

LEAFLET_VERSION=1.9.4
# The registry's dist.integrity of that version: a tarball with other bytes is refused.
LEAFLET_INTEGRITY="sha512-nxS1ynzJOmOlHp+iL3FyWqK89GtNL8U8rvlMOsQdTTssxZwCXh8N2NB3GDQOL+YR3XnWyZAxwQixURb+FA74PA=="
TARGET=ccp/web/static/vendor/leaflet

log() { printf '[vendor-web] %s\n' "$*"; }

if [ "$(cat "$TARGET/VERSION" 2>/dev/null || true)" = "$LEAFLET_VERSION" ] \
        && [ -f "$TARGET/leaflet.js" ] && [ -f "$TARGET/leaflet.css" ]; then
    exit 0
fi
if ! command -v npm >/dev/null 2>&1; then
    if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
        log "npm is missing: installing Debian's npm"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends npm \
            </dev/null >/dev/null
    else
        log "ERROR: npm is needed to vendor Leaflet (apt-get install npm)" >&2
        exit 1
    fi
fi

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
log "fetching leaflet@$LEAFLET_VERSION from the npm registry"
(cd "$work" && npm pack --silent "leaflet@$LEAFLET_VERSION" >/dev/null)
tarball="$work/leaflet-$LEAFLET_VERSION.tgz"
integrity="sha512-$(python3 -c 'import base64, hashlib, sys
print(base64.b64encode(hashlib.sha512(open(sys.argv[1], "rb").read()).digest()).decode())' \
    "$tarball")"
if [ "$integrity" != "$LEAFLET_INTEGRITY" ]; then
    log "ERROR: leaflet-$LEAFLET_VERSION.tgz is not the published one ($integrity)" >&2
    exit 1
fi
tar -xzf "$tarball" -C "$work"
rm -rf "$TARGET"
mkdir -p "$TARGET"
cp "$work/package/dist/leaflet.js" "$work/package/dist/leaflet.css" "$TARGET/"
cp -r "$work/package/dist/images" "$TARGET/images"
cp "$work/package/LICENSE" "$TARGET/LICENSE"
echo "$LEAFLET_VERSION" > "$TARGET/VERSION"
log "Leaflet $LEAFLET_VERSION is in $TARGET"
