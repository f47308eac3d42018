"""A seqio vocabulary over a Hugging Face tokenizer folder (CodeT5's byte-level BPE, Flan-T5's
SentencePiece), so tasks and T5X speak the token ids a converted HF checkpoint was trained on.

The tokenizer is loaded from a local folder on first use (never from the Hub): T5X masks
padding as id 0 and appends the tokenizer's own end-of-sequence id, both checked on load.
The `_hf` tasks use `HuggingFaceVocabulary()` without a path: the folder is read when the
vocabulary is first used, from $CODE_T5_HF_TOKENIZER or the gin-bound `hf_tokenizer_dir.path`
(models/hf_t5.gin binds it to the converted checkpoint's tokenizer).
"""
import os
import re
from typing import Iterable, Optional, Sequence

import gin
import numpy as np
import seqio
import tensorflow as tf

# Files of a saved tokenizer; one of them must be in the folder.
TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "vocab.json", "spiece.model")
ENV_VAR = "CODE_T5_HF_TOKENIZER"
_SENTINEL = re.compile(r"<extra_id_(\d+)>")


def _same_folder(a: str, b: str) -> bool:
  return os.path.realpath(os.path.expanduser(a)) == os.path.realpath(os.path.expanduser(b))


@gin.configurable
def hf_tokenizer_dir(path: Optional[str] = None) -> Optional[str]:
  """The gin-bound tokenizer folder of the `_hf` tasks (models/hf_t5.gin binds the converted
  checkpoint's); read through `configured_tokenizer_dir`."""
  return path


def configured_tokenizer_dir() -> str:
  """The tokenizer folder of the `_hf` tasks: $CODE_T5_HF_TOKENIZER or `hf_tokenizer_dir.path`.

  Both may be set only to the same folder: the model's vocabulary (models/hf_t5.gin) and the
  tasks' must be one tokenizer, and silently preferring either would train on the other's ids.
  """
  env, bound = os.environ.get(ENV_VAR), hf_tokenizer_dir()
  if env and bound and not _same_folder(env, bound):
    raise ValueError(f"{ENV_VAR}={env} but gin binds hf_tokenizer_dir.path = {bound} (the "
                     "converted checkpoint's model.gin does): unset one, or point both at the "
                     "same tokenizer folder.")
  folder = env or bound
  if not folder:
    raise ValueError(f"the `_hf` tasks need a Hugging Face tokenizer folder: set {ENV_VAR} to "
                     "the tokenizer/ folder code-t5-convert-hf-t5 wrote (or bind "
                     "hf_vocabulary.hf_tokenizer_dir.path in gin, as its model.gin does).")
  return os.path.abspath(os.path.expanduser(folder))


