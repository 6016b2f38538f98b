#!/usr/bin/env bash
# Install everything the tests need (Debian packages, .venv, Docker + Swarm, LXD, S3,
# PostgreSQL), start those services, then run the whole test suite against them.
set -euo pipefail
cd "$(dirname "$0")"
export CCP_VENV="${CCP_VENV:-$PWD/.venv}"

bash scripts/install-system-packages.sh
if [ ! -x "$CCP_VENV/bin/pytest" ] || [ setup.cfg -nt "$CCP_VENV/bin/pytest" ]; then
    python3 -m venv "$CCP_VENV"
    "$CCP_VENV/bin/pip" install --quiet --upgrade pip
    "$CCP_VENV/bin/pip" install --quiet -e '.[test]'
    touch "$CCP_VENV/bin/pytest"
fi
bash scripts/vendor-web.sh
bash scripts/start-services.sh all
# shellcheck disable=SC1091
source /tmp/ccp-services.env

"$CCP_VENV/bin/ruff" check ccp tests bench qgis
"$CCP_VENV/bin/mypy"
exec "$CCP_VENV/bin/pytest" -p no:cacheprovider "$@"
