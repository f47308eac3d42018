"""The code search index: build it from a source tree (extraction, then BM25, a dense
encoder with faiss, or both for the hybrid), load it, answer a query, notice files changed
since indexing.

The index folder holds manifest.json (model, count, source root, format) and one data folder
(functions.jsonl, one row per function, files.json with the size and modification time of each
file indexed, plus the bm25s index, the faiss index or, for a hybrid, both); a new index is
written beside the old one and replaces it only once complete, by rewriting the manifest
atomically.
"""
import collections
import collections.abc
import hashlib
import json
import math
import os
import shutil
import sys
import textwrap
import tokenize
import time
import zlib
from typing import Optional, Sequence

import numpy as np

from code_t5 import atomic_files as atomic
from code_t5 import source_functions
from code_t5.search import extraction
from code_t5.search import retrieval

FORMAT_VERSION = 3  # 2: files.json (size and mtime of each indexed file); 3: sha256 of every file
INDEX_DIR_NAME = ".code_t5_search"
MANIFEST = "manifest.json"
METADATA = "functions.jsonl"
STAMPS = "files.json"
BM25_DIR = "bm25"
FAISS_FILE = "dense.faiss"
DATA_PREFIX = "data-"
EMBED_BATCH = 256
BUILD_HINT = "code-t5-search index <DIR>"
FIELD_TYPES = {"path": str, "qualname": str, "line": int, "end_line": int, "docstring": str,
               "source": str}
FIELDS = frozenset(FIELD_TYPES)


def data_checksums(data_dir: str) -> dict[str, str]:
  """{path relative to the data folder: sha256} of every file the index wrote."""
  sums = {}
  for folder, _, files in os.walk(data_dir):
    for name in files:
      path = os.path.join(folder, name)
      with open(path, "rb") as f:
        sums[os.path.relpath(path, data_dir)] = hashlib.file_digest(f, "sha256").hexdigest()
  return dict(sorted(sums.items()))


class HashEncoder:
  """A stand-in, not a model: each text is a signed, hashed bag of its identifier sub-words
  (retrieval.bm25_words, log-scaled counts), L2-normalised. It exists so that the dense path
  (faiss, persistence, query) can be used and tested without T5X; it ranks like keyword overlap
  with collisions, so expect worse results than bm25."""

  def __init__(self, dim: int = 256):
    self.dim = dim
    self._buckets = {}

  def _bucket(self, word: str) -> tuple[int, float]:
    if word not in self._buckets:
      h = zlib.crc32(word.encode("utf-8"))  # stable across processes, unlike hash()
      self._buckets[word] = (h % self.dim, 1.0 if h >> 31 else -1.0)
    return self._buckets[word]

  def _embed(self, texts: Sequence[str]) -> np.ndarray:
    out = np.zeros((len(texts), self.dim), np.float32)
    for i, text in enumerate(texts):
      for word, count in collections.Counter(retrieval.bm25_words(text)).items():
        bucket, sign = self._bucket(word)
        out[i, bucket] += sign * (1.0 + math.log(count))
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

  def embed_queries(self, texts: list[str]) -> np.ndarray:
    return self._embed(texts)

  def embed_code(self, texts: list[str]) -> np.ndarray:
    return self._embed(texts)


def load_encoder(spec: str):
  """An object with embed_queries / embed_code (texts -> L2-normalised float32 rows):
  `t5x:<checkpoint_dir>` a trained dual encoder, `hash` the stand-in HashEncoder."""
  if spec == "hash":
    return HashEncoder()
  kind, _, location = spec.partition(":")
  if kind == "t5x" and location:
    try:
      from code_t5.models import dual_encoder  # pylint: disable=g-import-not-at-top  (T5X; slow)
    except ImportError as e:
      raise RuntimeError(f"--model=dense:{spec}: cannot import code_t5.models.dual_encoder ({e}); "
                         "it needs T5X installed (see the README).") from None
    return dual_encoder.load_encoder(location)
  raise ValueError(f"--model=dense:{spec}: expected dense:hash or dense:t5x:<checkpoint_dir>.")


