"""Exports CodeSearchNet to normalised JSON lines, one folder per language.

Sources: the Hugging Face dataset `code_search_net` (one config per language), local JSON
lines files in its schema (`*.jsonl` / `*.jsonl.gz`, e.g. written by `Dataset.to_json`), where
each row's `language` and `split_name` say where it goes, or a local Python source tree (its
documented functions, with CodeSearchNet's filters: a dev dataset with no download). Output,
under the chosen folder:

  <lang>/{train,validation,test}.jsonl   repo, path, func_name, language, url, code,
                                         code_tokens, docstring, docstring_tokens
                                         (token lists joined by single spaces)
  codesearchnet_summary.json             rows per language and split, skipped rows by reason
                                         (empty_code, empty_docstring_tokens; from a tree
                                         also short_docstring, short_function,
                                         test_function, special_method; from extra
                                         training trees also overlaps_held_out), rows of
                                         languages left out by --languages

Extra training trees (`extra_train_trees`) add pairs to `train` only, for a model that needs
more than one tree gives: every documented function of those trees (same filters), except
those whose code or docstring also appears, whitespace aside, in the validation or test split,
so the held-out split stays unseen (vendored copies of the standard library are common).
"""
import contextlib
import glob
import gzip
import itertools
import json
import os
import re
import sys
import tokenize
from typing import Iterable, Iterator, Optional, Sequence

import tqdm

from code_t5 import atomic_files as atomic
from code_t5 import source_functions
from code_t5.corpora import splits as split_lib
from code_t5.corpora.splits import SPLITS
from code_t5.corpora import hub

LANGUAGES = ("python", "java", "javascript", "go", "php", "ruby")
FIELDS = ("repo", "path", "func_name", "language", "url", "code", "code_tokens", "docstring",
          "docstring_tokens")
# Hugging Face schema: the fields an export needs (the rest are ignored).
UPSTREAM_FIELDS = ("repository_name", "func_path_in_repository", "func_name", "language",
                   "func_code_url", "func_code_string", "func_code_tokens",
                   "func_documentation_string", "func_documentation_tokens", "split_name")
# `split_name` as upstream writes it -> our split.
SPLIT_NAMES = {"train": "train", "valid": "validation", "validation": "validation",
               "test": "test"}
HUB_NAME = "code_search_net"
SUMMARY = "codesearchnet_summary.json"
HINT = ("Export it first: code-t5-export-codesearchnet --from_disk=<folder of "
        "*.jsonl[.gz] in the Hugging Face code_search_net schema> (or without it, from the hub).")
DEFAULT_TREE_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}


def output_path(out_dir: str, language: str, split: str) -> str:
  return os.path.join(out_dir, language, f"{split}.jsonl")



def read_split(out_dir: str, language: str, split: str) -> list[dict]:
  """The exported rows of one split (for retrieval evaluation)."""
  return list(atomic.read_jsonl(output_path(out_dir, language, split)))


def _open_lines(path: str) -> Iterator[tuple[int, str]]:
  """(line number, line) of a plain or gzipped file; decoding errors name the file and line."""
  opener = gzip.open if path.endswith(".gz") else open
  number = 0
  try:
    with opener(path, "rt", encoding="utf-8") as f:
      for number, line in enumerate(f, 1):
        yield number, line
  except (OSError, EOFError, UnicodeDecodeError) as e:
    raise ValueError(f"{path}:{number + 1}: unreadable ({e}); re-download the file (a .gz must "
                     "be complete gzip, the text UTF-8).") from None


def _read_disk(source: str) -> Iterator[tuple[str, Optional[str], dict]]:
  """(where, split or None = from `split_name`, row) from a file or a folder of them."""
  files = [source] if os.path.isfile(source) else sorted(
      glob.glob(os.path.join(source, "**", "*.jsonl"), recursive=True) +
      glob.glob(os.path.join(source, "**", "*.jsonl.gz"), recursive=True))
  if not files:
    raise FileNotFoundError(f"--from_disk={source}: no *.jsonl or *.jsonl.gz files (expected "
                            "CodeSearchNet rows in the Hugging Face code_search_net schema).")
  for path in files:
    for number, line in _open_lines(path):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except ValueError as e:
        raise ValueError(f"{path}:{number}: malformed JSON line ({e}); fix or delete the line, "
                         "or re-download the file.") from None
      yield f"{path}:{number}", None, row


