"""seqio data sources over prepared files, located when read (the data dir is set at use time)."""
import collections.abc
import json
import os
from typing import Callable, Optional, Sequence

import seqio
import tensorflow as tf

from code_t5 import atomic_files as atomic
from code_t5 import paths
from code_t5.corpora import prepare
from code_t5.corpora.splits import SPLITS



class _ShardPatterns(collections.abc.Mapping):
  """split -> shard glob, computed on each lookup so the data dir is read at use time."""

  def __init__(self, language_slug: str, dev: bool):
    self._slug, self._dev = language_slug, dev

  def __getitem__(self, split: str) -> str:
    if split not in SPLITS:
      raise KeyError(split)
    return prepare.shard_pattern(paths.flcc_dir(self._dev), self._slug, split)

  def __iter__(self):
    return iter(SPLITS)

  def __len__(self) -> int:
    return len(SPLITS)

  def __repr__(self) -> str:
    return f"_ShardPatterns({self._slug!r}, dev={self._dev})"


class PreparedFlccSource(seqio.TFExampleDataSource):
  """Shards written by code-t5-prepare-flcc, with a clear error when there are none."""

  def __init__(self, language_slug: str, dev: bool = False):
    super().__init__(
        split_to_filepattern=_ShardPatterns(language_slug, dev),
        feature_description={k: tf.io.FixedLenFeature([], tf.string) for k in prepare.FEATURES})
    self._slug, self._dev = language_slug, dev

  def list_shards(self, split: str):
    # Globbed here on each call: the seqio of the Mesh TF stack caches
    # FileDataSource.list_shards per source, which would keep an earlier data dir's listing.
    files = sorted(set(tf.io.gfile.glob(self._split_to_filepattern[split])))
    if not files:
      script = ("code-t5-make-dev-dataset" if self._dev else
                "code-t5-prepare-flcc --flcc_root=<FLCC root>")
      raise FileNotFoundError(
          f"No prepared {self._slug} data for split {split!r}: nothing matches "
          f"{self._split_to_filepattern[split]}. Run `{script}` first, or point "
          f"${paths.ENV_VAR} at the folder that holds flcc{'_dev' if self._dev else ''}/.")
    return files

  @property
  def splits(self) -> Sequence[str]:
    """The splits with prepared files; all of them before any preparation (reading one then
    fails with the command to run). T5X and seqio skip a task without the split they evaluate:
    a small language may have training files only."""
    try:
      manifest = prepare.read_manifest(paths.flcc_dir(self._dev))
    except FileNotFoundError:
      return SPLITS
    counts = manifest["languages"].get(self._slug)
    if not counts:
      return SPLITS
    return tuple(s for s in SPLITS if counts.get(s, {}).get("files", 0))

  def num_input_examples(self, split: str) -> Optional[int]:
    """Files in the split, from the manifest (used by seqio.mixing_rate_num_examples)."""
    try:
      manifest = prepare.read_manifest(paths.flcc_dir(self._dev))
    except FileNotFoundError:
      return None
    return manifest["languages"].get(self._slug, {}).get(split, {}).get("files", 0)




class _JsonLinesPatterns(collections.abc.Mapping):
  """split -> the export's path (the data dir read at use time); the files are listed by
  JsonLinesSource.list_shards."""

  def __init__(self, path_fn: Callable[[str], str], splits: Sequence[str]):
    self._path_fn, self._splits = path_fn, tuple(splits)

  def __getitem__(self, split: str) -> str:
    if split not in self._splits:
      raise KeyError(split)
    return self._path_fn(split)

  def __iter__(self):
    return iter(self._splits)

  def __len__(self) -> int:
    return len(self._splits)


class JsonLinesSource(seqio.FileDataSource):
  """JSON lines, one example per line, in one file or in shards (`<path>-00000-of-0000N`, as
  the exports write them): under N hosts (seqio's ShardInfo) each host reads its own shards.
  An export with fewer files than hosts is read whole by each host, which keeps 1/N.

  Each field a string, a number (read as its text) or null (read as ""). Anything else (a
  malformed line, a list or an object where a string is expected) stops reading with an error
  naming the file, the line and the field."""

  def __init__(self, path_fn: Callable[[str], str], fields: Sequence[str],
               count_fn: Callable[[str], Optional[int]], missing_hint: str,
               splits: Sequence[str] = SPLITS):
    self._path_fn, self._fields, self._count_fn = path_fn, tuple(fields), count_fn
    self._missing_hint = missing_hint
    super().__init__(read_file_fn=self._read_file,
                     split_to_filepattern=_JsonLinesPatterns(path_fn, splits),
                     block_length=1)

  def list_shards(self, split: str) -> Sequence[str]:
    path = self._path_fn(split)
    files = atomic.jsonl_files(path)
    if not files:
      raise FileNotFoundError(f"{path}: not found. {self._missing_hint}")
    return files

  def get_dataset(self, split: str = "train", shuffle: bool = True,
                  seed: Optional[int] = None, shard_info: Optional[seqio.ShardInfo] = None,
                  **kwargs) -> tf.data.Dataset:
    # One row from each file in turn: the exports deal rows to the shards in turn, so an
    # unshuffled read gives them back in the exported order.
    self._cycle_length = len(self.list_shards(split))
    if shard_info and self._cycle_length < shard_info.num_shards:
      return super().get_dataset(split, shuffle, seed, None, **kwargs).shard(
          shard_info.num_shards, shard_info.index)
    return super().get_dataset(split, shuffle, seed, shard_info, **kwargs)

  def _records(self, path: str):
    path = path.decode("utf-8") if isinstance(path, bytes) else path
    with open(path, encoding="utf-8") as f:
      for number, line in enumerate(f, 1):
        try:
          record = json.loads(line)
          if not isinstance(record, dict):
            raise ValueError(f"a JSON {type(record).__name__}, not an object")
        except ValueError as e:
          raise ValueError(f"{path}:{number}: malformed JSON line ({e}); fix or delete the "
                           "line, or re-export the data.") from None
        example = {}
        for k in self._fields:
          value = record.get(k)
          if isinstance(value, (list, dict, bool)):
            raise ValueError(f"{path}:{number}: field {k!r} is a JSON "
                             f"{type(value).__name__}, not a string; fix the line, or "
                             "re-export the data.")
          example[k] = "" if value is None else str(value)
        yield example

  def _read_file(self, path: tf.Tensor) -> tf.data.Dataset:
    return tf.data.Dataset.from_generator(
        self._records, args=(path,),
        output_signature={k: tf.TensorSpec((), tf.string) for k in self._fields})

  def num_input_examples(self, split: str) -> Optional[int]:
    return self._count_fn(split)
