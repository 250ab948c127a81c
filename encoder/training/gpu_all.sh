#!/usr/bin/env bash
# The whole recipe in one GPU call: pretrain from scratch, export the pretrained-only checkpoint (heads
# included), run the fine-tuning recipe from it on the redistributable pairs alone, so the model that
# comes back has a lineage a shipped model may have, then train a reranker from the same pretrained
# checkpoint (its NSP head starts the pair score) on the redistributable groups with hard negatives.
#   encoder/training/gpu_all.sh DATA_DIR OUT_DIR PRETRAIN_SECONDS RECIPE_SECONDS RERANK_SECONDS [pipeline run flags]
#                               [-- recipe flags [-- train-reranker flags]]
# DATA_DIR: made by scripts/prepare_gpu_data.py (wikipedia/*.xz, pairs.jsonl.xz, stsb/, the NFCorpus dev and SciFact
#           train folders with their BM25 lists) and scripts/mine_rerank_pairs.py (rerank_pairs.jsonl.xz;
#           RERANK_SECONDS 0 skips the reranker and does not need it).
# OUT_DIR:  bundle.tar.partNN (<= 15 MiB each: one device call brings back at most 8 files, 64 MiB in all), holding
#           pretrained/ and recipe/ as pipeline.py and recipe.py export them (recipe/variants/ last), and reranker/ (a reranker
#           folder, with its log and eval.json: NFCorpus dev, BM25's top 30 reranked). Unpack with
#           `cat OUT_DIR/bundle.tar.part* | tar -x -C DIR`, then `python3 -m encoder.training.pipeline
#           assemble DIR/recipe CHECKPOINT` (and the same for DIR/pretrained).
set -euo pipefail
started=$(date +%s.%N)
source "$(dirname "$0")/gpu_common.sh"
gpu_start "$0 DATA_DIR OUT_DIR PRETRAIN_SECONDS RECIPE_SECONDS RERANK_SECONDS [pipeline flags] [-- recipe flags [-- reranker flags]]" 5 "$@"
data=$1 pretrain=$3 recipe=$4 rerank=$5
shift 5
pipeline_flags=() recipe_flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do pipeline_flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
while [ $# -gt 0 ] && [ "$1" != "--" ]; do recipe_flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
bundle=$out
out=$work/export  # gpu_logged copies each log here too, so the bundle holds them
mkdir -p "$out"
bundle_up() {  # on every exit: what a failed run left, logs included, still comes back
  # A device call brings back 64 MiB at most (the first four parts), so the recipe's extra variants
  # (--export-variants) go last: a bundle too big loses them, never the logs, the model or the pretrained one.
  (cd "$out" && find . -type f | awk '{ print (/\/variants\//) ? "1 " $0 : "0 " $0 }' | sort -n -s | cut -d' ' -f2- | tar -cf - -T -) \
    | split -b 15M -d - "$bundle/bundle.tar.part"
  local mib=$(( $(du -cb "$bundle"/bundle.tar.part* | tail -1 | cut -f1) / 1048576 ))
  echo "bundled $mib MiB into $(ls "$bundle" | wc -l) parts at $(python3 -c "import time; print(round(time.time() - $started))") s"
  [ "$mib" -lt 64 ] || echo "warning: over the 64 MiB a device call brings back; what is past part03 (variants first) stays behind"
}
trap bundle_up EXIT
gpu_logged pipeline python3 -m encoder.training.pipeline run --data "$data" --work "$work" --out "$out/pretrained" \
  --pretrain-budget "$pretrain" --finetune-budget 0 "${pipeline_flags[@]}"
# The recipe's clock starts now, so that RECIPE_SECONDS is its own whatever pretraining cost.
gpu_logged recipe python3 -m encoder.training.recipe --data "$data" --init "$work/pretrain/checkpoint" --work "$work/recipe" \
  --out "$out/recipe" --seconds "$recipe" --pairs "$data/pairs.jsonl.xz" "${recipe_flags[@]}"
if [ "$rerank" != 0 ]; then
  gpu_logged reranker python3 -m encoder.training train-reranker --init "$work/pretrain/checkpoint" --out "$work/reranker" \
    --pairs "$data/rerank_pairs.jsonl.xz" --budget "$rerank" --dev "$data/nfcorpus_dev" --save-dtype float16 "$@"
  cp -r "$work/reranker/checkpoint" "$out/reranker"
  cp "$work/reranker/reranker_log.jsonl" "$work/reranker/eval.json" "$out/reranker/"
fi