MODELS_HINT = ("bm25, dense:hash, dense:t5x:<checkpoint_dir>, hybrid:dense:hash or "
               "hybrid:dense:t5x:<checkpoint_dir>")


def normalise_model(spec: str) -> str:
  """The model spec as recorded in the manifest: a checkpoint path made absolute, and a hybrid
  always spelled hybrid:dense:... (hybrid:hash and hybrid:t5x:<dir> are accepted for it)."""
  if spec == "bm25" or spec == "dense:hash":
    return spec
  if spec.startswith("dense:t5x:") and len(spec) > len("dense:t5x:"):
    return "dense:t5x:" + os.path.abspath(spec[len("dense:t5x:"):])
  if spec.startswith("hybrid:"):
    dense = spec[len("hybrid:"):]
    dense = dense if dense.startswith("dense:") else "dense:" + dense
    if dense == "dense:hash" or (dense.startswith("dense:t5x:") and
                                 len(dense) > len("dense:t5x:")):
      return "hybrid:" + normalise_model(dense)
  raise ValueError(f"--model={spec}: expected {MODELS_HINT}.")


def dense_model(model: str) -> Optional[str]:
  """The dense part (dense:...) of a normalised model, None for bm25."""
  if model.startswith("hybrid:"):
    return model[len("hybrid:"):]
  return model if model.startswith("dense:") else None


def uses_bm25(model: str) -> bool:
  return model == "bm25" or model.startswith("hybrid:")


def bm25_text(fn: source_functions.Function) -> str:
  """What BM25 matches against: the name and path count as words, beside the source and, for
  languages whose doc comment sits above the function (not in its source), that comment."""
  if os.path.splitext(fn.path)[1] in source_functions.PYTHON_SUFFIXES:
    return f"{fn.qualname} {fn.path}\n{fn.source}"
  return f"{fn.qualname} {fn.path}\n{fn.docstring}\n{fn.source}"


def dense_text(fn: source_functions.Function) -> str:
  """What a dual encoder embeds: the code as CodeSearchNet's `code_tokens` (what it was trained
  on: tokens joined by spaces, no comments or docstring); the raw source if it cannot be
  tokenised on its own."""
  try:
    return source_functions.code_tokens(fn.source)
  except (SyntaxError, tokenize.TokenError):
    return textwrap.dedent(fn.source)


def _embed_code(encoder, texts: list[str], progress: bool) -> np.ndarray:
  import tqdm  # pylint: disable=g-import-not-at-top
  parts = []
  for start in tqdm.tqdm(range(0, len(texts), EMBED_BATCH), desc="embedding", unit="batch",
                         disable=not progress):
    batch = texts[start:start + EMBED_BATCH]
    emb = np.asarray(encoder.embed_code(batch), np.float32)
    if emb.ndim != 2 or len(emb) != len(batch):
      raise ValueError(f"{type(encoder).__name__}.embed_code returned shape {emb.shape} for "
                       f"{len(batch)} texts; expected (texts, dim).")
    parts.append(emb)
  return np.concatenate(parts)


def default_index_dir(root: str) -> str:
  return os.path.join(root, INDEX_DIR_NAME)


def _check_index_dir(index_dir: str) -> None:
  """Refuses to write into a folder that holds something other than an index."""
  names = os.listdir(index_dir) if os.path.isdir(index_dir) else []
  if MANIFEST not in names and any(not n.startswith(DATA_PREFIX) for n in names):
    raise ValueError(f"--index_dir={index_dir} holds files but no {MANIFEST}: it is not a "
                     "code search index. Choose a new or empty folder.")


def _stamp(path: str) -> Optional[list[int]]:
  """[size, mtime in ns] of a file, or None if it is gone."""
  try:
    info = os.stat(path)
  except OSError:
    return None
  return [info.st_size, info.st_mtime_ns]


