"""Trains the dev model for a few steps with whichever trainer is installed, and reads back
its losses. Used by the main job; the trainers themselves run as their usual commands."""
import glob
import importlib.util
import math
import os
import re
import subprocess
import sys
from typing import Optional

T5X_DEV_GIN = "code_t5/gin_configs/t5x/dev.gin"
MTF_DEV_GIN = "code_t5/gin_configs/mtf/dev.gin"


def installed_trainer() -> Optional[str]:
  """'t5x' where T5X imports, else 'mtf' on the Mesh TF stack (TF <= 2.15), else None."""
  if importlib.util.find_spec("t5x") is not None:
    return "t5x"
  if importlib.util.find_spec("mesh_tensorflow") is not None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if hasattr(tf.compat.v1, "estimator"):
      return "mtf"
  return None


def read_scalars(event_dir: str, tag: str) -> dict[int, float]:
  """{step: value} of a scalar summary in the TensorBoard event files under `event_dir`."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  values = {}
  for path in sorted(glob.glob(os.path.join(event_dir, "**", "events.out.tfevents.*"),
                               recursive=True)):
    for event in tf.compat.v1.train.summary_iterator(path):
      for value in event.summary.value:
        if value.tag == tag:
          values[event.step] = float(tf.make_ndarray(value.tensor) if value.HasField("tensor")
                                     else value.simple_value)
  return values


def checkpoint_steps(model_dir: str) -> list[int]:
  """Steps of the checkpoints either trainer left in `model_dir` (T5X checkpoint_<step>/,
  Mesh TF model.ckpt-<step>.index), ascending."""
  names = [os.path.basename(p) for p in glob.glob(os.path.join(model_dir, "checkpoint_*"))
           + glob.glob(os.path.join(model_dir, "model.ckpt-*.index"))]
  steps = [re.fullmatch(r"(?:checkpoint_|model\.ckpt-)(\d+)(?:\.index)?", n) for n in names]
  return sorted(int(m.group(1)) for m in steps if m)


def mtf_validation_losses(model_dir: str) -> dict[int, float]:
  """{step: cross-entropy per non-padding token} from Mesh TF's perplexity_eval summaries."""
  return {step: -value for step, value in read_scalars(model_dir, "neg_log_perplexity").items()
          if math.isfinite(value)}


def _run(cmd: list[str], log_path: str) -> None:
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  with open(log_path, "w") as log:
    result = subprocess.run(cmd, stdout=log, stderr=subprocess.STDOUT)
  if result.returncode:
    raise RuntimeError(f"{' '.join(cmd[:4])} ... failed (exit {result.returncode}); "
                       f"see {log_path}")


def train_t5x(model_dir: str, steps: int) -> dict[int, float]:
  """T5X dev model; returns training-eval loss per target token by step (0 and `steps`)."""
  _run([sys.executable, "-m", "t5x.train", f"--gin_file={T5X_DEV_GIN}",
        f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={steps}",
        f"--gin.train.eval_period={steps}"], model_dir + ".log")
  return read_scalars(os.path.join(model_dir, "training_eval"), "loss_per_all_target_tokens")


def train_mtf(model_dir: str, steps: int) -> dict[int, float]:
  """Mesh TF dev model; returns validation -log(perplexity) by step (0 and `steps`)."""
  base = [sys.executable, "-m", "code_t5.train.mesh_tf", f"--model_dir={model_dir}",
          f"--gin_file={MTF_DEV_GIN}"]
  _run(base + [f"--gin_param=utils.run.train_steps={steps}"], model_dir + ".train.log")
  _run(base + ["--gin_file=perplexity_eval.gin", "--gin_param=utils.run.dataset_split="
               "'validation'", f"--gin_param=eval_checkpoint_step=[0, {steps}]"],
       model_dir + ".eval.log")
  return mtf_validation_losses(model_dir)