def _read_hub(languages: Iterable[str]) -> tuple[Iterator[tuple[str, str, dict]], int]:
  loaded = {lang: hub.load_dataset(HUB_NAME, lang) for lang in languages}

  def rows():
    for lang, splits in loaded.items():
      for split in SPLITS:
        for i, row in enumerate(splits[split]):
          yield f"{HUB_NAME}/{lang} {split} row {i}", split, row

  return rows(), sum(len(s[split]) for s in loaded.values() for split in SPLITS)


_WORDS = re.compile(r"\w+|[^\w\s]")
# CodeSearchNet's own filters (Husain et al. 2019, section 2.2), applied to local trees.
_SPECIAL = re.compile(r"__\w+__")


def _csn_filter(fn: source_functions.Function, doc_tokens: list[str]) -> Optional[str]:
  name = fn.qualname.rsplit(".", 1)[-1]
  if len(doc_tokens) < 3:
    return "short_docstring"
  if fn.end_line - fn.line + 1 < 3:
    return "short_function"
  if "test" in fn.qualname.lower() or "test" in fn.path.lower().split("/")[0]:
    return "test_function"
  if _SPECIAL.fullmatch(name):
    return "special_method"
  return None


def _read_source_tree(root: str, splits: dict[str, float]
                      ) -> Iterator[tuple[str, str, dict]]:
  """CodeSearchNet-style rows from the Python functions of a local tree (e.g. the standard
  library), split by top-level folder ("repository") hash, so nothing has to be downloaded.
  Functions without a docstring are not pairs; CodeSearchNet's filters are counted skips."""
  extraction = source_functions.extract_python_tree(root, exclude=("site-packages",))
  for reason, count in extraction.skipped.items():
    if reason != "unsupported_language":
      print(f"warning: {count} files not read ({reason}), e.g. "
            f"{extraction.skip_examples[reason]}", file=sys.stderr)
  name = os.path.basename(os.path.abspath(root))
  for fn in extraction.functions:
    if not fn.docstring:
      continue
    repo = f"{name}/{fn.path.split('/')[0].removesuffix('.py')}"
    doc_tokens = _WORDS.findall(fn.docstring.strip().split("\n\n")[0])
    try:
      code_tokens = source_functions.code_tokens(fn.source).split(" ")
    except (SyntaxError, tokenize.TokenError):
      code_tokens = []
    row = {"repository_name": repo, "func_path_in_repository": fn.path,
           "func_name": fn.qualname, "whole_func_string": fn.source, "language": "python",
           "func_code_string": fn.source, "func_code_tokens": code_tokens,
           "func_documentation_string": fn.docstring, "func_documentation_tokens": doc_tokens,
           "func_code_url": f"file://{os.path.join(os.path.abspath(root), fn.path)}"
                            f"#L{fn.line}-L{fn.end_line}",
           "_skip": _csn_filter(fn, doc_tokens)}
    yield (f"{fn.path}:{fn.line}", split_lib.split_of(repo, splits.items(), low_digits=True),
           row)


def _held_out_keys(out: dict) -> tuple[str, str]:
  return (" ".join(out["code"].split()), " ".join(out["docstring"].split()).lower())


def _extra_train_rows(trees: Sequence[str]) -> Iterator[tuple[str, str, dict]]:
  for tree in trees:
    for where, _, row in _read_source_tree(tree, {"train": 1.0}):
      row["_extra"] = True
      yield f"{tree}:{where}", "train", row


def _tokens(row: dict, key: str, where: str) -> str:
  tokens = row[key]
  if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
    raise ValueError(f"{where}: `{key}` must be a list of strings, got "
                     f"{type(tokens).__name__}; is this a CodeSearchNet file?")
  return " ".join(tokens)


def normalise(row: dict, where: str) -> tuple[dict, Optional[str]]:
  """(exported row, skip reason or None). Errors name `where` (file:line) and the fix."""
  if not isinstance(row, dict):
    raise ValueError(f"{where}: expected a JSON object, got {type(row).__name__}.")
  missing = [k for k in UPSTREAM_FIELDS if k not in row and k != "split_name"]
  if missing:
    raise ValueError(f"{where}: row without {missing}; expected the Hugging Face "
                     f"code_search_net schema ({', '.join(UPSTREAM_FIELDS)}).")
  out = {"repo": row["repository_name"], "path": row["func_path_in_repository"],
         "func_name": row["func_name"], "language": row["language"],
         "url": row["func_code_url"], "code": row["func_code_string"] or "",
         "code_tokens": _tokens(row, "func_code_tokens", where),
         "docstring": row["func_documentation_string"] or "",
         "docstring_tokens": _tokens(row, "func_documentation_tokens", where)}
  if not out["code"].strip() or not out["code_tokens"].strip():
    return out, "empty_code"
  if not out["docstring_tokens"].strip():
    return out, "empty_docstring_tokens"
  return out, None


