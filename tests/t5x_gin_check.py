"""Parses T5X gin compositions the way t5x.train/eval/infer do; prints one line per failure.

Run as a script (the run configs bind `__main__.train`, `__main__.evaluate`, `__main__.infer`;
runs/export_lm.gin binds t5x.export_lib, which needs tensorflow-serving-api):
  python tests/t5x_gin_check.py 'a.gin,b.gin' 'c.gin,d.gin' ...
"""
import sys

import gin
from t5x.eval import evaluate  # noqa: F401  (bound as __main__.evaluate)
from t5x.infer import infer  # noqa: F401  (bound as __main__.infer)
from t5x.train import train  # noqa: F401  (bound as __main__.train)

# The macros each run leaves %gin.REQUIRED for the user to set.
REQUIRED = ["TRAIN_STEPS=1", "MODEL_DIR='/tmp/m'", "CHECKPOINT_PATH='/tmp/m/checkpoint_1'",
            "INITIAL_CHECKPOINT_PATH='/tmp/m/checkpoint_1'", "EVAL_OUTPUT_DIR='/tmp/e'",
            "INFER_OUTPUT_DIR='/tmp/i'", "MODEL_OUTPUT_DIR={'cpu': '/tmp/x/1'}",
            # models/hf_t5*.gin: set by the model.gin code-t5-convert-hf-t5 writes.
            "HF_TOKENIZER_DIR='/tmp/tokenizer'", "EMBEDDING_SIZE=32128"]
failures = 0
for composition in sys.argv[1:]:
  gin.clear_config(clear_constants=True)
  try:
    gin.parse_config_files_and_bindings(composition.split(","), REQUIRED, finalize_config=True)
  except Exception as e:  # pylint: disable=broad-except  (report every broken composition)
    failures += 1
    print(f"FAILED {composition}: {type(e).__name__}: {e}")
print(f"checked {len(sys.argv) - 1} compositions, {failures} failed")
sys.exit(1 if failures else 0)
