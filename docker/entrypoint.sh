#!/bin/sh
# The training image's entrypoint: checks that the data volume holds the prepared dataset the
# task reads and that the checkpoint volume is writable, then runs the launcher with the
# container's arguments. Each problem is one line on stderr and exit status 2.
set -eu
data=${CODE_T5_DATA_DIR:-/data}
model_dir=${MODEL_DIR:-/checkpoints}
task=${TASK:-}
previous=
for arg in "$@"; do  # a --task flag wins over $TASK, as in the launcher
  case "$arg" in --task=*) task=${arg#--task=} ;; esac
  [ "$previous" = "--task" ] && task=$arg
  previous=$arg
done
case "${task:-flcc_dev_}" in  # the launcher's default tasks read the dev dataset
  flcc_dev_*) needed=flcc_dev/manifest.json ;;
  flcc_*) needed=flcc/manifest.json ;;
  *) needed= ;;  # other corpora: their tasks name the missing file themselves
esac
if [ -n "$needed" ] && [ ! -f "$data/$needed" ]; then
  echo "error: $data holds no prepared dataset for task ${task:-<launcher default>} (no" \
    "$data/$needed). Prepare one into the folder you mount as $data, e.g." \
    "'docker run --rm -v \$HOME/code_t5_data:$data --entrypoint code-t5-make-dev-dataset" \
    "IMAGE' (dev dataset from the standard library), or" \
    "'code-t5-prepare-flcc --flcc_root=ROOT' with CODE_T5_DATA_DIR set (FLCC)." >&2
  exit 2
fi
mkdir -p "$model_dir" 2>/dev/null || true
if ! [ -w "$model_dir" ]; then
  echo "error: $model_dir is not writable by uid $(id -u); mount a folder this user owns, or" \
    "run with --user \$(id -u):\$(id -g) so checkpoints belong to you." >&2
  exit 2
fi
exec code-t5-train-lm "$@"
