"""Fill-in-the-middle: the reordering, pinned on fixed seeds; prefix + middle + suffix is the
original exactly; the rates; the registered tasks over prepared files."""
import numpy as np
import pytest
import seqio
import tensorflow as tf

from code_t5.data import fim
from code_t5.data import vocabularies

IDS = fim.sentinel_ids(vocabularies.BYTE)
PREFIX, MIDDLE, SUFFIX = IDS


def _reorder(tokens, seed, rate=1.0, spm_rate=0.5):
  return fim.reorder(tf.constant(tokens, tf.int32), tf.constant(seed, tf.int32), IDS, rate,
                     spm_rate).numpy().tolist()


def _parts(out: list[int]):
  """(order, prefix, middle, suffix) of a FIM example, or None for a plain one."""
  if not out or out[0] != PREFIX:
    return None
  if out[1] == SUFFIX:  # SPM: <P><S> suffix <M> prefix+middle (the cut inside is not marked)
    m = out.index(MIDDLE)
    return "spm", out[m + 1:], out[2:m]
  s, m = out.index(SUFFIX), out.index(MIDDLE)
  return "psm", out[1:s] + out[m + 1:], out[s + 1:m]


def test_byte_vocabulary_sentinels_are_its_three_lowest_extra_ids():
  assert IDS == (259, 260, 261)
  assert vocabularies.BYTE.vocab_size - vocabularies.BYTE.extra_ids == 259
  # extra_id_0 is the highest id: span corruption's first sentinels stay clear of FIM's.
  assert vocabularies.BYTE.vocab_size - 1 not in IDS


def test_reordering_is_pinned_on_fixed_seeds():
  tokens = list(range(10, 20))
  assert _reorder(tokens, [1, 2]) == _reorder(tokens, [1, 2])  # deterministic
  got = {tuple(_reorder(tokens, [s, 0])) for s in range(40)}
  assert len(got) > 10  # the seed moves the cuts
  # Pinned: seed (0, 0) and (3, 0) as computed when this objective was written.
  assert _reorder(tokens, [0, 0]) == PINNED[(0, 0)]
  assert _reorder(tokens, [3, 0]) == PINNED[(3, 0)]


def test_prefix_middle_suffix_is_the_original_exactly_in_both_orders():
  rng = np.random.default_rng(0)
  orders = {"psm": 0, "spm": 0}
  for s in range(300):
    tokens = rng.integers(3, 259, size=rng.integers(0, 40)).tolist()
    out = _reorder(tokens, [s, 7])
    order, prefix_and_middle, suffix = _parts(out)
    orders[order] += 1
    assert len(out) == len(tokens) + 3
    assert prefix_and_middle + suffix == tokens
  assert min(orders.values()) > 100  # spm_rate 0.5: both orders


def test_fim_rate_is_the_share_of_reordered_chunks():
  tokens = list(range(10, 30))
  reordered = sum(_parts(_reorder(tokens, [s, 1], rate=0.5)) is not None for s in range(1000))
  assert 430 < reordered < 570  # binomial(1000, 0.5): 4.4 standard deviations either side
  assert all(_reorder(tokens, [s, 1], rate=0.0) == tokens for s in range(50))


def test_a_vocabulary_without_three_extra_ids_is_refused_in_one_line():
  with pytest.raises(ValueError, match="needs 3 unused ids.*has 0 extra ids"):
    fim.sentinel_ids(seqio.ByteVocabulary(extra_ids=0))


def test_fim_task_examples_fit_end_with_eos_and_rebuild_file_text(use_data_dir):
  import code_t5.tasks  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  task = seqio.get_mixture_or_task("flcc_dev_python_fim")
  length = 64
  examples = list(task.get_dataset({"targets": length}, split="train", shuffle=False,
                                   seed=3).as_numpy_iterator())
  assert len(examples) > 20
  texts = "".join(ex.decode("utf-8") for ex in _file_texts(use_data_dir))
  kinds = {"psm": 0, "spm": 0, None: 0}
  for ex in examples:
    out = ex["targets"].tolist()
    assert len(out) <= length and out[-1] == vocabularies.BYTE.eos_id
    parts = _parts(out[:-1])
    kinds[parts[0] if parts else None] += 1
    tokens = parts[1] + parts[2] if parts else out[:-1]
    assert vocabularies.BYTE.decode(tokens) in texts
  assert all(kinds.values()), kinds


def _file_texts(data_dir):
  import glob  # pylint: disable=g-import-not-at-top
  import os  # pylint: disable=g-import-not-at-top
  pattern = os.path.join(data_dir, "flcc_dev", "python", "train.tfrecord-*")
  for record in tf.data.TFRecordDataset(sorted(glob.glob(pattern))):
    yield tf.io.parse_single_example(record, {"text": tf.io.FixedLenFeature([], tf.string)})[
        "text"].numpy()


PINNED = {  # PSM: prefix [10], suffix [16..19], middle [11..15]; SPM: the same cuts' other order
    (0, 0): [PREFIX, 10, SUFFIX, 16, 17, 18, 19, MIDDLE, 11, 12, 13, 14, 15],
    (3, 0): [PREFIX, SUFFIX, 16, 17, 18, 19, MIDDLE, 10, 11, 12, 13, 14, 15],
}