def _split(row: dict, where: str) -> str:
  name = row.get("split_name")
  if name not in SPLIT_NAMES:
    raise ValueError(f"{where}: split_name {name!r} is not one of {sorted(SPLIT_NAMES)}; "
                     "rows read from disk need it to choose their output file.")
  return SPLIT_NAMES[name]


def export(out_dir: str, from_disk: Optional[str] = None,
           languages: Optional[Iterable[str]] = None, from_source_tree: Optional[str] = None,
           splits: Optional[dict[str, float]] = None,
           extra_train_trees: Sequence[str] = (), shards: int = atomic.EXPORT_SHARDS) -> dict:
  """Writes the files above for `languages` (default: all six from the hub; from disk, those
  found), plus the training pairs of `extra_train_trees`; returns the summary (also written as
  codesearchnet_summary.json); each split in `shards` files (<split>.jsonl-0000i-of-0000N).
  Nothing is replaced unless the whole export succeeds."""
  wanted = tuple(languages) if languages else None
  unknown = sorted(set(wanted or ()) - set(LANGUAGES))
  if unknown:
    raise ValueError(f"--languages: unknown {unknown}; choose from {', '.join(LANGUAGES)}.")
  if from_source_tree:
    if not os.path.isdir(from_source_tree):
      raise FileNotFoundError(f"--from_source_tree={from_source_tree}: not a folder.")
    rows, total = _read_source_tree(from_source_tree, splits or DEFAULT_TREE_SPLITS), None
    from_disk = from_source_tree
  elif from_disk:
    rows, total = _read_disk(from_disk), None
  else:
    rows, total = _read_hub(wanted or LANGUAGES)
  for tree in extra_train_trees:
    if not os.path.isdir(tree):
      raise FileNotFoundError(f"--extra_train_tree={tree}: not a folder.")
  if extra_train_trees:  # read after the main source, whose held-out keys they are checked on
    rows, total = itertools.chain(rows, _extra_train_rows(extra_train_trees)), None
  held_out: set = set()
  counts, skipped, not_selected, writers = {}, {}, {}, {}
  with contextlib.ExitStack() as stack:

    def writer(lang: str, split: str):
      if lang not in writers:  # all three splits, so every task of the language can read
        writers[lang] = {}
        for s in SPLITS:
          path = output_path(out_dir, lang, s)
          os.makedirs(os.path.dirname(path), exist_ok=True)
          writers[lang][s] = stack.enter_context(atomic.sharded_jsonl(path, shards))
        counts[lang] = dict.fromkeys(SPLITS, 0)
        skipped[lang] = {s: {} for s in SPLITS}
      return writers[lang][split]

    for where, split, row in tqdm.tqdm(rows, desc="CodeSearchNet", unit="row", total=total):
      out, reason = normalise(row, where)
      reason = reason or row.get("_skip")
      lang = out["language"]
      if lang not in LANGUAGES:
        raise ValueError(f"{where}: language {lang!r} is not one of {', '.join(LANGUAGES)}.")
      split = split or _split(row, where)
      if wanted and lang not in wanted:
        not_selected[lang] = not_selected.get(lang, 0) + 1
        continue
      write = writer(lang, split)
      if not reason and split != "train":
        held_out.update(_held_out_keys(out))
      elif not reason and row.get("_extra") and not held_out.isdisjoint(_held_out_keys(out)):
        reason = "overlaps_held_out"
      if reason:
        skipped[lang][split][reason] = skipped[lang][split].get(reason, 0) + 1
        continue
      write(out)
      counts[lang][split] += 1
    absent = sorted(set(wanted or ()) - set(counts))
    if absent:
      raise ValueError(f"{from_disk or HUB_NAME}: no rows for {absent}; drop them from "
                       "--languages or add their files.")
    if not counts:
      raise ValueError(f"{from_disk}: no CodeSearchNet rows in its files.")
  summary = {"source": from_disk or f"huggingface hub: {HUB_NAME}", "shards": shards,
             "extra_train_trees": list(extra_train_trees),
             "languages": {lang: counts[lang] for lang in sorted(counts)},
             "skipped": {lang: skipped[lang] for lang in sorted(skipped)},
             "not_selected_languages": not_selected}
  atomic.write_json(os.path.join(out_dir, SUMMARY), summary, indent=1)
  return summary
