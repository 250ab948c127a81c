# Sourced by the GPU scripts (gpu_run.sh, gpu_finetune.sh): the part every GPU run shares.
#   gpu_start USAGE N "$@" checks for N arguments at least, enters the repository, makes $out and $work
#   gpu_logged NAME CMD... runs CMD with its output teed to $work/NAME.log, copies the log to $out even
#                          when CMD fails (the log is what comes back from the device), keeps its status
gpu_start() {
  local usage=$1 count=$2
  shift 2
  if [ $# -lt "$count" ]; then
    echo "usage: $usage" >&2
    exit 2
  fi
  cd "$(dirname "${BASH_SOURCE[0]}")/../.."
  out=$2
  work=${WORK_DIR:-$(mktemp -d)}
  mkdir -p "$out" "$work"
  export PYTHONUNBUFFERED=1
  command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
}

gpu_logged() {
  local name=$1 status=0
  shift
  "$@" 2>&1 | tee "$work/$name.log" || status=$?
  cp "$work/$name.log" "$out/$name.log"
  return "$status"
}
