#!/usr/bin/env bash
# The proof: fine-tune e5-small on the committed dataset in several variants and evaluate them all against the base
# and BM25, in one evaluation run, on the dataset's unbiased test split and on all of SQuAD-it.
#
#   E5_MODEL=$(../shared/tools/get-e5-small) bash scripts/proof.sh            # everything (CPU: hours)
#   VARIANTS="recipe longer" bash scripts/proof.sh                            # some variants only ("": none)
#   DATASET=data/datasets/it_corpus RESULTS=results/proof bash scripts/proof.sh
#   CARD=longer bash scripts/proof.sh      # then: write the tables into that variant's model card (README.md)
#   SMALL=0 bash scripts/proof.sh          # without the smaller models below
#   EXTRA_MODELS="mine=runs/train/mine/final" bash scripts/proof.sh       # more models (NAME=PATH) in the same run
#
# With SMALL=1 (the default) the same evaluation also holds the base trimmed to the Italian vocabulary (trim60k:
# training.trim --vocab-size 60000 on ../shared/data/it_corpus) and the ONNX int8 exports (training.onnx_export) of
# the base and of the trimmed model: size, passages/s and NDCG@10 side by side with the torch fp32 rows.
#
# Resumable: a variant whose model is finished is not trained again, one killed mid-training resumes from its last
# checkpoint (training.train), and eval.run keeps each finished model's rows
# (results/.../finished/), so rerunning the same command after a stop goes on where it stopped. Training runs on the
# GPU when there is one (training.device: auto), otherwise on the CPU; the variants:
#   recipe     configs/train_cpu_proof.yaml as it is (1 epoch, lr 1e-5, 2 mined negatives, InfoNCE scale 100, no
#              Matryoshka: the settings that did not forget on SQuAD-it, results/squad_it_adapt/ablation)
#   matryoshka the recipe inside MatryoshkaLoss (384/256/128/64): smaller sizes against full-size forgetting
#   longer     4 epochs at lr 2e-5, 2 mined negatives, WiSE-FT weight chosen on dev among 0.25/0.5/0.75/1
#   no_neg     as longer, without mined negatives (in-batch negatives only)
#   keywords   as longer, keyword queries only
#   questions  as longer, question queries only
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PY:-.venv/bin/python}"
E5_MODEL="${E5_MODEL:?set E5_MODEL to the base model (a folder, or intfloat/multilingual-e5-small with the Hub)}"
DATASET="${DATASET:-data/datasets/it_corpus}"
SQUAD="${SQUAD:-../shared/eval/squad_it_test}"
OUT="${OUT:-runs/proof}"
RESULTS="${RESULTS:-results/proof}"
VARIANTS="${VARIANTS-recipe matryoshka longer no_neg keywords questions}"  # VARIANTS="": none (small models only)

longer=(--epochs 4 --set training.learning_rate=2e-5 --set "training.wise_ft_alphas=[0.25,0.5,0.75,1.0]")
settings() {
  case "$1" in
    recipe) ;;
    matryoshka) echo --set "loss.matryoshka_dims=[384,256,128,64]" ;;
    longer) echo "${longer[@]}" ;;
    no_neg) echo "${longer[@]}" --set data.num_negatives=0 ;;
    keywords) echo "${longer[@]}" --set "data.styles=[keywords]" ;;
    questions) echo "${longer[@]}" --set "data.styles=[question]" ;;
    *) echo "error: unknown variant '$1' (recipe matryoshka longer no_neg keywords questions)" >&2; exit 2 ;;
  esac
}

models=("base=$E5_MODEL")
for variant in $VARIANTS; do
  args=$(settings "$variant")
  if [ ! -f "$OUT/$variant/final/modules.json" ]; then
    echo "== training $variant ($(date +%H:%M))"
    # shellcheck disable=SC2086  # the settings are separate words on purpose
    "$PY" -m training.train --config configs/train_cpu_proof.yaml --model "$E5_MODEL" --dataset "$DATASET" \
      --output-dir "$OUT/$variant" $args
  fi
  models+=("$variant=$OUT/$variant/final")
done

if [ "${SMALL:-1}" = 1 ]; then
  trim="$OUT/trim60k"
  if [ ! -f "$trim/modules.json" ]; then
    echo "== trimming the base's vocabulary ($(date +%H:%M))"
    "$PY" -m training.trim --model "$E5_MODEL" --texts "${TRIM_TEXTS:-../shared/data/it_corpus}" --vocab-size 60000 \
      --output "$trim" --check "$SQUAD"
  fi
  for pair in "base_int8=$E5_MODEL=$OUT/onnx/base" "trim60k_int8=$trim=$OUT/onnx/trim60k"; do
    IFS== read -r name source target <<<"$pair"
    if [ ! -f "$target/onnx/model_qint8.onnx" ]; then
      echo "== ONNX int8 export of $source ($(date +%H:%M))"
      "$PY" -m training.onnx_export --model "$source" --output "$target" --force
    fi
  done
  models+=("trim60k=$trim" "base_int8=$OUT/onnx/base/onnx/model_qint8.onnx"
           "trim60k_int8=$OUT/onnx/trim60k/onnx/model_qint8.onnx")
fi

# shellcheck disable=SC2206  # NAME=PATH words, split on purpose
models+=(${EXTRA_MODELS:-})
sets=("test=$DATASET")
[ -d "$SQUAD" ] && sets+=("squad_it=$SQUAD") || echo "note: $SQUAD not found: evaluating on the test split only" >&2
echo "== evaluating ${#models[@]} models ($(date +%H:%M))"
card=()
[ -n "${CARD:-}" ] && card=(--card "$CARD")
"$PY" -m eval.run --models "${models[@]}" --sets "${sets[@]}" --dims 128 64 --output-dir "$RESULTS" "${card[@]}"
