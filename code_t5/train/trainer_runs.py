"""Trains the dev model for a few steps with whichever trainer is installed, and reads back
its losses. Used by the main job; the trainers themselves run as their usual commands."""
import importlib.util
import os
import re
import subprocess
import sys
from typing import Optional

from code_t5 import quiet
from code_t5.train import checkpoint_files

T5X_DEV_GIN = "code_t5/gin_configs/t5x/dev.gin"
T5X_QUICKSTART_GIN = "code_t5/gin_configs/t5x/quickstart.gin"
QUICKSTART_STEPS = 2000  # about 2 minutes on 2 CPU cores (quickstart.gin)
MTF_DEV_GIN = "code_t5/gin_configs/mtf/dev.gin"
# T5X's lines worth showing while our commands run it (the rest goes to the run's log file).
T5X_PROGRESS = re.compile(r"\] (Training for \d+ steps|END Train loop|Saving checkpoint\.|"
                          r"Finished\.)")


def installed_trainer() -> Optional[str]:
  """'t5x' where T5X imports, else 'mtf' on the Mesh TF stack (TF <= 2.15), else None."""
  if importlib.util.find_spec("t5x") is not None:
    return "t5x"
  if importlib.util.find_spec("mesh_tensorflow") is not None:
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    if hasattr(tf.compat.v1, "estimator"):
      return "mtf"
  return None


def _run(cmd: list[str], log_path: str, progress: Optional[re.Pattern] = None) -> None:
  """Runs `cmd` quietly (code_t5/quiet.py) with its output in `log_path`; lines matching
  `progress` are echoed as they come, the log's last lines are shown if it fails."""
  os.makedirs(os.path.dirname(log_path), exist_ok=True)
  with open(log_path, "w") as log:
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env=quiet.environment())
    tail: list[str] = []
    for line in proc.stdout:
      log.write(line)
      tail = (tail + [line])[-15:]
      if progress is not None and (m := progress.search(line)):
        print(f"   {os.path.basename(cmd[2])}: {m.group(1).rstrip('.')}", flush=True)
    returncode = proc.wait()
  if returncode:
    raise RuntimeError(f"{' '.join(cmd[:4])} ... failed (exit {returncode}); its last lines:\n"
                       f"{''.join(tail).rstrip()}\nthe whole log: {log_path}")


def train_t5x(model_dir: str, steps: int, gin_file: str = T5X_DEV_GIN,
              progress: bool = False) -> dict[str, dict[int, float]]:
  """Trains the model of `gin_file` for `steps`, evaluating 3 times along the way; returns the
  loss per target token by step: 'train' (mean over the steps before each evaluation) and
  'held_out' (T5X's training eval on the validation split, step 0 included)."""
  period = max(1, steps // 3) if steps % 3 == 0 else steps
  _run([sys.executable, "-m", "t5x.train", f"--gin_file={gin_file}",
        f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={steps}",
        f"--gin.train.eval_period={period}",
        f"--gin.utils.SaveCheckpointConfig.period={steps}"],
       model_dir + ".log", T5X_PROGRESS if progress else None)
  return {"train": checkpoint_files.read_scalars(os.path.join(model_dir, "train"), "loss_per_all_target_tokens"),
          "held_out": checkpoint_files.read_scalars(os.path.join(model_dir, "training_eval"),
                                   "loss_per_all_target_tokens")}


def train_mtf(model_dir: str, steps: int) -> dict[int, float]:
  """Mesh TF dev model; returns validation -log(perplexity) by step (0 and `steps`)."""
  base = [sys.executable, "-m", "code_t5.train.mesh_tf", f"--model_dir={model_dir}",
          f"--gin_file={MTF_DEV_GIN}"]
  _run(base + [f"--gin_param=utils.run.train_steps={steps}"], model_dir + ".train.log")
  _run(base + ["--gin_file=perplexity_eval.gin", "--gin_param=utils.run.dataset_split="
               "'validation'", f"--gin_param=eval_checkpoint_step=[0, {steps}]"],
       model_dir + ".eval.log")
  return checkpoint_files.mtf_validation_losses(model_dir)
