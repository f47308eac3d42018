"""Fill-in-the-middle (FIM), the objective of SantaCoder, StarCoder and Code Llama, as a seqio
preprocessor over tokenized `targets`.

Each file is cut into chunks that fit the sequence with the 3 sentinels; with probability
`rate` a chunk is split at two uniformly drawn token positions into prefix, middle and suffix and
reordered, in PSM order (probability 1 - spm_rate):

    <fim_prefix> prefix <fim_suffix> suffix <fim_middle> middle

or in SPM order (StarCoder's variant, which keeps prefix and middle contiguous):

    <fim_prefix> <fim_suffix> suffix <fim_middle> prefix middle

The other chunks stay plain left-to-right text. Splitting token ids (not characters) keeps the
three parts exact: prefix + middle + suffix is the chunk's tokens, so the text, exactly.

The sentinels are the three lowest extra ids of the vocabulary (`sentinel_ids`): extra_id_0 is
the highest id, so span corruption, which numbers its sentinels from extra_id_0 down, reaches
them only with 98 or more spans in one example. Byte vocabulary (100 extra ids): 259
<fim_prefix>, 260 <fim_middle>, 261 <fim_suffix>; code SentencePiece (8192 ids, 100 extra):
8092, 8093, 8094; T5's public vocabulary: 32000, 32001, 32002 (its extra_id_99..97, which its
checkpoints never saw as anything else). A vocabulary without three extra ids (a Hugging Face
tokenizer) is refused in one line.
"""
from typing import Mapping

import seqio
import tensorflow as tf

from code_t5.data.t5_compat import t5_preprocessors

SENTINELS = ("<fim_prefix>", "<fim_middle>", "<fim_suffix>")
DEFAULT_RATE = 0.5  # the share of FIM examples in SantaCoder, StarCoder and Code Llama
DEFAULT_SPM_RATE = 0.5


def sentinel_ids(vocabulary: seqio.Vocabulary) -> tuple[int, int, int]:
  """(<fim_prefix>, <fim_middle>, <fim_suffix>) ids: the vocabulary's three lowest extra ids."""
  extra = getattr(vocabulary, "extra_ids", 0) or 0
  if extra < 3:
    raise ValueError(f"fill-in-the-middle needs 3 unused ids for its sentinels, but the "
                     f"vocabulary {type(vocabulary).__name__} has {extra} extra ids; train FIM "
                     "with the byte, code SentencePiece or T5 vocabulary.")
  base = vocabulary.vocab_size - extra
  return base, base + 1, base + 2


def reorder(tokens: tf.Tensor, seed: tf.Tensor, ids: tuple[int, int, int], rate: float,
            spm_rate: float) -> tf.Tensor:
  """One chunk of token ids, reordered for FIM (or not, with probability 1 - rate)."""
  prefix_id, middle_id, suffix_id = ids
  seeds = tf.random.experimental.stateless_split(seed, 3)
  n = tf.size(tokens)
  cuts = tf.sort(tf.random.stateless_uniform([2], seeds[1], minval=0, maxval=n + 1,
                                             dtype=tf.int32))
  prefix, middle, suffix = tokens[:cuts[0]], tokens[cuts[0]:cuts[1]], tokens[cuts[1]:]
  one = lambda i: tf.constant([i], tokens.dtype)
  psm = tf.concat([one(prefix_id), prefix, one(suffix_id), suffix, one(middle_id), middle], 0)
  spm = tf.concat([one(prefix_id), one(suffix_id), suffix, one(middle_id), prefix, middle], 0)
  fim = tf.cond(tf.random.stateless_uniform([], seeds[2]) < spm_rate, lambda: spm, lambda: psm)
  return tf.cond(tf.random.stateless_uniform([], seeds[0]) < rate, lambda: fim, lambda: tokens)


def fill_in_the_middle(dataset: tf.data.Dataset, sequence_length: Mapping[str, int],
                       output_features: Mapping[str, seqio.Feature],
                       rate: float = DEFAULT_RATE,
                       spm_rate: float = DEFAULT_SPM_RATE) -> tf.data.Dataset:
  """Tokenized files -> FIM examples of at most sequence_length['targets'] tokens with EOS."""
  ids = sentinel_ids(output_features["targets"].vocabulary)
  # Room for the 3 sentinels and EOS; chunks of one file, never two files in one chunk.
  room = sequence_length["targets"] - 4
  if room < 1:
    raise ValueError(f"targets length {sequence_length['targets']}: FIM needs at least 5.")
  dataset = t5_preprocessors.split_tokens(dataset, max_tokens_per_segment=room,
                                          feature_key="targets")

  @seqio.map_over_dataset(num_seeds=1)
  def _reorder(features, seed):
    return {**features, "targets": reorder(features["targets"], seed, ids, rate, spm_rate)}

  return seqio.preprocessors.append_eos_after_trim(_reorder(dataset), output_features,
                                                   sequence_length)
