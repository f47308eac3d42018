"""The public T5 SentencePiece vocabulary: the one the T5 1.1, Flan-T5 and UL2 checkpoints use.

Its model file `cc_all.32000.100extra` holds 32000 pieces plus the 100 span-corruption
sentinels as pieces (`<extra_id_0>` = id 32099 ... `<extra_id_99>` = 32000), so seqio adds no
extra ids of its own; the checkpoints embed its 32100 ids in 32128 rows. The path is read when
the vocabulary is first used: $CODE_T5_T5_SPM (an offline copy), else the gin-bound `path`,
else the public GCS path (which TensorFlow reads only with network access).
"""
import os
from typing import Optional

import gin
import seqio

from code_t5.data import lazy_sentencepiece

PUBLIC_PATH = "gs://t5-data/vocabs/cc_all.32000.100extra/sentencepiece.model"
ENV_VAR = "CODE_T5_T5_SPM"
SENTINELS = 100
# Embedding rows of the public T5 1.1 / Flan-T5 checkpoints (32100 ids rounded up to 128).
EMBEDDING_SIZE = 32128


@gin.configurable
def public_t5_spm_path(path: Optional[str] = None) -> str:
  """$CODE_T5_T5_SPM if set, else the gin-bound `path`, else the public GCS path."""
  return os.path.expanduser(os.environ.get(ENV_VAR) or path or PUBLIC_PATH)


class PublicT5Vocabulary(lazy_sentencepiece.LazySentencePieceVocabulary):
  """The public T5 SentencePiece model, located when first used and checked for its sentinels.

  `extra_ids` stays 0 for `cc_all.32000.100extra` (sentinels inside the model); pass 100 for
  the older `cc_all.32000` file, which has none.
  """

  def locate(self) -> str:
    return public_t5_spm_path()

  def missing(self, path: str) -> str:
    return (f"{path}: no T5 SentencePiece model. Copy {PUBLIC_PATH} there (gsutil cp) or set "
            f"{ENV_VAR} to your copy.")

  def check(self, tokenizer) -> None:
    """Span corruption writes sentinel i as id vocab_size - 1 - i; the checkpoints learnt them
    as `<extra_id_i>`. A model with other pieces there would silently corrupt fine-tuning."""
    pieces = tokenizer.get_piece_size()
    path = self._sentencepiece_model_file
    fix = "use cc_all.32000.100extra with extra_ids=0, or cc_all.32000 with extra_ids=100"
    if not 0 <= self._extra_ids <= SENTINELS:
      raise ValueError(f"{path}: extra_ids={self._extra_ids}; the T5 checkpoints have "
                       f"{SENTINELS} sentinels: {fix}.")
    for i in range(SENTINELS - self._extra_ids):
      piece = tokenizer.id_to_piece(pieces - 1 - i)
      if piece != f"<extra_id_{i}>":
        raise ValueError(
            f"{path}: id {pieces - 1 - i} is {piece!r}, not <extra_id_{i}>; with "
            f"extra_ids={self._extra_ids} the model must end with the sentinels the T5 "
            f"checkpoints learnt: {fix}.")

PUBLIC_T5 = PublicT5Vocabulary()
