#!/usr/bin/env bash
# `manage.py adapt`'s training on the GPU machine, from a folder `manage.py adapt --export` wrote.
#   encoder/training/gpu_adapt.sh EXPORT_DIR OUT_DIR [python3 -m encoder.training adapt flags, e.g. --budget 300]
# OUT_DIR: the adapted model as float16 weights in parts of <= 15 MiB plus one archive (config, tokenizer,
#          its record and log), adapt.log, and, when the export carries the passages (`--export --passages`),
#          their new vectors in files of 25,000 (12.8 MB at 256 dimensions; a device call brings back 8 files);
#          take it all into the instance with `manage.py adapt --from OUT_DIR`.
set -euo pipefail
source "$(dirname "$0")/gpu_common.sh"
gpu_start "$0 EXPORT_DIR OUT_DIR [flags]" 2 "$@"
data=$1
shift 2
gpu_logged adapt python3 -m encoder.training adapt --data "$data" --out "$work/adapt" --parts "$out" --quiet "$@"
