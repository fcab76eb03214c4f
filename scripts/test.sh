#!/usr/bin/env bash
# Set up everything and run the whole test suite: ruff, the vendored-asset check, pytest
# (real PostGIS and headless Chromium). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh --test
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/python scripts/fetch_vendor.py --check
exec .venv/bin/python -m pytest "$@"
