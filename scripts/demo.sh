#!/usr/bin/env bash
# Set up .venv if needed, then run the whole pipeline on the bundled sample (configs/demo.yaml):
# ingest -> passages -> generate (llama.cpp's llama-server, built here once) -> filter -> mine -> split -> publish.
#
# Models come from the Hugging Face Hub (intfloat/multilingual-e5-small and a small Qwen2.5 GGUF). Offline, set
# E5_MODEL and LLM_GGUF to local copies; next to this project's ../shared folder they are built automatically.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_env.sh dev
if [ -z "${LLAMA_SERVER:-}" ] && ! command -v llama-server >/dev/null; then
  LLAMA_SERVER="$(bash scripts/setup_llama_server.sh)"; export LLAMA_SERVER
fi
shared="$(cd .. && pwd)/shared/tools"
if [ -z "${E5_MODEL:-}" ] && [ -x "$shared/get-e5-small" ]; then
  E5_MODEL="$(PATH="$PWD/.venv/bin:$PATH" "$shared/get-e5-small")"; export E5_MODEL
fi
if [ -z "${LLM_GGUF:-}" ] && [ -x "$shared/get-small-llm" ]; then
  LLM_GGUF="$(PATH="$PWD/.venv/bin:$PATH" "$shared/get-small-llm")"; export LLM_GGUF
fi
.venv/bin/python -m pipeline.run --stage all "$@"
