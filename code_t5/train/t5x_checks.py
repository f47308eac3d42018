"""Checks T5X runs make before they build a dataset, wired into runs/*.gin.

T5X composes a model file with a task file; a model that cannot take the task's features
(an encoder-decoder on an `lm` task, a dual encoder on anything but query/passage pairs), or a
task name with a typo, would otherwise fail deep inside seqio. This fails first, in one line
(a UsageError: code_t5/errors.py).
"""
from typing import Mapping, Optional

import seqio

from code_t5 import errors
from code_t5.data import inspect_task

errors.one_line_in_t5x()


def model_features(model, task_features: set[str]) -> tuple[set[str], set[str]]:
  """(features the model needs, features it would read) for a task with `task_features`."""
  converter = model.FEATURE_CONVERTER_CLS
  needed = set(converter.TASK_FEATURES)
  if issubclass(converter, seqio.DecoderFeatureConverter):
    # Decoder-only: `targets` alone is language modelling, with `inputs` a prefix LM.
    return needed, needed | (task_features & {"inputs"})
  return needed, needed


def _infer_mismatch(model_name: str, name: str, task, split: str) -> Optional[str]:
  if "inputs" not in task.output_features:
    return (f"{model_name} cannot run infer on {name}: the task has no inputs to continue "
            "(language modelling); infer a prefix_lm or full_line task.")
  # T5X's infer runs every member of a mixture, and fails on one without examples.
  empty = [t.name for t in seqio.get_subtasks(task) if split not in t.splits]
  if empty:
    return (f"{model_name} cannot run infer on {name}: {len(empty)} of its tasks have no "
            f"{split!r} examples ({', '.join(empty[:3])}{', ...' if len(empty) > 3 else ''}); "
            "infer the tasks that have, one task file at a time.")
  return None


def mismatch(model, name: str, feature_lengths: Optional[Mapping[str, int]],
             run: str = "train", split: str = "validation") -> Optional[str]:
  """Why `model` cannot `run` ('train', 'eval' or 'infer' on `split`) on task/mixture `name`
  with these lengths, or None if it can."""
  model_name = type(model).__name__
  task = inspect_task.registered(name)
  if run == "infer" and getattr(model, "output_vocabulary", None) is None:
    return (f"{model_name} cannot run infer on {name}: it embeds, it does not decode text. "
            "Embed with code-t5-search or code-t5-eval-code-search.")
  if run == "infer" and (problem := _infer_mismatch(model_name, name, task, split)):
    return problem
  if run == "eval" and not any(t.metric_fns for t in seqio.get_subtasks(task)):
    return (f"{model_name} cannot run eval on {name}: the task has no metrics. Its loss is "
            "in the training run's training_eval/ summaries; evaluate a task with metrics "
            "(e.g. a full_line or CoNaLa task file).")
  have = set(task.output_features)
  needed, used = model_features(model, have)
  if needed - have:
    return (f"{model_name} cannot run on {name}: the model needs the features "
            f"{sorted(needed)}, the task gives {sorted(have)}. Pick a task file whose "
            "features the model takes (README, 'Training with T5X').")
  if feature_lengths is not None and used - set(feature_lengths):
    return (f"{model_name} on {name}: TASK_FEATURE_LENGTHS = {dict(feature_lengths)} has no "
            f"length for {sorted(used - set(feature_lengths))}; set it in the task file or "
            "with --gin.TASK_FEATURE_LENGTHS.")
  return None


def checked_task(name: str, model, feature_lengths: Optional[Mapping[str, int]] = None,
                 run: str = "train", split: str = "validation") -> str:
  """Returns `name` if `model` can `run` on it; otherwise raises a UsageError saying why."""
  problem = mismatch(model, name, feature_lengths, run, split)
  if problem:
    raise errors.UsageError(problem)
  return name
