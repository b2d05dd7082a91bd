#!/usr/bin/env bash
# Start (or resume) the SQuAD-it adaptation proof's dataset run in the background (README "Adapt e5-small to your own
# documents"): the 2,007 SQuAD-it paragraphs (never its questions) -> queries from the local GGUF -> dataset in
# runs/squad_it_adapt. Finished LLM replies go to data/replies/squad_it_adapt (commit them): a rerun, here or on
# another machine, sends only the paragraphs they do not cover. Stop with kill -TERM <pid>: finished chunks are kept.
#   LLM_THREADS=1 bash scripts/adapt_squad_it_bg.sh          # one llama.cpp thread, beside other CPU work
#   bash scripts/adapt_squad_it_bg.sh --max-passages 800     # a first, cheaper round
#   PROOF=1 bash scripts/adapt_squad_it_bg.sh                # then the proof: train at lr 2e-5 (the pilot's, see
#     results/squad_it_adapt/pilot_750), evaluate on the 7,609 real questions and on the news test split (forgetting)
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p runs/logs
E5_MODEL="${E5_MODEL:-$(PATH=$PWD/.venv/bin:$PATH ../shared/tools/get-e5-small)}"
LLM_GGUF="${LLM_GGUF:-$(../shared/tools/get-small-llm)}"
export LLAMA_SERVER="${LLAMA_SERVER:-$PWD/.venv/llama-server/bin/llama-server}"
if [ "${PROOF:-0}" = 1 ]; then
  step=(--learning-rate 2e-5 --real-queries ../shared/eval/squad_it_test --guard-set data/datasets/it_corpus)
else
  step=(--stop-after dataset)
fi
setsid nohup .venv/bin/python -m pipeline.adapt ../shared/eval/squad_it_test/corpus.jsonl --name squad_it_adapt \
  --id-key _id --gguf "$LLM_GGUF" --llm-threads "${LLM_THREADS:-2}" --base-model "$E5_MODEL" \
  --reply-store data/replies/squad_it_adapt "${step[@]}" "$@" >> runs/logs/adapt_squad_it.log 2>&1 &
echo "adaptation run started (pid $!): tail -f runs/logs/adapt_squad_it.log; stop with kill -TERM $!"
