"""A prepared split as plain files: what the autocomplete replay and the n-gram baseline read."""
import glob
import os
from typing import Iterator


def shards(prepared_dir: str, language: str, split: str) -> list[str]:
  """The TFRecord shards of `split` for `language`; a one-line error naming the fix if none."""
  found = sorted(glob.glob(os.path.join(prepared_dir, language, f"{split}.tfrecord-*")))
  if not found:
    raise FileNotFoundError(f"{prepared_dir}/{language}: no {split} shards; run "
                            "code-t5-make-dev-dataset (or code-t5-prepare-flcc) first.")
  return found


def read(prepared_dir: str, language: str, split: str) -> Iterator[tuple[str, str]]:
  """(original path, text) of each file of the split, in shard order."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  spec = {"text": tf.io.FixedLenFeature([], tf.string),
          "path": tf.io.FixedLenFeature([], tf.string)}
  for record in tf.data.TFRecordDataset(shards(prepared_dir, language, split)):
    example = tf.io.parse_single_example(record, spec)
    yield example["path"].numpy().decode("utf-8"), example["text"].numpy().decode("utf-8")


def write(prepared_dir: str, language: str, split: str, out_dir: str) -> list[str]:
  """Writes each file of the split to `out_dir` as NNNNN_<original name>; returns the paths."""
  os.makedirs(out_dir, exist_ok=True)
  written = []
  for i, (path, text) in enumerate(read(prepared_dir, language, split)):
    out = os.path.join(out_dir, f"{i:05d}_{os.path.basename(path)}")
    with open(out, "w", encoding="utf-8", newline="") as f:
      f.write(text)
    written.append(out)
  return written
