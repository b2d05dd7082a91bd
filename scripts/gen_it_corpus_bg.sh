#!/usr/bin/env bash
# Start (or resume) the long it_corpus generation run in the background; its log goes to runs/logs/.
# LLM_THREADS=1 keeps llama.cpp on one core while other CPU work runs: its threads stall badly when they
# outnumber free cores (14 tokens/s with 2 free cores, under 1 token/s with 2 threads beside an eval).
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/logs
export E5_MODEL="${E5_MODEL:-$(PATH=$PWD/.venv/bin:$PATH ../shared/tools/get-e5-small)}"
export LLM_GGUF="${LLM_GGUF:-$(../shared/tools/get-small-llm)}"
export LLAMA_SERVER="${LLAMA_SERVER:-$PWD/.venv/llama-server/bin/llama-server}"
export LLM_THREADS="${LLM_THREADS:-1}"
setsid nohup .venv/bin/python -m pipeline.run --stage generate --config configs/it_corpus.yaml "$@" \
  >> runs/logs/gen_it_corpus.log 2>&1 &
echo "generation started (pid $!): tail -f runs/logs/gen_it_corpus.log; stop with kill -TERM $!"
