"""A seqio vocabulary over a Hugging Face tokenizer folder (CodeT5's byte-level BPE, Flan-T5's
SentencePiece), so tasks and T5X speak the token ids a converted HF checkpoint was trained on.

The tokenizer is loaded from a local folder on first use (never from the Hub): T5X masks
padding as id 0 and appends the tokenizer's own end-of-sequence id, both checked on load.
"""
import os
from typing import Iterable, Optional, Sequence

import gin
import numpy as np
import seqio
import tensorflow as tf

# Files of a saved tokenizer; one of them must be in the folder.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "spiece.model")


@gin.configurable
class HuggingFaceVocabulary(seqio.Vocabulary):
  """The tokenizer saved in `path` (a `save_pretrained` folder), ids unchanged.

  Encoding adds no special tokens (seqio appends EOS itself); decoding drops padding, BOS and
  EOS and keeps everything else, so byte-level BPE tokenizers give back the exact text.
  """

  def __init__(self, path: str, extra_ids: int = 0):
    self._path = path
    self._tokenizer = None
    super().__init__(extra_ids=extra_ids)

  @property
  def path(self) -> str:
    return self._path

  @property
  def tokenizer(self):
    if self._tokenizer is None:
      self._tokenizer = load_tokenizer(self._path)
    return self._tokenizer

  @property
  def eos_id(self) -> Optional[int]:
    return self.tokenizer.eos_token_id

  @property
  def unk_id(self) -> Optional[int]:
    return self.tokenizer.unk_token_id

  @property
  def _base_vocab_size(self) -> int:
    return len(self.tokenizer)

  def _dropped_ids(self) -> set:
    tokenizer = self.tokenizer
    # seqio's decode keeps the EOS it stops at; SentencePiece renders it as "", so do we.
    return {i for i in (self.pad_id, tokenizer.bos_token_id, tokenizer.eos_token_id)
            if i is not None}

  def _encode(self, s: str) -> Sequence[int]:
    return self.tokenizer.encode(s, add_special_tokens=False)

  def _decode(self, ids: Iterable[int]) -> str:
    dropped = self._dropped_ids()
    kept = [int(i) for i in ids if int(i) not in dropped]
    return self.tokenizer.decode(kept, skip_special_tokens=False,
                                 clean_up_tokenization_spaces=False)

  def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
    """A scalar string gives a 1-D int32 tensor; a 1-D batch a RaggedTensor."""
    s = tf.convert_to_tensor(s, tf.string)

    def encode_batch(texts: np.ndarray):
      rows = [self._encode(t.decode("utf-8")) for t in np.reshape(texts, [-1])]
      flat = np.asarray([i for row in rows for i in row], np.int32)
      return flat, np.asarray([len(row) for row in rows], np.int64)

    flat, lengths = tf.numpy_function(encode_batch, [s], (tf.int32, tf.int64), stateful=False)
    flat.set_shape([None])
    if s.shape.rank == 0:
      return flat
    lengths.set_shape([None])
    return tf.RaggedTensor.from_row_lengths(flat, lengths)

  def _decode_tf(self, ids: tf.Tensor) -> tf.Tensor:
    """A 1-D id tensor gives a scalar string; [batch, length] a 1-D string tensor."""
    ids = tf.convert_to_tensor(ids)
    if isinstance(ids, tf.RaggedTensor):
      ids = ids.to_tensor(self.pad_id)

    def decode_batch(batch: np.ndarray) -> np.ndarray:
      rows = np.reshape(batch, [-1, batch.shape[-1]])
      texts = [self._decode(row).encode("utf-8") for row in rows]
      return np.reshape(np.asarray(texts, dtype=object), batch.shape[:-1])

    text = tf.numpy_function(decode_batch, [ids], tf.string, stateful=False)
    text.set_shape(ids.shape[:-1])
    return text

  def __eq__(self, other) -> bool:
    return (isinstance(other, HuggingFaceVocabulary) and self._path == other._path
            and self._extra_ids == other._extra_ids)

  def __hash__(self) -> int:
    return hash((type(self).__name__, self._path, self._extra_ids))

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_tokenizer"] = None  # reloaded from the folder where unpickled
    return state


def load_tokenizer(path: str):
  """The tokenizer saved in folder `path`, checked for what T5X needs (pad 0, an EOS id)."""
  if not os.path.isdir(path) or not any(
      os.path.exists(os.path.join(path, f)) for f in TOKENIZER_FILES):
    raise FileNotFoundError(
        f"{path}: no Hugging Face tokenizer (none of {', '.join(TOKENIZER_FILES)}). Point the "
        "vocabulary at the folder scripts/convert_hf_t5.py wrote (its `tokenizer/`) or at a "
        "`save_pretrained` folder.")
  import transformers  # pylint: disable=g-import-not-at-top  (only where HF vocabularies are used)
  tokenizer = transformers.AutoTokenizer.from_pretrained(path, local_files_only=True)
  if tokenizer.pad_token_id != 0:
    raise ValueError(
        f"{path}: the tokenizer's pad id is {tokenizer.pad_token_id}, but T5X and seqio treat "
        "id 0 as padding; only T5-family tokenizers (pad = 0) can be used.")
  if tokenizer.eos_token_id is None:
    raise ValueError(f"{path}: the tokenizer has no eos token; seqio appends one to every "
                     "sequence. Set `eos_token` in its tokenizer_config.json.")
  return tokenizer
