"""Exports wikitext (Hugging Face `wikitext`) to JSON lines: one `{"text": ...}` per row.

Rows of `min_length` characters or fewer are dropped (many rows are empty or headings); the
summary counts rows read and kept per split and is what the task's example counts come from.
"""
import glob
import os
from typing import Optional

import tqdm

from code_t5 import atomic_files as atomic
from code_t5.corpora import hub
from code_t5.corpora.splits import SPLITS

CONFIGS = ("wikitext-103-raw-v1", "wikitext-2-raw-v1", "wikitext-103-v1", "wikitext-2-v1")
SUMMARY = "wikitext_summary.json"
HINT = ("Export it first: code-t5-export-wikitext (--from_disk=DIR for local files), "
        "or set $CODE_T5_DATA_DIR.")


def split_path(out_dir: str, split: str) -> str:
  return os.path.join(out_dir, f"wikitext_{split}.jsonl")



def _split_files(folder: str, split: str, ext: str) -> list[str]:
  """A split's files in one config's folder: the hub's `<split>-0000N-of-0000M.<ext>`, the
  parquet conversion's `<split>/0000.<ext>`, or `<split>.<ext>`."""
  found = []
  for pattern in (f"{split}-*.{ext}", f"{split}.{ext}", os.path.join(split, f"*.{ext}")):
    found += glob.glob(os.path.join(folder, pattern))
  return sorted(set(found))


def _config_files(folder: str) -> Optional[tuple[str, dict[str, list[str]]]]:
  """(datasets builder, {split: files}) when `folder` holds one config's files, else None."""
  for ext, builder in (("parquet", "parquet"), ("jsonl", "json"), ("json", "json")):
    files = {split: _split_files(folder, split, ext) for split in SPLITS}
    if any(files.values()):
      missing = [s for s, f in files.items() if not f]
      if missing:
        raise FileNotFoundError(f"{folder}: no {ext} files for split(s) {missing} (expected "
                                f"e.g. {missing[0]}-00000-of-00001.{ext} or "
                                f"{missing[0]}/0000.{ext}).")
      return builder, files
  return None


def _is_saved(folder: str) -> bool:
  return os.path.exists(os.path.join(folder, "dataset_dict.json"))


def configs_in(root: str) -> list[str]:
  """Sub-folders of a hub copy's root that hold a config's data (in any accepted layout)."""
  names = []
  for name in sorted(os.listdir(root)):
    folder = os.path.join(root, name)
    if os.path.isdir(folder) and not name.startswith(".") and (
        _is_saved(folder) or any(_split_files(folder, s, ext) for s in SPLITS
                                 for ext in ("parquet", "jsonl", "json"))):
      names.append(name)
  return names


def locate(config: str, from_disk: str) -> tuple[str, str, Optional[dict[str, list[str]]]]:
  """Where `config` is under `from_disk`: (builder, folder, {split: files}); builder
  'save_to_disk' (files None) or a `datasets` builder for the files.

  `from_disk` is one config's folder, or a hub copy's root with one folder per config, of
  which exactly `config` is read.
  """
  if not os.path.isdir(from_disk):
    raise FileNotFoundError(f"--from_disk={from_disk}: not a folder.")
  if _is_saved(from_disk):
    return "save_to_disk", from_disk, None
  direct = _config_files(from_disk)
  if direct:
    name = os.path.basename(os.path.normpath(from_disk))
    if name in CONFIGS and name != config:
      raise ValueError(f"--from_disk={from_disk} holds {name}, not --config={config}: pass "
                       f"--config={name}, or the folder above it to pick a config.")
    return direct[0], from_disk, direct[1]
  found = configs_in(from_disk)
  if config in found:
    folder = os.path.join(from_disk, config)
    if _is_saved(folder):
      return "save_to_disk", folder, None
    builder, files = _config_files(folder)
    return builder, folder, files
  if found:
    raise FileNotFoundError(f"--from_disk={from_disk}: no {config} folder; configs found: "
                            f"{', '.join(found)} (choose one with --config).")
  raise FileNotFoundError(
      f"--from_disk={from_disk}: no dataset found; expected a `save_to_disk` folder, a hub copy "
      "(wikitext-103-raw-v1/train-00000-of-00002.parquet, ...) or its parquet conversion "
      "(wikitext-103-raw-v1/train/0000.parquet, ...).")


def load(config: str = "wikitext-103-raw-v1", from_disk: Optional[str] = None):
  """(`datasets.DatasetDict` with the three splits, {split: files read}): from the hub, or
  from local files (see `locate`)."""
  if from_disk is None:
    dataset = hub.load_dataset("wikitext", config)
  else:
    import datasets  # pylint: disable=g-import-not-at-top  (slow import)
    builder, folder, files = locate(config, from_disk)
    if files is not None:
      return datasets.load_dataset(builder, data_files=files), files
    dataset = datasets.load_from_disk(folder)
  return dataset, {split: sorted({f["filename"] for f in dataset[split].cache_files})
                   for split in SPLITS if split in dataset}


def export(out_dir: str, config: str = "wikitext-103-raw-v1", from_disk: Optional[str] = None,
           min_length: int = 100, test_into_train: bool = False,
           shards: int = atomic.EXPORT_SHARDS) -> dict:
  """Writes wikitext_{train,validation,test}.jsonl (each in `shards` files,
  wikitext_<split>.jsonl-0000i-of-0000N) and the summary; returns the summary.

  `test_into_train` appends the test rows to train (as the original code-t5 did), keeping
  validation for evaluation; test.jsonl is then still written, for reference.
  """
  if config not in CONFIGS:
    raise ValueError(f"--config={config}: expected one of {', '.join(CONFIGS)}.")
  dataset, files = load(config, from_disk)
  if "text" not in dataset["train"].column_names:
    raise ValueError(f"{from_disk or config}: no `text` column (found "
                     f"{dataset['train'].column_names}); is this wikitext?")
  os.makedirs(out_dir, exist_ok=True)
  root = from_disk or ""
  summary = {"config": config, "shards": shards, "source": from_disk or "huggingface hub", "min_length": min_length,
             "test_into_train": test_into_train,
             "files": {split: [os.path.relpath(f, root) if root else f for f in names]
                       for split, names in files.items()},
             "splits": {}}
  for split in SPLITS:
    sources = [split] + (["test"] if split == "train" and test_into_train else [])
    read = sum(len(dataset[s]) for s in sources)
    rows = tqdm.tqdm((row for s in sources for row in dataset[s]), total=read,
                     desc=f"wikitext {split}", unit="row")
    kept = atomic.write_jsonl(split_path(out_dir, split),
                              ({"text": r["text"]} for r in rows if len(r["text"]) > min_length),
                              shards)
    summary["splits"][split] = {"read": read, "kept": kept}
  atomic.write_json(os.path.join(out_dir, SUMMARY), summary, indent=1)
  return summary
