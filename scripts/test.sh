#!/usr/bin/env bash
# Set up .venv if needed, then run the test suite (offline, a few minutes on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
.venv/bin/python -m pytest -q "$@"
