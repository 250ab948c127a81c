#!/usr/bin/env bash
# The GPU fine-tuning run: several recipe variants from one checkpoint, each evaluated on development
# sets, the best one exported; everything inside TOTAL_SECONDS from this script's start.
#   encoder/training/gpu_finetune.sh DATA_DIR OUT_DIR INIT_CHECKPOINT TOTAL_SECONDS [more encoder.training.recipe flags]
# DATA_DIR: the pairs file(s) (*pairs*.jsonl.xz), stsb/sts-dev.csv, a BEIR dev folder (NFCorpus dev)
#           and optionally wikipedia/*.xz for the label-free stage; made by scripts/prepare_gpu_data.py.
# OUT_DIR:  eval.json (every variant's figures), recipe.log, and the best checkpoint as float16 parts of
#           <= 15 MiB plus one archive; rebuild it with `python3 -m encoder.training.pipeline assemble OUT_DIR DIR`.
# Scratch (full-precision checkpoints of every stage) goes to $WORK_DIR, default a fresh temporary folder.
set -euo pipefail
started=$(date +%s.%N)
source "$(dirname "$0")/gpu_common.sh"
gpu_start "$0 DATA_DIR OUT_DIR INIT_CHECKPOINT TOTAL_SECONDS [flags]" 4 "$@"
data=$1 init=$3 seconds=$4
shift 4
gpu_logged recipe python3 -m encoder.training.recipe --data "$data" --init "$init" --work "$work" --out "$out" \
  --seconds "$seconds" --started "$started" "$@"