def build(root: str, index_dir: Optional[str] = None, model: str = "bm25",
          exclude: Sequence[str] = (), workers: int = 1, progress: bool = True,
          max_file_bytes: int = source_functions.MAX_FILE_BYTES) -> dict:
  """Extracts, indexes and saves the functions under `root`; returns the manifest written."""
  start = time.perf_counter()
  root = os.path.abspath(root)
  if not os.path.isdir(root):
    raise ValueError(f"{root}: not a folder; index a source tree (a folder of .py files).")
  model = normalise_model(model)
  index_dir = os.path.abspath(index_dir or default_index_dir(root))
  _check_index_dir(index_dir)
  dense = dense_model(model)
  if dense and dense.startswith("dense:t5x:") and not os.path.exists(dense[len("dense:t5x:"):]):
    raise ValueError(f"--model={model}: no such checkpoint or model folder.")
  # The model is loaded (checkpoint found, config read, weights restored) before the
  # extraction, so a wrong --model fails in seconds, not after parsing the whole tree.
  encoder = load_encoder(dense[len("dense:"):]) if dense else None
  # Stamps first: a file changed while it is parsed then reads as stale, never as fresh.
  stamps = {path: _stamp(os.path.join(root, path))
            for path in source_functions.source_files(root, exclude, index_dir)}
  found = extraction.extract_tree(root, exclude, index_dir, workers, progress, max_file_bytes)
  fns = found.functions
  if not fns:
    raise ValueError(f"{root}: no functions found in {found.files} files (skipped: "
                     f"{dict(found.skipped) or 'none'}); nothing to index.")
  extracted = time.perf_counter()
  data = f"{DATA_PREFIX}{time.time_ns()}"
  data_dir = os.path.join(index_dir, data)
  try:
    os.makedirs(data_dir)
  except OSError as e:
    raise OSError(f"cannot write the index to {index_dir} ({e.strerror}); choose a writable "
                  "folder with --index_dir.") from None
  try:
    atomic.write_jsonl(os.path.join(data_dir, METADATA), (fn.to_json() for fn in fns))
    atomic.write_json(os.path.join(data_dir, STAMPS),
                      {path: stamps.get(path) for path in sorted({fn.path for fn in fns})})
    dim = None
    if uses_bm25(model):
      import tqdm  # pylint: disable=g-import-not-at-top
      words = [retrieval.bm25_words(bm25_text(fn))
               for fn in tqdm.tqdm(fns, desc="tokenizing", unit="fn", disable=not progress)]
      retrieval.bm25_index(words).save(
          os.path.join(data_dir, BM25_DIR), show_progress=False)
    if encoder is not None:
      emb = _embed_code(encoder, [dense_text(fn) for fn in fns], progress)
      dim = emb.shape[1]
      retrieval.Index.build(emb).save(os.path.join(data_dir, FAISS_FILE))
    seconds = time.perf_counter() - start
    manifest = {
        "format": FORMAT_VERSION, "model": model, "functions": len(fns), "root": root,
        "data": data, "dim": dim, "exclude": list(exclude),
        "files": found.files, "parsed_files": found.parsed_files,
        "parsed_by_language": dict(sorted(found.parsed_by_language.items(),
                                          key=lambda kv: (-kv[1], kv[0]))),
        "max_file_bytes": max_file_bytes,
        "skipped": dict(sorted(found.skipped.items())), "skip_examples": found.skip_examples,
        "unsupported_suffixes": dict(found.unsupported_suffixes.most_common()),
        "seconds": {"extract": round(extracted - start, 3), "total": round(seconds, 3)},
        "functions_per_second": round(len(fns) / seconds, 1),
        "sha256": data_checksums(data_dir),
    }
    atomic.write_json(os.path.join(index_dir, MANIFEST), manifest, indent=1)
  except BaseException:
    shutil.rmtree(data_dir, ignore_errors=True)
    raise
  for name in os.listdir(index_dir):  # the old index, and any left by an interrupted build
    if name.startswith(DATA_PREFIX) and name != data:
      shutil.rmtree(os.path.join(index_dir, name), ignore_errors=True)
  return manifest


