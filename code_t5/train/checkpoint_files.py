"""Finding and reading what the trainers leave in a model dir: T5X's checkpoint_<step>/
folders, Mesh TF's model.ckpt-<step> files (kept apart: a folder may hold both), and the
TensorBoard scalars both write. Reads no weights and imports no trainer."""
import glob
import math
import os
import re

_T5X = re.compile(r"checkpoint_(\d+)")
_MTF = re.compile(r"model\.ckpt-(\d+)\.index")


def t5x_steps(model_dir: str) -> list[int]:
  """Steps of the T5X checkpoint_<step>/ folders in `model_dir`, ascending."""
  found = (_T5X.fullmatch(os.path.basename(p))
           for p in glob.glob(os.path.join(glob.escape(model_dir), "checkpoint_*"))
           if os.path.isdir(p))
  return sorted(int(m.group(1)) for m in found if m)


def mtf_steps(model_dir: str) -> list[int]:
  """Steps of the Mesh TF model.ckpt-<step> checkpoints in `model_dir`, ascending."""
  found = (_MTF.fullmatch(os.path.basename(p))
           for p in glob.glob(os.path.join(glob.escape(model_dir), "model.ckpt-*.index")))
  return sorted(int(m.group(1)) for m in found if m)


def is_t5x_checkpoint(path: str) -> bool:
  """A checkpoint_<step> folder as t5x.train writes (Orbax: state/) or a converted one in
  T5X's own format (a `checkpoint` file)."""
  return (os.path.isdir(path) and _T5X.fullmatch(os.path.basename(os.path.normpath(path)))
          is not None and (os.path.isdir(os.path.join(path, "state"))
                           or os.path.isfile(os.path.join(path, "checkpoint"))))


def latest_t5x_checkpoint(path: str) -> str:
  """`path` itself if it is a checkpoint_<step> folder, else its newest checkpoint_<step>
  (`path` unchanged when it holds none)."""
  steps = t5x_steps(path)
  if steps and not _T5X.fullmatch(os.path.basename(os.path.normpath(path))):
    return os.path.join(path, f"checkpoint_{steps[-1]}")
  return path


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


def t5x_validation_losses(model_dir: str) -> dict[int, float]:
  """{step: cross-entropy per non-padding target token} of T5X's training evals. T5X's `loss`
  adds z-loss; its cross-entropy is averaged over all target positions, so dividing by the
  non-padding fraction of the same positions leaves cross-entropy per token."""
  event_dir = os.path.join(model_dir, "training_eval")
  cross_ent = read_scalars(event_dir, "cross_ent_loss_per_all_target_tokens")
  fraction = read_scalars(event_dir, "non_padding_fraction/loss_weights")
  return {step: cross_ent[step] / fraction[step] for step in cross_ent if fraction.get(step)}


def mtf_validation_losses(model_dir: str) -> dict[int, float]:
  """{step: cross-entropy per non-padding token} from Mesh TF's perplexity_eval summaries."""
  return {step: -value for step, value in read_scalars(model_dir, "neg_log_perplexity").items()
          if math.isfinite(value)}
