# Training image for the autocomplete recipe: runs code_t5.train.launcher (code-t5-train-lm) with
# its settings from environment variables, data and checkpoints on two volumes.
#   docker build -t code_t5-train .                                   # Mesh TF stack, CPU
#   docker build --build-arg STACK=t5x -t code_t5-train:t5x .         # T5X stack, CPU
#   docker build --build-arg STACK=t5x --build-arg GPU=1 -t code_t5-train:gpu .
#   docker run --user $(id -u):$(id -g) -v $HOME/code_t5_data:/data -v $HOME/ckpt/lm:/checkpoints \
#     -e RESTORE_FROM=latest -e LEARNING_RATE=0.01 -e SAVE_EVERY=1000 -e VAL_EVERY=1000 \
#     -e VAL_BATCH=20 code_t5-train                                   # add --gpus all for GPU=1
# STACK=mtf (default): the Mesh TF stack of requirements/mtf.txt (TF 2.15). STACK=t5x: the
# default stack with the t5x extra, plus T5X, airio and jestimator from git at the commits
# below (not on PyPI), installed without their dependencies as README.md, "Training with T5X",
# does. GPU=1 adds the CUDA 12 wheels: jax[cuda12] at the installed JAX version for T5X,
# tensorflow[and-cuda] for Mesh TF; the host needs an NVIDIA driver and `docker run --gpus all`.
# The entrypoint (docker/entrypoint.sh) refuses to start when /data lacks the prepared dataset
# of the task or /checkpoints is not writable, with one line saying how to fix it.
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG STACK=mtf
ARG GPU=0
ARG T5X_COMMIT=cc342d419ec3e3e9c4bf1df33c82330cafdc1e16
ARG AIRIO_COMMIT=69897df7d9a427b947a9f7bb4164c7782b43e601
ARG JESTIMATOR_COMMIT=326824a477feef6d92e6f44175000907a72899ca
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1 PYTHONUNBUFFERED=1
WORKDIR /opt/code_t5

# Dependencies first, from setup.py and requirements/ alone (with an empty package in place
# of the code), so a code change rebuilds only the last layers. Test tools (the test extra;
# pytest, pytest-xdist and hypothesis in mtf.txt) stay out of the image. torch stays: t5.models
# imports it when Mesh TF starts.
COPY setup.py ./
COPY requirements/ requirements/
RUN set -eux; mkdir -p code_t5; touch code_t5/__init__.py; \
    if [ "$STACK" = "mtf" ]; then \
      grep -vE '^(pytest|pytest-xdist|hypothesis)([<>=~! ]|$)' requirements/mtf.txt > /tmp/mtf.txt; \
      pip install -r /tmp/mtf.txt; \
      if [ "$GPU" = "1" ]; then pip install "tensorflow[and-cuda]==2.15.1"; fi; \
    elif [ "$STACK" = "t5x" ]; then \
      apt-get update; apt-get install -y --no-install-recommends git; \
      rm -rf /var/lib/apt/lists/*; \
      pip install ".[t5x]"; \
      git clone --quiet https://github.com/google-research/t5x /opt/t5x; \
      git -C /opt/t5x checkout --quiet "$T5X_COMMIT"; \
      pip install --no-deps -e /opt/t5x \
        "airio @ git+https://github.com/google/airio@$AIRIO_COMMIT" \
        "jestimator @ git+https://github.com/google-research/jestimator@$JESTIMATOR_COMMIT"; \
      if [ "$GPU" = "1" ]; then \
        pip install "jax[cuda12]==$(python -c 'import jax; print(jax.__version__)')"; \
      fi; \
    else \
      echo "STACK=$STACK: expected mtf or t5x" >&2; exit 2; \
    fi; \
    pip install --no-deps t5==0.9.4; \
    pip uninstall -y code_t5 || true; rm -rf code_t5 build *.egg-info

# The code: the package only (its commands are console scripts).
COPY code_t5/ code_t5/
COPY docker/entrypoint.sh /usr/local/bin/code_t5-entrypoint
RUN pip install --no-deps -e . && useradd --create-home --uid 1000 code_t5 && \
    mkdir -p /data /checkpoints && chown code_t5 /data /checkpoints

USER code_t5
ENV CODE_T5_DATA_DIR=/data \
    MODEL_DIR=/checkpoints \
    RESTORE_FROM=latest
VOLUME ["/data", "/checkpoints"]
ENTRYPOINT ["code_t5-entrypoint"]
