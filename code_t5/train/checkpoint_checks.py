"""Checkpoint checks, wired into the model, fine-tuning, eval and infer gin files.

A T5X model whose embedding has fewer rows than its vocabulary has ids, a checkpoint path that
does not exist, or a checkpoint of another shape (more layers, another width) otherwise fails
deep in a gather or in the restore, with a long traceback and no names. These fail first, in
one line naming both sides (a UsageError: code_t5/errors.py).
"""
import collections.abc
import os
import re
from typing import Optional

import gin
import seqio

from code_t5 import errors

errors.one_line_in_t5x()


def mismatch(vocabulary: seqio.Vocabulary, embedding_size: int,
             checkpoint_rows: Optional[int] = None, checkpoint_path: str = "") -> Optional[str]:
  """Why `vocabulary` cannot run on this embedding (or checkpoint), or None if it can."""
  size = vocabulary.vocab_size  # first: it locates lazily resolved model files
  name = (getattr(vocabulary, "path", None) or getattr(vocabulary, "sentencepiece_model_file", None)
          or type(vocabulary).__name__)
  if size > embedding_size:
    return (f"vocabulary {name} has {size} ids but the model's embedding has "
            f"{embedding_size} rows; use the vocabulary the checkpoint was trained with, or a "
            "model file whose embedding is at least that large.")
  if checkpoint_rows is not None and checkpoint_rows != embedding_size:
    return (f"checkpoint {checkpoint_path} has a {checkpoint_rows}-row embedding but the "
            f"model (vocabulary {name}, {size} ids) is built with "
            f"{embedding_size}; pick the model file and vocabulary of that checkpoint.")
  return None


def _flatten(tree, prefix: str = "") -> dict[str, tuple]:
  """{"a/b/c": shape} of the arrays (or array metadata) in a nested mapping."""
  tree = getattr(tree, "value", tree)  # flax's boxed (partitioned) parameters
  if not isinstance(tree, collections.abc.Mapping):
    return {prefix: tuple(tree.shape)} if hasattr(tree, "shape") else {}
  out = {}
  for key, value in tree.items():
    out.update(_flatten(value, f"{prefix}/{key}" if prefix else str(key)))
  return out


def _checkpoint_tree(path: str, arrays: bool) -> dict:
  """A T5X checkpoint's state tree (Orbax, as t5x.train writes, or T5X's msgpack format, as
  converted): its arrays, or only their metadata (no weights read)."""
  if os.path.isdir(os.path.join(path, "state")):
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    if arrays:
      return ocp.PyTreeCheckpointer().restore(os.path.join(path, "state"))
    metadata = ocp.PyTreeCheckpointer().metadata(os.path.join(path, "state"))
    metadata = getattr(metadata, "item_metadata", None) or metadata  # orbax >= 0.11
    return getattr(metadata, "tree", metadata)
  from t5x import checkpoints  # pylint: disable=g-import-not-at-top
  return checkpoints.load_t5x_checkpoint(path, lazy_parameters=not arrays)


def checkpoint_shapes(path: str) -> dict[str, tuple]:
  """{"encoder/layers_0/.../kernel": shape} of a T5X checkpoint's parameters, read without
  loading weights."""
  return _flatten(_checkpoint_tree(path, arrays=False)["target"])


def checkpoint_params(path: str) -> dict:
  """A T5X checkpoint's parameters (the nested `target` tree of numpy arrays)."""
  return _checkpoint_tree(path, arrays=True)["target"]


def checkpoint_embedding_rows(path: str) -> int:
  """Rows of `token_embedder/embedding` in a T5X checkpoint, read without loading weights."""
  return int(checkpoint_shapes(path)["token_embedder/embedding"][0])


