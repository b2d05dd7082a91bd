#!/usr/bin/env bash
# Create .venv (if missing) and install the project into it. Usage: scripts/setup_env.sh [EXTRAS], e.g. "dev,llamacpp".
# torch is installed first, pinned, so that no dependency pulls the multi-GB CUDA build on a CPU machine;
# set TORCH_SPEC (e.g. TORCH_SPEC=torch) to choose another build.
set -euo pipefail
cd "$(dirname "$0")/.."
extras="${1:-dev}"
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
  .venv/bin/pip install -q --upgrade pip
fi
.venv/bin/python -c "import torch" 2>/dev/null || .venv/bin/pip install -q "${TORCH_SPEC:-torch==2.13.0}"
.venv/bin/pip install -q -e ".[${extras}]"