def find_index_dir(start: str = ".") -> str:
  """The nearest .code_t5_search in `start` or its parents (as git finds .git)."""
  folder = os.path.abspath(start)
  while True:
    if os.path.exists(os.path.join(folder, INDEX_DIR_NAME, MANIFEST)):
      return os.path.join(folder, INDEX_DIR_NAME)
    parent = os.path.dirname(folder)
    if parent == folder:
      raise FileNotFoundError(f"no code search index in {os.path.abspath(start)} or its "
                              f"parents; build one with `{BUILD_HINT}` (run queries inside "
                              "DIR) or pass --index_dir.")
    folder = parent


def reindex_command(manifest: dict, index_dir: str, model: Optional[str] = None) -> str:
  """The command that rebuilds the index at `index_dir` as the manifest describes it."""
  root = manifest.get("root") if isinstance(manifest.get("root"), str) else "<DIR>"
  exclude = manifest.get("exclude") if isinstance(manifest.get("exclude"), list) else []
  model = model or (manifest.get("model") if isinstance(manifest.get("model"), str) else None)
  return (f"code-t5-search index {root} --index_dir={index_dir}"
          f"{f' --model={model}' if model else ''}"
          f"{''.join(f' --exclude={e}' for e in exclude)}")


class DamagedIndex(ValueError):
  """An index that cannot be read as written: one line naming the file and the rebuild."""


