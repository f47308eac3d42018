"""Runs T5X compositions in one process, as t5x.train / t5x.eval / t5x.infer would run each.

One process saves the start-up of TensorFlow and JAX per composition. Reads JSON lines from
stdin: {"id", "entry": "train" | "eval" | "infer", "gin_files": [...], "bindings": [...]};
prints one JSON line each: {"id", "ok", "error"} (the error's last line, or our exit message).
"""
import json
import sys
import traceback

import gin
import jax
from t5x import gin_utils
from t5x.eval import evaluate
from t5x.infer import infer
from t5x.train import train

from code_t5 import errors

# The run files bind `__main__.train`, `__main__.evaluate`, `__main__.infer`: these names.
ENTRIES = {"train": gin.configurable(train), "eval": gin.configurable(evaluate),
           "infer": gin.configurable(infer)}


def run(job: dict) -> dict:
  gin.clear_config(clear_constants=True)
  try:
    gin_utils.parse_gin_flags([], job["gin_files"], job["bindings"])
    ENTRIES[job["entry"]]()
    jax.effects_barrier()
    return {"id": job["id"], "ok": True, "error": ""}
  except errors.UsageError as e:  # our one-line checks (code_t5/train/t5x_checks.py)
    # As t5x.train prints it (code_t5/errors.py): the first line, after gin's context.
    return {"id": job["id"], "ok": False, "error": f"error: {str(e).splitlines()[0]}"}
  except Exception as e:  # pylint: disable=broad-except  (report each composition)
    last = traceback.format_exception_only(type(e), e)[-1].strip()
    return {"id": job["id"], "ok": False, "error": last}


if __name__ == "__main__":
  for line in sys.stdin:
    if line.strip():
      print(json.dumps(run(json.loads(line))), flush=True)
