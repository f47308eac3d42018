"""A SentencePiece vocabulary whose model file is located when first used, not when the task
that uses it is registered (tasks register at import, before a data dir or a checkpoint's
tokenizer may be set).

This is the one place the package subclasses seqio against its internals: seqio's
SentencePieceVocabulary loads its model in the private `_model_context()` (every use, and
`__getstate__` before pickling goes through it). Checked against seqio 0.0.20 and
seqio-nightly 0.0.18.dev20240201 (the two stacks of README.md).
"""
import os
from typing import Optional

import seqio


class LazySentencePieceVocabulary(seqio.SentencePieceVocabulary):
  """Subclasses say where the model lies (`locate`, when no path was given), what to do when it
  is missing (`missing`: the message of the FileNotFoundError) and what to check once it is
  loaded (`check`)."""

  def __init__(self, path: Optional[str] = None, extra_ids: int = 0):
    self._checked = False
    super().__init__(path or "", extra_ids=extra_ids)

  def locate(self) -> str:
    raise NotImplementedError

  def missing(self, path: str) -> str:
    return f"{path}: no SentencePiece model there."

  def check(self, tokenizer) -> None:
    """Called once, with the loaded sentencepiece processor."""

  def _model_context(self):
    if not self._sentencepiece_model_file:
      self._sentencepiece_model_file = self.locate()
    path = self._sentencepiece_model_file
    if not path.startswith("gs://") and not os.path.exists(path):
      raise FileNotFoundError(self.missing(path))
    context = super()._model_context()
    if not self._checked:
      self.check(context.tokenizer)
      self._checked = True
    return context

  def __getstate__(self):
    self._model_context()
    return super().__getstate__()