class Searcher:
  """A loaded index: the function rows and a bm25s retriever, a faiss index + encoder, or
  both (a hybrid)."""

  def __init__(self, index_dir: str, model: Optional[str] = None):
    path = os.path.join(index_dir, MANIFEST)
    if not os.path.exists(path):
      raise FileNotFoundError(f"--index_dir={index_dir}: no code search index there (no "
                              f"{MANIFEST}); build one with `{BUILD_HINT} "
                              f"--index_dir={index_dir}`.")
    self.index_dir = index_dir
    self.manifest = {}
    try:
      with open(path, encoding="utf-8") as f:
        self.manifest = json.load(f)
    except (ValueError, OSError) as e:
      self._damaged(path, f"unreadable manifest ({e})")
    if not isinstance(self.manifest, dict):
      self.manifest = {}
      self._damaged(path, "the manifest is not a JSON object")
    if self.manifest.get("format") != FORMAT_VERSION:
      raise DamagedIndex(f"{path}: index format {self.manifest.get('format')}, this version "
                         f"reads {FORMAT_VERSION}; rebuild it with "
                         f"`{reindex_command(self.manifest, index_dir)}`.")
    for key, kind in (("model", str), ("data", str), ("functions", int), ("root", str),
                      ("exclude", list)):
      if not isinstance(self.manifest.get(key), kind):
        self._damaged(path, f"no valid {key!r} in the manifest")
    self.model = self.manifest["model"]
    try:
      normalise_model(self.model)
    except ValueError:
      self._damaged(path, f"unknown model {self.model!r} in the manifest (expected "
                    f"{MODELS_HINT})")
    if not isinstance(self.manifest.get("sha256"), dict):
      self._damaged(path, "no checksums ('sha256') in the manifest")
    if model is not None and normalise_model(model) != self.model:
      raise ValueError(f"--model={model}, but the index at {index_dir} was built with "
                       f"--model={self.model}; query without --model, or rebuild it with "
                       f"`{reindex_command(self.manifest, index_dir, model)}`.")
    data = self.manifest["data"]
    data_dir = os.path.join(index_dir, data)
    if not data.startswith(DATA_PREFIX) or "/" in data or not os.path.isdir(data_dir):
      self._damaged(path, f"its data folder {data!r} is missing")
    self.functions = self._read_rows(os.path.join(data_dir, METADATA))
    self.stamps = self._read_stamps(os.path.join(data_dir, STAMPS))
    dense = dense_model(self.model)
    try:
      if uses_bm25(self.model):
        where = os.path.join(data_dir, BM25_DIR)
        self.bm25 = retrieval.SavedBM25(where)
        self._check_bm25(where)
      if dense:
        where = os.path.join(data_dir, FAISS_FILE)
        self.index = retrieval.Index.load(where)
        if len(self.index) != len(self.functions) or self.index.index.d != self.manifest["dim"]:
          self._damaged(where, f"{len(self.index)} vectors of {self.index.index.d} "
                        f"dimensions for {len(self.functions)} functions of "
                        f"{self.manifest['dim']}")
        if uses_bm25(self.model):
          # The hybrid scores every row: one matrix product, where a faiss search for all
          # rows would also sort them (twice the time on 58k functions).
          self.vectors = self.index.index.reconstruct_n(0, len(self.index))
          self.index = None
    except DamagedIndex:
      raise
    except Exception as e:  # pylint: disable=broad-except  (any unreadable file: rebuild)
      self._damaged(where, f"unreadable ({type(e).__name__}: {str(e)[:200]})")
    self._check_sums(data_dir)
    if dense:
      self.encoder = load_encoder(dense[len("dense:"):])
    self._warned = set()

  def _check_sums(self, data_dir: str) -> None:
    """Every file as the index wrote it (a flipped byte in an array is otherwise served)."""
    expected = self.manifest["sha256"]
    found = data_checksums(data_dir)
    for name in sorted(set(expected) | set(found)):
      if expected.get(name) != found.get(name):
        what = ("missing" if name not in found else "not written by the index"
                if name not in expected else "changed since indexing (sha256 differs)")
        self._damaged(os.path.join(data_dir, name), what)

  def _damaged(self, path: str, problem: str) -> None:
    raise DamagedIndex(f"{path}: {problem}; the index is damaged, rebuild it with "
                       f"`{reindex_command(self.manifest, self.index_dir)}`.")

  def _read_rows(self, path: str) -> "_Rows":
    try:
      with open(path, "rb") as f:
        lines = f.read().splitlines()
    except OSError as e:
      self._damaged(path, f"unreadable ({e})")
    if len(lines) != self.manifest["functions"]:
      self._damaged(path, f"{len(lines)} rows where the manifest says "
                    f"{self.manifest['functions']} (truncated?)")
    return _Rows(lines, path, self._damaged)

  def _read_stamps(self, path: str) -> dict:
    try:
      with open(path, encoding="utf-8") as f:
        stamps = json.load(f)
    except (OSError, ValueError) as e:
      self._damaged(path, f"unreadable ({e})")
    if not isinstance(stamps, dict):
      self._damaged(path, "not a JSON object")
    return stamps

  def _check_bm25(self, where: str) -> None:
    """Every document id and word id in range, so a query cannot index past the rows."""
    bm25, n = self.bm25, len(self.functions)
    indices, indptr = bm25.indices, bm25.indptr
    if bm25.num_docs != n:
      self._damaged(where, f"{bm25.num_docs} documents for {n} functions")
    if indices.size and (indices.min() < 0 or indices.max() >= n):
      self._damaged(where, f"document ids out of range 0..{n - 1}")
    # bm25s keeps "" in its vocabulary without a column; queries never hold it.
    word_ids = [i for word, i in self.bm25.vocab_dict.items() if word]
    if (len(indptr) < 1 or indptr[-1] != len(indices) or len(indices) != len(bm25.data)
        or np.any(np.diff(indptr) < 0) or
        (word_ids and (min(word_ids) < 0 or max(word_ids) >= len(indptr) - 1))):
      self._damaged(where, "its word table does not match its score matrix")

  def stale(self, path: str) -> bool:
    """Whether `path` (relative to the root) differs from when it was indexed; warns once
    per file on stderr, naming it and the command that re-indexes."""
    changed = self.stamps.get(path) != _stamp(os.path.join(self.manifest["root"], path))
    if changed and path not in self._warned:
      self._warned.add(path)
      print(f"warning: {os.path.join(self.manifest['root'], path)} changed since it was "
            f"indexed (its results may point at old lines); re-index with "
            f"`{reindex_command(self.manifest, self.index_dir)}`.", file=sys.stderr)
    return changed

  def _bm25_scores(self, query: str) -> np.ndarray:
    """BM25 score of every row (all 0 when no word of the query is indexed)."""
    words = [w for w in retrieval.bm25_words(query) if w in self.bm25.vocab_dict]
    if not words:
      return np.zeros(len(self.functions))
    return np.asarray(self.bm25.get_scores(words), np.float64)

  def _dense_scores(self, query: str) -> np.ndarray:
    """Inner product of the query with every row."""
    q = np.asarray(self.encoder.embed_queries([query]), np.float32)
    return (self.vectors @ q[0]).astype(np.float64)

  def search(self, query: str, k: int = 10) -> list[tuple[float, dict]]:
    """(score, function row), best first; ties in row order. BM25 leaves out rows that share
    no word with the query. A hybrid's score is the reciprocal-rank fusion of the BM25 and
    dense rankings of every row (retrieval.reciprocal_rank_fusion, as the evaluation's
    hybrid:<model> computes it), so its top k are exactly the fused top k: no candidate pool
    is cut: BM25 scores every row anyway, and so does the dense model, as a flat faiss index
    would."""
    k = min(k, len(self.functions))
    if self.model == "bm25":
      scores = self._bm25_scores(query)
      return [(float(scores[i]), self.functions[i]) for i in _top(scores, k) if scores[i] > 0]
    if uses_bm25(self.model):
      scores = retrieval.reciprocal_rank_fusion(self._bm25_scores(query),
                                                self._dense_scores(query))
      return [(float(scores[i]), self.functions[i]) for i in _top(scores, k)]
    q = np.asarray(self.encoder.embed_queries([query]), np.float32)
    scores, ids = self.index.search(q, k)
    return [(float(s), self.functions[i]) for s, i in zip(scores[0], ids[0])
            if 0 <= i < len(self.functions)]


