#!/usr/bin/env bash
# Set up everything, load the demo zone and serve the map at http://127.0.0.1:5000
# (LANDMAP_HOST / LANDMAP_PORT change where).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
.venv/bin/python -m landmap db upgrade
.venv/bin/python -m landmap demo
.venv/bin/python -m landmap users demo-accounts
exec .venv/bin/python -m landmap serve --host "${LANDMAP_HOST:-127.0.0.1}" --port "${LANDMAP_PORT:-5000}"
