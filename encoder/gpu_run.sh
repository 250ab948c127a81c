#!/usr/bin/env bash
# The GPU run: the whole training pipeline, then the export, in one command.
#   encoder/gpu_run.sh DATA_DIR OUT_DIR PRETRAIN_SECONDS FINETUNE_SECONDS [more encoder.pipeline run flags]
# DATA_DIR: made by scripts/prepare_gpu_data.sh (travels with the checkout, named in `carry`).
# OUT_DIR:  gets the float16 checkpoint in parts of <= 15 MiB and one archive with config, tokenizer
#           and logs; rebuild it with `python3 -m encoder.pipeline assemble OUT_DIR CHECKPOINT_DIR`.
# Scratch (shards, full-precision checkpoints) goes to $WORK_DIR, default a fresh temporary folder.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 4 ]; then
  echo "usage: $0 DATA_DIR OUT_DIR PRETRAIN_SECONDS FINETUNE_SECONDS [flags]" >&2
  exit 2
fi
data=$1 out=$2 pretrain=$3 finetune=$4
shift 4
work=${WORK_DIR:-$(mktemp -d)}
mkdir -p "$out" "$work"
export PYTHONUNBUFFERED=1
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
python3 -m encoder.pipeline run --data "$data" --work "$work" --out "$out" \
  --pretrain-budget "$pretrain" --finetune-budget "$finetune" "$@" 2>&1 | tee "$work/pipeline.log"
cp "$work/pipeline.log" "$out/pipeline.log"
