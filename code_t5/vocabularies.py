"""Vocabularies: bytes (no file needed, the default) and a code SentencePiece model."""
import os
from typing import Optional

import seqio

from code_t5 import paths

# 100 sentinel ids for span corruption. 3 special + 256 bytes + 100 = 359 ids; models round
# the embedding up to 384 (a multiple of 128).
EXTRA_IDS = 100
BYTE_VOCAB_MODEL_SIZE = 384


class CodeSentencePieceVocabulary(seqio.SentencePieceVocabulary):
  """The code SentencePiece model, looked up under the data dir when first used.

  Tasks are registered at import time, before a data dir may be set; resolving the model path
  lazily lets `CODE_T5_DATA_DIR` (or an explicit `path`) point at it later.
  """

  def __init__(self, path: Optional[str] = None, extra_ids: int = EXTRA_IDS):
    super().__init__(path or "", extra_ids=extra_ids)

  def _resolve(self) -> None:
    if not self._sentencepiece_model_file:
      self._sentencepiece_model_file = paths.vocab_model_path()
    if not os.path.exists(self._sentencepiece_model_file):
      raise FileNotFoundError(
          f"{self._sentencepiece_model_file}: no code SentencePiece model. Train one with "
          "`python scripts/train_vocab.py` (or set CODE_T5_DATA_DIR to where it lies), or use "
          "the byte-level tasks (names without `_spm`).")

  def _model_context(self):
    self._resolve()
    return super()._model_context()

  def __getstate__(self):
    self._resolve()
    return super().__getstate__()


BYTE = seqio.ByteVocabulary(extra_ids=EXTRA_IDS)
CODE_SPM = CodeSentencePieceVocabulary()
# Task-name suffix -> vocabulary.
BY_SUFFIX = {"": BYTE, "_spm": CODE_SPM}
