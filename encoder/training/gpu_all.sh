#!/usr/bin/env bash
# The whole recipe in one GPU call: pretrain from scratch, export the pretrained-only checkpoint (heads
# included), then run the fine-tuning recipe from it on the redistributable pairs alone, so the model
# that comes back has a lineage a shipped model may have.
#   encoder/training/gpu_all.sh DATA_DIR OUT_DIR PRETRAIN_SECONDS RECIPE_SECONDS [pipeline run flags] [-- recipe flags]
# DATA_DIR: made by scripts/prepare_gpu_data.py (wikipedia/*.xz, pairs.jsonl.xz, stsb/, the NFCorpus dev folder).
# OUT_DIR:  bundle.tar.partNN (<= 15 MiB each: one device call brings back at most 8 files), holding
#           pretrained/ and recipe/ as pipeline.py and recipe.py export them. Unpack with
#           `cat OUT_DIR/bundle.tar.part* | tar -x -C DIR`, then `python3 -m encoder.training.pipeline
#           assemble DIR/recipe CHECKPOINT` (and the same for DIR/pretrained).
set -euo pipefail
started=$(date +%s.%N)
source "$(dirname "$0")/gpu_common.sh"
gpu_start "$0 DATA_DIR OUT_DIR PRETRAIN_SECONDS RECIPE_SECONDS [pipeline flags] [-- recipe flags]" "$@"
data=$1 pretrain=$3 recipe=$4
shift 4
pipeline_flags=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do pipeline_flags+=("$1"); shift; done
[ $# -gt 0 ] && shift
bundle=$out
out=$work/export  # gpu_logged copies each log here too, so the bundle holds them
mkdir -p "$out"
bundle_up() {  # on every exit: what a failed run left, logs included, still comes back
  tar -C "$out" -cf - . | split -b 15M -d - "$bundle/bundle.tar.part"
  echo "bundled $(du -sh "$out" | cut -f1) into $(ls "$bundle" | wc -l) parts at $(python3 -c "import time; print(round(time.time() - $started))") s"
}
trap bundle_up EXIT
gpu_logged pipeline python3 -m encoder.training.pipeline run --data "$data" --work "$work" --out "$out/pretrained" \
  --pretrain-budget "$pretrain" --finetune-budget 0 "${pipeline_flags[@]}"
# The recipe's clock starts now, so that RECIPE_SECONDS is its own whatever pretraining cost.
gpu_logged recipe python3 -m encoder.training.recipe --data "$data" --init "$work/pretrain/checkpoint" --work "$work/recipe" \
  --out "$out/recipe" --seconds "$recipe" --pairs "$data/pairs.jsonl.xz" "$@"