def model_shapes(model) -> dict[str, tuple]:
  """The parameter shapes a T5X model builds, without allocating them."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  features = model.FEATURE_CONVERTER_CLS.MODEL_FEATURES
  shapes = {name: (1, 8) for name in features}
  types = {name: jnp.int32 for name in features}
  variables = jax.eval_shape(
      lambda: model.get_initial_variables(jax.random.PRNGKey(0), shapes, types))
  return _flatten(dict(variables["params"]))


def _layers(shapes: dict[str, tuple]) -> dict[str, int]:
  """{"encoder": 6, "decoder": 6}: the layers_N blocks under each top-level module."""
  found: dict[str, set] = {}
  for name in shapes:
    m = re.match(r"(.*?)/layers_(\d+)/", name)
    if m:
      found.setdefault(m.group(1), set()).add(m.group(2))
  return {stack: len(ids) for stack, ids in found.items()}


def structure_mismatch(checkpoint: dict[str, tuple], model: dict[str, tuple]) -> Optional[str]:
  """What differs between a checkpoint's parameters and a model's, in one line, or None
  (also when either side is unknown: empty). Parameters on one side only are allowed where the
  other side still shares some (a dual encoder restores the encoder of a T5 checkpoint and
  adds its own projection): the layer counts of the stacks both have, and the shapes of the
  parameters both have, must agree."""
  if not checkpoint or not model:
    return None
  common = set(checkpoint) & set(model)
  if not common:
    return (f"no parameter in common (checkpoint: {sorted(checkpoint)[0]}, ...; model: "
            f"{sorted(model)[0]}, ...)")
  ckpt_layers, model_layers = _layers(checkpoint), _layers(model)
  layers = [f"{stack}: {ckpt_layers[stack]} layers in the checkpoint, "
            f"{model_layers[stack]} in the model"
            for stack in sorted(set(ckpt_layers) & set(model_layers))
            if ckpt_layers[stack] != model_layers[stack]]
  if layers:
    return "; ".join(layers)
  shapes = [f"{name}: {checkpoint[name]} in the checkpoint, {model[name]} in the model"
            for name in sorted(common) if checkpoint[name] != model[name]]
  if shapes:
    return "; ".join(shapes[:2]) + (f" (and {len(shapes) - 2} more)" if len(shapes) > 2 else "")
  return None


def missing_checkpoint(path: str) -> str:
  """Why `path` is not a checkpoint, naming the checkpoints that are there."""
  from code_t5.train import checkpoint_files  # pylint: disable=g-import-not-at-top
  folder = path if os.path.isdir(path) else os.path.dirname(path.rstrip("/"))
  steps = checkpoint_files.t5x_steps(folder) if os.path.isdir(folder) else []
  there = (f"checkpoints in {folder}: " + ", ".join(f"checkpoint_{s}" for s in steps)
           if steps else f"{folder} holds no checkpoint_<step> folder")
  what = "is a model dir, not one checkpoint" if os.path.isdir(path) else "does not exist"
  return f"checkpoint {path} {what}; {there}."


@gin.configurable
def checked_checkpoint(path: str, model=None) -> str:
  """Returns `path` if it is a T5X checkpoint whose parameters fit `model`; otherwise raises a
  UsageError naming both sides (bound to RestoreCheckpointConfig.path in runs/*.gin)."""
  if not isinstance(path, str):  # a list of paths: T5X's eval of several checkpoints
    return path
  from code_t5.train import checkpoint_files  # pylint: disable=g-import-not-at-top
  if not checkpoint_files.is_t5x_checkpoint(path):
    raise errors.UsageError(missing_checkpoint(path))
  if model is not None:
    try:
      problem = structure_mismatch(checkpoint_shapes(path), model_shapes(model))
    except (KeyError, TypeError, AttributeError, ValueError):
      problem = None  # a model this check cannot trace: T5X's restore still checks
    if problem:
      raise errors.UsageError(
          f"checkpoint {path} does not fit the model ({type(model).__name__}): {problem}; "
          "use the model gin file it was trained with (its run's config.gin shows it).")
  return path


@gin.configurable
def checked_vocab_size(vocabulary: seqio.Vocabulary, embedding_size: int,
                       checkpoint_path: Optional[str] = None) -> int:
  """Returns `embedding_size` if `vocabulary` fits it (and the checkpoint has that size);
  otherwise raises a UsageError naming both."""
  from code_t5.train import checkpoint_files  # pylint: disable=g-import-not-at-top
  if checkpoint_path and not checkpoint_files.is_t5x_checkpoint(checkpoint_path):
    raise errors.UsageError(missing_checkpoint(checkpoint_path))
  rows = checkpoint_embedding_rows(checkpoint_path) if checkpoint_path else None
  problem = mismatch(vocabulary, embedding_size, rows, checkpoint_path or "")
  if problem:
    raise errors.UsageError(problem)
  return embedding_size
