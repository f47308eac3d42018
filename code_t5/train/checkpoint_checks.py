"""Vocabulary vs checkpoint checks, wired into the model and fine-tuning gin files.

A T5X model whose embedding has fewer rows than its vocabulary has ids, or a fine-tuning run
whose checkpoint has another embedding size, otherwise fails deep in a gather or in the restore
with a shape pair and no names. This fails first, in one line naming both.
"""
import os
import sys
from typing import Optional

import gin
import seqio


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


def checkpoint_embedding_rows(path: str) -> int:
  """Rows of `token_embedder/embedding` in a T5X checkpoint, read without loading weights."""
  if os.path.isdir(os.path.join(path, "state")):  # Orbax, as t5x.train writes by default
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
    metadata = ocp.PyTreeCheckpointer().metadata(os.path.join(path, "state"))
    metadata = getattr(metadata, "item_metadata", None) or metadata  # orbax >= 0.11
    tree = getattr(metadata, "tree", metadata)
    return int(tree["target"]["token_embedder"]["embedding"].shape[0])
  from t5x import checkpoints  # pylint: disable=g-import-not-at-top
  state = checkpoints.load_t5x_checkpoint(path, lazy_parameters=True)
  return int(state["target"]["token_embedder"]["embedding"].shape[0])


@gin.configurable
def checked_vocab_size(vocabulary: seqio.Vocabulary, embedding_size: int,
                       checkpoint_path: Optional[str] = None) -> int:
  """Returns `embedding_size` if `vocabulary` fits it (and the checkpoint has that size);
  otherwise exits with a one-line message naming both."""
  rows = checkpoint_embedding_rows(checkpoint_path) if checkpoint_path else None
  problem = mismatch(vocabulary, embedding_size, rows, checkpoint_path or "")
  if problem:
    # SystemExit, not an exception: gin would wrap it and absl would print a traceback.
    sys.exit(f"error: {problem}")
  return embedding_size
