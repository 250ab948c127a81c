#!/usr/bin/env bash
# The GPU run: the whole training pipeline, then the export, in one command.
#   encoder/training/gpu_run.sh DATA_DIR OUT_DIR PRETRAIN_SECONDS FINETUNE_SECONDS [more encoder.training.pipeline run flags]
# DATA_DIR: made by scripts/prepare_gpu_data.py (travels with the checkout, named in `carry`).
# OUT_DIR:  gets the float16 checkpoint in parts of <= 15 MiB and one archive with config, tokenizer
#           and logs; rebuild it with `python3 -m encoder.training.pipeline assemble OUT_DIR CHECKPOINT_DIR`.
# Scratch (shards, full-precision checkpoints) goes to $WORK_DIR, default a fresh temporary folder.
set -euo pipefail
source "$(dirname "$0")/gpu_common.sh"
gpu_start "$0 DATA_DIR OUT_DIR PRETRAIN_SECONDS FINETUNE_SECONDS [flags]" 4 "$@"
data=$1 pretrain=$3 finetune=$4
shift 4
gpu_logged pipeline python3 -m encoder.training.pipeline run --data "$data" --work "$work" --out "$out" \
  --pretrain-budget "$pretrain" --finetune-budget "$finetune" "$@"