@gin.configurable
class HuggingFaceVocabulary(seqio.Vocabulary):
  """The tokenizer saved in `path` (a `save_pretrained` folder), ids unchanged; without a
  path, the folder `configured_tokenizer_dir()` names when the vocabulary is used.

  Encoding adds no special tokens (seqio appends EOS itself); decoding drops padding, BOS and
  EOS and keeps everything else, so byte-level BPE tokenizers give back the exact text.
  """

  def __init__(self, path: Optional[str] = None, extra_ids: int = 0):
    self._path = path
    self._tokenizer = None
    self._tokenizer_path = None
    self._sentinels = None
    super().__init__(extra_ids=extra_ids)

  @property
  def path(self) -> str:
    """Resolved at each use when unset, so one registry serves whichever run's setting."""
    return self._path if self._path is not None else configured_tokenizer_dir()

  @property
  def tokenizer(self):
    path = self.path
    if self._tokenizer is None or self._tokenizer_path != path:
      self._tokenizer = load_tokenizer(path)
      self._tokenizer_path = path
      self._sentinels = None
    return self._tokenizer

  def sentinel_problem(self) -> Optional[str]:
    """Why span corruption cannot run on this vocabulary, or None.

    t5's span corruption writes sentinel i as id vocab_size - 1 - i. A checkpoint learnt its
    sentinels as the tokenizer's `<extra_id_i>` tokens, so they must be exactly there (T5's and
    Flan-T5's tokenizers are); otherwise ordinary tokens would silently become sentinels.
    """
    if self._extra_ids:
      return None  # seqio's own extra ids are the sentinels
    tokenizer = self.tokenizer
    if self._sentinels is None:
      self._sentinels = {int(m.group(1)): i for token, i in tokenizer.get_vocab().items()
                         if (m := _SENTINEL.fullmatch(token))}
    found, size = self._sentinels, len(tokenizer)
    if not found:
      return (f"{self.path}: the tokenizer has no sentinel tokens (<extra_id_0>, ...) for span "
              "corruption; fine-tune this checkpoint on a task without span corruption.")
    for i in range(len(found)):
      if found.get(i) != size - 1 - i:
        return (f"{self.path}: <extra_id_{i}> is id {found.get(i)}, but span corruption writes "
                f"sentinel {i} as id {size - 1 - i} (the last ids, counting down, as in T5's "
                "tokenizers); fine-tune this checkpoint on a task without span corruption.")
    return None

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
    return self._decode_with(self.tokenizer, self._dropped_ids(), ids)

  @staticmethod
  def _decode_with(tokenizer, dropped: set, ids: Iterable[int]) -> str:
    kept = [int(i) for i in ids if int(i) not in dropped]
    return tokenizer.decode(kept, skip_special_tokens=False, clean_up_tokenization_spaces=False)

  # The TF ops take the tokenizer when the graph is built (in the thread that holds the run's
  # gin config), not in tf.data's threads.
  def _encode_tf(self, s: tf.Tensor) -> tf.Tensor:
    """A scalar string gives a 1-D int32 tensor; a 1-D batch a RaggedTensor."""
    s = tf.convert_to_tensor(s, tf.string)
    tokenizer = self.tokenizer

    def encode_batch(texts: np.ndarray):
      rows = [tokenizer.encode(t.decode("utf-8"), add_special_tokens=False)
              for t in np.reshape(texts, [-1])]
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
    tokenizer, dropped = self.tokenizer, self._dropped_ids()

    def decode_batch(batch: np.ndarray) -> np.ndarray:
      rows = np.reshape(batch, [-1, batch.shape[-1]])
      texts = [self._decode_with(tokenizer, dropped, row).encode("utf-8") for row in rows]
      return np.reshape(np.asarray(texts, dtype=object), batch.shape[:-1])

    text = tf.numpy_function(decode_batch, [ids], tf.string, stateful=False)
    text.set_shape(ids.shape[:-1])
    return text

  # T5X compares the task's vocabulary with the model's: the same folder is the same one.
  def __eq__(self, other) -> bool:
    if self is other:
      return True
    return (isinstance(other, HuggingFaceVocabulary) and self._extra_ids == other._extra_ids
            and _same_folder(self.path, other.path))

  def __hash__(self) -> int:
    return hash((type(self).__name__, self._extra_ids))  # the path may not be resolvable yet

  def __repr__(self) -> str:
    try:
      path = repr(self.path)
    except ValueError:
      path = f"${ENV_VAR} or hf_tokenizer_dir.path, unset"
    return f"HuggingFaceVocabulary({path}, extra_ids={self._extra_ids})"

  def __getstate__(self):
    state = dict(self.__dict__)
    state["_path"] = self.path  # where unpickled there may be no gin config
    state["_tokenizer"] = state["_tokenizer_path"] = state["_sentinels"] = None
    return state


def load_tokenizer(path: str):
  """The tokenizer saved in folder `path`, checked for what T5X needs (pad 0, an EOS id)."""
  if not os.path.isdir(path) or not any(
      os.path.exists(os.path.join(path, f)) for f in TOKENIZER_FILES):
    raise FileNotFoundError(
        f"{path}: no Hugging Face tokenizer (none of {', '.join(TOKENIZER_FILES)}). Point the "
        "vocabulary at the folder code-t5-convert-hf-t5 wrote (its `tokenizer/`) or at a "
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
