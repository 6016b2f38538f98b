#!/usr/bin/env bash
# Install CCP into .venv (first run only) and serve it on the embedded default:
# local process runtime, SQLite job store, archives on local disk, the example Methods.
set -euo pipefail
cd "$(dirname "$0")"
VENV="${CCP_VENV:-.venv}"
if [ ! -x "$VENV/bin/ccp" ] || [ setup.cfg -nt "$VENV/bin/ccp" ]; then
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet --upgrade pip
    "$VENV/bin/pip" install --quiet -e .
    touch "$VENV/bin/ccp"
fi
bash scripts/vendor-web.sh  # Leaflet for the web pages, from the npm registry (once)
exec "$VENV/bin/ccp" serve --config pygeoapi-config.yml "$@"
