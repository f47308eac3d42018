"""Vocabularies: bytes (no file needed, the default), a code SentencePiece model, the public
T5 SentencePiece model of the T5 1.1 / Flan-T5 / UL2 checkpoints (code_t5.data.t5_vocabulary),
and the tokenizer of a converted Hugging Face checkpoint (code_t5.data.hf_vocabulary)."""
import math
import os
import re
from typing import Optional

import seqio

from code_t5 import paths
from code_t5 import quiet
from code_t5 import atomic_files as atomic
from code_t5.data import hf_vocabulary
from code_t5.data import lazy_sentencepiece
from code_t5.data import t5_vocabulary

# 100 sentinel ids for span corruption. 3 special + 256 bytes + 100 = 359 ids; models round
# the embedding up to 384 (a multiple of 128).
EXTRA_IDS = 100
BYTE_VOCAB_MODEL_SIZE = 384


class CodeSentencePieceVocabulary(lazy_sentencepiece.LazySentencePieceVocabulary):
  """The code SentencePiece model, looked up under the data dir when first used, so that
  `CODE_T5_DATA_DIR` (or an explicit `path`) can point at it after the tasks are registered."""

  def __init__(self, path: Optional[str] = None, extra_ids: int = EXTRA_IDS):
    super().__init__(path, extra_ids=extra_ids)

  def locate(self) -> str:
    return paths.vocab_model_path()

  def missing(self, path: str) -> str:
    return (f"{path}: no code SentencePiece model. Train one with "
            "`code-t5-train-vocab` (or set CODE_T5_DATA_DIR to where it lies), or use "
            "the byte-level tasks (names without `_spm`).")


BYTE = seqio.ByteVocabulary(extra_ids=EXTRA_IDS)
CODE_SPM = CodeSentencePieceVocabulary()
# The folder is $CODE_T5_HF_TOKENIZER or hf_tokenizer_dir.path, read when first used.
HF = hf_vocabulary.HuggingFaceVocabulary()
# Task-name suffix -> vocabulary.
BY_SUFFIX = {"": BYTE, "_spm": CODE_SPM, "_t5": t5_vocabulary.PUBLIC_T5, "_hf": HF}
# Name in gin configs (the VOCAB macro) -> task-name suffix.
SUFFIX_BY_NAME = {"byte": "", "spm": "_spm", "t5": "_t5", "hf": "_hf"}
# Embedding rows fixed by public checkpoints (restoring needs exactly these), by VOCAB name.
CHECKPOINT_EMBEDDING_SIZE = {"t5": t5_vocabulary.EMBEDDING_SIZE}


def _by_name(name: str) -> seqio.Vocabulary:
  if name not in SUFFIX_BY_NAME:
    raise ValueError(f"VOCAB = {name!r}: expected one of {sorted(SUFFIX_BY_NAME)}.")
  return BY_SUFFIX[SUFFIX_BY_NAME[name]]


def get_vocabulary(name: str = "byte") -> seqio.Vocabulary:
  """The vocabulary a gin config names ('byte', 'spm', 't5' or 'hf'); tasks ending `_spm` use
  'spm', `_t5` 't5', `_hf` 'hf'."""
  return _by_name(name)


def model_vocab_size(name: str = "byte") -> int:
  """Embedding rows for a vocabulary: its size rounded up to a multiple of 128, or the size of
  the public checkpoints it belongs to (32128 for 't5', read without loading the model)."""
  if name in CHECKPOINT_EMBEDDING_SIZE:
    return CHECKPOINT_EMBEDDING_SIZE[name]
  return -(-_by_name(name).vocab_size // 128) * 128


# SentencePiece options that make decode(encode(x)) == x for source code: no normalisation,
# no dummy prefix, whitespace kept (and allowed as pieces), bytes for anything unseen.
SPM_TRAINER_OPTIONS = dict(
    model_type="unigram", normalization_rule_name="identity", add_dummy_prefix=False,
    remove_extra_whitespaces=False, allow_whitespace_only_pieces=True,
    split_by_whitespace=False, byte_fallback=True, user_defined_symbols=["\n", "\t"],
    pad_id=0, eos_id=1, unk_id=2, bos_id=-1, character_coverage=0.9999,
    shuffle_input_sentence=False, minloglevel=2)


# SentencePiece's unigram trainer logs each EM round as "EM sub_iter=0 size=N ...": every
# round prunes the pieces by PRUNE_FACTOR until 1.1 x the requested size is left.
_EM_ROUND = re.compile(r"EM sub_iter=0 size=(\d+)")
_PRUNE_FACTOR = 0.75


class _TrainerProgress:
  """A progress bar over the trainer's pruning rounds, fed with its log lines."""

  def __init__(self, pieces: int, disable: bool):
    self._target = 1.1 * pieces
    self._disable = disable
    self._out = None
    self._bar = None
    self.errors: list[str] = []

  def start(self, out) -> None:
    self._out = out

  def __call__(self, line: str) -> None:
    if line[:1] in ("E", "F") and not quiet.NATIVE_NOISE.match(line):
      self.errors.append(line.rstrip())
    m = _EM_ROUND.search(line)
    if m:
      size = int(m.group(1))
      if self._bar is None:  # the first round: the rounds left follow from its size
        import tqdm  # pylint: disable=g-import-not-at-top
        rounds = 1 + max(0, math.ceil(math.log(self._target / size) / math.log(_PRUNE_FACTOR)))
        self._bar = tqdm.tqdm(total=rounds, desc="training the vocabulary", unit="round",
                              file=self._out, disable=self._disable)
      self._bar.update()

  def close(self) -> None:
    if self._bar is not None:
      self._bar.update(self._bar.total - self._bar.n)
      self._bar.close()


def train_sentencepiece(lines, model_path: str, vocab_size: int = 8192,
                        extra_ids: int = EXTRA_IDS, num_threads: int = 2,
                        progress: bool = False) -> str:
  """Trains the code SentencePiece model on an iterable of source lines.

  `vocab_size` counts the extra ids too and must be a multiple of 128 (TPU-friendly
  embeddings); the model itself gets `vocab_size - extra_ids` pieces. `progress`: a bar over
  the trainer's pruning rounds, with an estimate of the time left (`lines` may be a callable
  that takes the real stderr and returns the lines, to show its own bar while it is read).
  """
  import io  # pylint: disable=g-import-not-at-top
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top
  if vocab_size % 128:
    raise ValueError(f"vocab_size {vocab_size} is not a multiple of 128 (it includes the "
                     f"{extra_ids} extra ids); try {128 * round(vocab_size / 128) or 128}.")
  model = io.BytesIO()
  options = dict(SPM_TRAINER_OPTIONS, minloglevel=0)  # its INFO lines drive the bar
  bar = _TrainerProgress(vocab_size - extra_ids, disable=not progress)
  with quiet.native_stderr_lines(bar) as stderr:
    bar.start(stderr)
    try:
      spm.SentencePieceTrainer.train(
          sentence_iterator=iter(lines(stderr) if callable(lines) else lines),
          model_writer=model, vocab_size=vocab_size - extra_ids, num_threads=num_threads,
          **options)
    except RuntimeError as e:
      raise RuntimeError(f"SentencePiece training failed: {e} {' '.join(bar.errors)}") from None
    finally:
      bar.close()
  os.makedirs(os.path.dirname(os.path.abspath(model_path)), exist_ok=True)
  atomic.write_bytes(model_path, model.getvalue())
  return model_path