class _Rows(collections.abc.Sequence):
  """The function rows, parsed and checked when first served: a query shows k of them, and
  parsing all (12 MB for the standard library) would be most of a one-shot query's time. The
  file's checksum is verified at load, so a row only fails here if file and manifest were
  both edited."""

  def __init__(self, lines: list[bytes], path: str, damaged):
    self._lines, self._path, self._damaged = lines, path, damaged
    self._parsed: dict[int, dict] = {}

  def __len__(self) -> int:
    return len(self._lines)

  def __getitem__(self, i):
    if isinstance(i, slice):
      return [self[j] for j in range(*i.indices(len(self)))]
    i = range(len(self))[i]
    if i not in self._parsed:
      where = f"{self._path}:{i + 1}"
      try:
        row = json.loads(self._lines[i])
      except ValueError as e:
        self._damaged(where, f"not a JSON row ({e})")
      if not isinstance(row, dict) or not FIELDS.issubset(row):
        self._damaged(where, f"a row without {sorted(FIELDS)}")
      for field, kind in FIELD_TYPES.items():
        if not isinstance(row[field], kind) or isinstance(row[field], bool):
          self._damaged(where, f"field {field!r} is not a {kind.__name__}")
      self._parsed[i] = row
    return self._parsed[i]


def _top(scores: np.ndarray, k: int) -> np.ndarray:
  """The rows of the k highest scores, best first, ties in row order."""
  top = np.argpartition(-scores, k - 1)[:k]
  return top[np.lexsort((top, -scores[top]))]
