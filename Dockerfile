# Training image for the autocomplete recipe: runs code_t5.launcher (scripts/train_lm.py) with
# its settings from environment variables, data and checkpoints on two volumes.
#   docker build -t code_t5-train .
#   docker run -v $HOME/code_t5_data:/data -v $HOME/ckpt/lm:/checkpoints \
#     -e RESTORE_FROM=latest -e LEARNING_RATE=0.01 -e SAVE_EVERY=1000 -e VAL_EVERY=1000 \
#     -e VAL_BATCH=20 -e VAL_DATASET=flcc_dev_python_lm:validation code_t5-train
# STACK=mtf (default) installs the Mesh TF stack from PyPI; STACK=t5x expects a BASE image
# that already has T5X (it is not on PyPI; README.md, "Installing T5X").
ARG BASE=python:3.11-slim
FROM ${BASE}
ARG STACK=mtf
WORKDIR /opt/code_t5
COPY . .
RUN if [ "$STACK" = "mtf" ]; then \
      pip install --no-cache-dir -r requirements/mtf.txt && \
      pip install --no-cache-dir --no-deps t5==0.9.4 -e . ; \
    else \
      pip install --no-cache-dir -e ".[t5x]" && pip install --no-cache-dir --no-deps t5==0.9.4 ; \
    fi
ENV CODE_T5_DATA_DIR=/data \
    MODEL_DIR=/checkpoints \
    RESTORE_FROM=latest
VOLUME ["/data", "/checkpoints"]
ENTRYPOINT ["python", "-m", "code_t5.launcher"]
