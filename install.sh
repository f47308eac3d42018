#!/usr/bin/env bash
# Installs code_t5 with everything its main job needs, the T5X trainer included, into the
# Python that `python3` is (activate a virtual environment first).
#
#   ./install.sh                 # code_t5 editable, its `test` and `t5x` extras, t5 without its
#                                # pinned nightlies, then T5X, airio and jestimator from git
#   CODE_T5_TRAINER_SRC=DIR ./install.sh
#                                # the same, but the trainer from DIR/{t5x,airio,jestimator}:
#                                # unpacked source trees, no network for them
#   ./install.sh --no-trainer    # everything but the trainer (the main job then says so)
#   ./install.sh --no-editable   # a plain (non-editable) install of code_t5 itself
#
# T5X, airio and jestimator are not on PyPI, and their metadata asks for tensorflow-cpu,
# tfds-nightly and seqio from git, which would put a second copy of tensorflow/,
# tensorflow_datasets/ and seqio/ into the environment: so they go in without their
# dependencies (the `t5x` extra lists what they really need), and editable, because a plain
# install of T5X leaves out t5x/examples/decoder_only (it has no __init__.py).
set -euo pipefail

T5X_COMMIT=cc342d419ec3e3e9c4bf1df33c82330cafdc1e16         # 2026-04-21
AIRIO_COMMIT=69897df7d9a427b947a9f7bb4164c7782b43e601       # 2026-04-09
JESTIMATOR_COMMIT=326824a477feef6d92e6f44175000907a72899ca  # 2024-05-15

trainer=1
editable=-e
for arg in "$@"; do
  case "$arg" in
    --no-trainer) trainer=0 ;;
    --no-editable) editable= ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown option $arg (try --help)" >&2; exit 2 ;;
  esac
done

if [ -n "${CODE_T5_TRAINER_SRC:-}" ] && [ -d "$CODE_T5_TRAINER_SRC" ]; then
  CODE_T5_TRAINER_SRC=$(cd "$CODE_T5_TRAINER_SRC" && pwd)  # before the cd below
fi
cd "$(dirname "$0")"
python=${PYTHON:-python3}
pip() { "$python" -m pip install --disable-pip-version-check "$@"; }

extras=test
[ "$trainer" = 1 ] && extras=test,t5x
echo "== code_t5 [$extras] and t5 0.9.4 (without its pinned nightlies)"
pip $editable ".[$extras]"
pip --no-deps t5==0.9.4

if [ "$trainer" = 0 ]; then
  echo "== trainer: skipped (--no-trainer). Run ./install.sh again without it to add T5X."
  exit 0
fi

if [ -n "${CODE_T5_TRAINER_SRC:-}" ]; then
  for pkg in t5x airio jestimator; do
    if [ ! -f "$CODE_T5_TRAINER_SRC/$pkg/setup.py" ] && [ ! -f "$CODE_T5_TRAINER_SRC/$pkg/pyproject.toml" ]; then
      echo "install.sh: CODE_T5_TRAINER_SRC=$CODE_T5_TRAINER_SRC has no source tree $pkg/" \
           "(expected $CODE_T5_TRAINER_SRC/$pkg/setup.py or pyproject.toml); unpack t5x, airio" \
           "and jestimator there, or unset the variable to clone them from git" >&2
      exit 2
    fi
  done
  src=$CODE_T5_TRAINER_SRC
  echo "== T5X, airio, jestimator from $src (editable, no dependencies)"
  pip --no-deps -e "$src/jestimator" -e "$src/airio" -e "$src/t5x"
else
  echo "== T5X, airio, jestimator from git at the tested commits (editable, no dependencies)"
  pip --no-deps \
    -e "git+https://github.com/google-research/jestimator@$JESTIMATOR_COMMIT#egg=jestimator" \
    -e "git+https://github.com/google/airio@$AIRIO_COMMIT#egg=airio" \
    -e "git+https://github.com/google-research/t5x@$T5X_COMMIT#egg=t5x"
fi
"$python" -c "import t5x, airio, jestimator; print('== trainer ready: t5x from', t5x.__path__[0])"
