"""Exports wikitext (Hugging Face `wikitext`) to JSON lines: one `{"text": ...}` per row.

Rows of `min_length` characters or fewer are dropped (many rows are empty or headings); the
summary counts rows read and kept per split and is what the task's example counts come from.
"""
import glob
import json
import os
from typing import Optional

import tqdm

from code_t5.corpora import atomic

SPLITS = ("train", "validation", "test")
CONFIGS = ("wikitext-103-raw-v1", "wikitext-2-raw-v1", "wikitext-103-v1", "wikitext-2-v1")
SUMMARY = "wikitext_summary.json"


def split_path(out_dir: str, split: str) -> str:
  return os.path.join(out_dir, f"wikitext_{split}.jsonl")


def read_summary(out_dir: str) -> dict:
  with open(os.path.join(out_dir, SUMMARY)) as f:
    return json.load(f)


def _local_files(path: str, split: str, ext: str) -> list[str]:
  """Files of a split in HF's layout (`<split>-0000N-of-0000M.<ext>`, maybe under `<config>/`)
  or named `<split>.<ext>`."""
  found = []
  for pattern in (f"{split}-*.{ext}", f"{split}.{ext}", f"*/{split}-*.{ext}"):
    found += glob.glob(os.path.join(path, pattern))
  return sorted(set(found))


def load(config: str = "wikitext-103-raw-v1", from_disk: Optional[str] = None):
  """A `datasets.DatasetDict` with the three splits: from the hub, or from local files
  (`save_to_disk` output, or the hub's parquet / JSON(L) files)."""
  import datasets  # pylint: disable=g-import-not-at-top  (slow import)
  if from_disk is None:
    return datasets.load_dataset("wikitext", config)
  if not os.path.isdir(from_disk):
    raise FileNotFoundError(f"--from_disk={from_disk}: not a folder.")
  if os.path.exists(os.path.join(from_disk, "dataset_dict.json")):
    return datasets.load_from_disk(from_disk)
  for ext, builder in (("parquet", "parquet"), ("jsonl", "json"), ("json", "json")):
    files = {split: _local_files(from_disk, split, ext) for split in SPLITS}
    if any(files.values()):
      missing = [s for s, f in files.items() if not f]
      if missing:
        raise FileNotFoundError(f"--from_disk={from_disk}: no {ext} files for split(s) "
                                f"{missing} (expected e.g. {missing[0]}-00000-of-00001.{ext}).")
      return datasets.load_dataset(builder, data_files=files)
  raise FileNotFoundError(
      f"--from_disk={from_disk}: no dataset found; expected a `save_to_disk` folder or the "
      "hub's files, e.g. wikitext-103-raw-v1/train-00000-of-00002.parquet.")


def export(out_dir: str, config: str = "wikitext-103-raw-v1", from_disk: Optional[str] = None,
           min_length: int = 100, test_into_train: bool = False) -> dict:
  """Writes wikitext_{train,validation,test}.jsonl and the summary; returns the summary.

  `test_into_train` appends the test rows to train (as the original code-t5 did), keeping
  validation for evaluation; test.jsonl is then still written, for reference.
  """
  if config not in CONFIGS:
    raise ValueError(f"--config={config}: expected one of {', '.join(CONFIGS)}.")
  dataset = load(config, from_disk)
  if "text" not in dataset["train"].column_names:
    raise ValueError(f"{from_disk or config}: no `text` column (found "
                     f"{dataset['train'].column_names}); is this wikitext?")
  os.makedirs(out_dir, exist_ok=True)
  summary = {"config": config, "source": from_disk or "huggingface hub", "min_length": min_length,
             "test_into_train": test_into_train, "splits": {}}
  for split in SPLITS:
    sources = [split] + (["test"] if split == "train" and test_into_train else [])
    read = sum(len(dataset[s]) for s in sources)
    rows = tqdm.tqdm((row for s in sources for row in dataset[s]), total=read,
                     desc=f"wikitext {split}", unit="row")
    kept = atomic.write_jsonl(split_path(out_dir, split),
                              ({"text": r["text"]} for r in rows if len(r["text"]) > min_length))
    summary["splits"][split] = {"read": read, "kept": kept}
  atomic.write_json(os.path.join(out_dir, SUMMARY), summary, indent=1)
  return summary
