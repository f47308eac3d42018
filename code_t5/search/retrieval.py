"""Code search evaluation: MRR and recall@k under the CodeSearchNet/CodeBERT protocol, a faiss
index over code embeddings, and a BM25 baseline scored on the same candidate sets.

Protocol: query i (a docstring) has one true code, row i of the split; it is ranked among
`distractors` (999) other codes of the split, drawn per query from a generator seeded with
(seed, i), so every scorer (dual encoder, BM25) sees the same candidates. Rank = the number of
candidates scoring >= the true one (ties count against it, as CodeSearchNet's evaluation does).
"""
import json
import logging
import os
import re
import sys
from typing import Callable, Optional, Sequence

import numpy as np

from code_t5 import atomic_files as atomic

DISTRACTORS = 999


def candidates(n: int, distractors: int = DISTRACTORS, seed: int = 0) -> np.ndarray:
  """(n, 1 + d) row indices: column 0 the true row, then d distractors (d = min(distractors,
  n - 1); when the split is that small, every other row, in order)."""
  d = min(distractors, n - 1)
  out = np.empty((n, 1 + d), dtype=np.int64)
  out[:, 0] = np.arange(n)
  for i in range(n):
    if d == n - 1:
      others = np.arange(n - 1)
    else:
      others = np.random.default_rng((seed, i)).choice(n - 1, size=d, replace=False)
    out[i, 1:] = others + (others >= i)  # skip the true row
  return out


def ranks_from_scores(scores: np.ndarray) -> np.ndarray:
  """1-based rank of column 0 within each row of scores (ties count against it)."""
  return (scores >= scores[:, :1]).sum(axis=1)


def _protocol(n: int, distractors: int) -> dict:
  d = min(distractors, n - 1)
  info = {"queries": n, "distractors": d, "all_others": d < distractors}
  if d < distractors:
    info["note"] = (f"the split has {n} rows: each query is ranked among all {d} others, "
                    f"not {distractors} distractors")
  return info


def _summary(ranks: np.ndarray, n: int, distractors: int, ks: Sequence[int]) -> dict:
  return {"mrr": float(np.mean(1.0 / ranks)),
          **{f"recall@{k}": float(np.mean(ranks <= k)) for k in ks},
          **_protocol(n, distractors)}


def _check(query_emb: np.ndarray, code_emb: np.ndarray) -> None:
  if query_emb.ndim != 2 or query_emb.shape != code_emb.shape:
    raise ValueError(f"query and code embeddings must be (n, dim) arrays of one shape, row i "
                     f"of each the same pair; got {query_emb.shape} and {code_emb.shape}.")
  if len(query_emb) < 2:
    raise ValueError("ranking needs at least 2 query-code pairs.")


def embedding_scores(query_emb: np.ndarray, code_emb: np.ndarray,
                     distractors: int = DISTRACTORS, seed: int = 0) -> np.ndarray:
  """(n, 1 + d) inner products of each query with its candidates (column 0 the true code)."""
  query_emb, code_emb = np.asarray(query_emb, np.float32), np.asarray(code_emb, np.float32)
  _check(query_emb, code_emb)
  cands = candidates(len(query_emb), distractors, seed)
  # Bounded memory: about 2**24 gathered floats per chunk of queries.
  chunk = max(1, 2**24 // (cands.shape[1] * code_emb.shape[1]))
  return np.concatenate([np.einsum("qd,qcd->qc", query_emb[s:s + chunk],
                                   code_emb[cands[s:s + chunk]])
                         for s in range(0, len(cands), chunk)])


def embedding_ranks(query_emb: np.ndarray, code_emb: np.ndarray,
                    distractors: int = DISTRACTORS, seed: int = 0) -> np.ndarray:
  """Rank of each query's true code by inner product among its candidate set."""
  return ranks_from_scores(embedding_scores(query_emb, code_emb, distractors, seed))


def mrr(query_emb: np.ndarray, code_emb: np.ndarray, distractors: int = DISTRACTORS,
        seed: int = 0) -> dict:
  """{'mrr', 'queries', 'distractors', 'all_others'[, 'note']}: row i of each is a pair."""
  ranks = embedding_ranks(query_emb, code_emb, distractors, seed)
  return _summary(ranks, len(ranks), distractors, ())


def recall_at_k(query_emb: np.ndarray, code_emb: np.ndarray, ks: Sequence[int] = (1, 5, 10),
                distractors: int = DISTRACTORS, seed: int = 0) -> dict:
  """{'recall@k': fraction of queries whose true code ranks <= k, ...} on the same candidates."""
  ranks = embedding_ranks(query_emb, code_emb, distractors, seed)
  return {f"recall@{k}": float(np.mean(ranks <= k)) for k in ks}


class Index:
  """A faiss inner-product index over code embeddings (normalise them for cosine similarity).

  kind: "flat" (exact, the default), "ivf" (inverted lists over k-means cells; `nlist` cells,
  `nprobe` searched) or "hnsw" (graph; `hnsw_m` links, `ef_search` breadth): approximate, for
  corpora too large to scan.
  """

  def __init__(self, index):
    self.index = index

  @classmethod
  def build(cls, code_emb: np.ndarray, kind: str = "flat", nlist: Optional[int] = None,
            nprobe: int = 8, hnsw_m: int = 32, ef_search: int = 64) -> "Index":
    import faiss  # pylint: disable=g-import-not-at-top
    code_emb = np.ascontiguousarray(code_emb, dtype=np.float32)
    n, dim = code_emb.shape
    if kind == "flat":
      index = faiss.IndexFlatIP(dim)
    elif kind == "ivf":
      # faiss wants >= 39 training points per cell; 4 * sqrt(n) cells is its usual advice.
      nlist = nlist or max(1, min(int(4 * np.sqrt(n)), n // 39))
      index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist, faiss.METRIC_INNER_PRODUCT)
      index.train(code_emb)
    elif kind == "hnsw":
      index = faiss.IndexHNSWFlat(dim, hnsw_m, faiss.METRIC_INNER_PRODUCT)
    else:
      raise ValueError(f"index kind {kind!r}: expected 'flat', 'ivf' or 'hnsw'.")
    index.add(code_emb)
    return cls(index).tune(nprobe=nprobe, ef_search=ef_search)

  def tune(self, nprobe: Optional[int] = None, ef_search: Optional[int] = None) -> "Index":
    """Sets the search breadth of an approximate index (ignored by the others)."""
    import faiss  # pylint: disable=g-import-not-at-top
    if nprobe and isinstance(self.index, faiss.IndexIVF):
      self.index.nprobe = nprobe
    if ef_search and isinstance(self.index, faiss.IndexHNSW):
      self.index.hnsw.efSearch = ef_search
    return self

  def __len__(self) -> int:
    return self.index.ntotal

  def search(self, query_emb: np.ndarray, k: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """(scores, row ids), each (queries, k), best first; ids are rows in the order added."""
    return self.index.search(np.ascontiguousarray(query_emb, dtype=np.float32), k)

  def save(self, path: str) -> None:
    import faiss  # pylint: disable=g-import-not-at-top
    os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
    with atomic.replacing(path) as tmp:
      faiss.write_index(self.index, tmp)

  @classmethod
  def load(cls, path: str, nprobe: Optional[int] = None,
           ef_search: Optional[int] = None) -> "Index":
    import faiss  # pylint: disable=g-import-not-at-top
    if not os.path.exists(path):
      raise FileNotFoundError(f"{path}: no faiss index; build one with Index.build(...).save().")
    return cls(faiss.read_index(path)).tune(nprobe=nprobe, ef_search=ef_search)


def bm25_words(text: str) -> list[str]:
  """Lower-cased words with identifiers split (snake_case, camelCase), so that a docstring's
  "read file" meets the code's `readFile` / `read_file`."""
  text = re.sub(r"([a-z0-9])([A-Z])|([A-Z])([A-Z][a-z])", r"\1\3 \2\4", text)
  return [w.lower() for w in re.findall(r"[A-Za-z]+|[0-9]+", text)]


def import_bm25s():
  """bm25s, kept away from JAX and quiet. When it loads, bm25s imports JAX where installed and
  compiles a top-k with it (1.2 s of a 2 s one-shot query) for a selection we never ask it for
  (we read `get_scores` and rank in NumPy); and it sets its logger to DEBUG."""
  if "bm25s" not in sys.modules and "jax" not in sys.modules:
    sys.modules["jax"] = None  # `import jax` raises ImportError: bm25s takes its NumPy path
    try:
      import bm25s  # pylint: disable=g-import-not-at-top,unused-import
    finally:
      del sys.modules["jax"]
  import bm25s  # pylint: disable=g-import-not-at-top
  logging.getLogger("bm25s").setLevel(logging.WARNING)
  return bm25s


class SavedBM25:
  """A bm25s index as `BM25.save` writes it (the Lucene scores as a CSC matrix: a column of
  document scores per word; words -> columns in vocab.index.json), read with NumPy alone:
  scoring a query sums its words' columns, as bm25s's `get_scores` does. A query then needs
  neither bm25s nor SciPy (0.4 s of a one-shot query's start-up); bm25s builds the index."""

  def __init__(self, folder: str):
    self.data = np.load(os.path.join(folder, "data.csc.index.npy"))
    self.indices = np.load(os.path.join(folder, "indices.csc.index.npy"))
    self.indptr = np.load(os.path.join(folder, "indptr.csc.index.npy"))
    with open(os.path.join(folder, "vocab.index.json"), encoding="utf-8") as f:
      self.vocab_dict = json.load(f)
    with open(os.path.join(folder, "params.index.json"), encoding="utf-8") as f:
      self.num_docs = json.load(f)["num_docs"]

  def get_scores(self, words: Sequence[str]) -> np.ndarray:
    """The BM25 score of every document for the query words (each in the vocabulary; a
    repeated word counts again, as in bm25s)."""
    scores = np.zeros(self.num_docs, self.data.dtype)
    for word in words:
      column = self.vocab_dict[word]
      start, end = self.indptr[column], self.indptr[column + 1]
      scores[self.indices[start:end]] += self.data[start:end]
    return scores


def bm25_index(documents: Sequence[list[str]], show_progress: bool = False):
  """A bm25s.BM25 (Lucene variant) over tokenised documents; row i is document i."""
  bm25s = import_bm25s()
  retriever = bm25s.BM25()
  # A placeholder word keeps bm25s from rejecting a document without words.
  retriever.index([words or ["\0"] for words in documents], show_progress=show_progress)
  return retriever


def bm25_scores(queries: Sequence[str], codes: Sequence[str], distractors: int = DISTRACTORS,
                seed: int = 0, tokenize: Callable[[str], list[str]] = bm25_words) -> np.ndarray:
  """(n, 1 + d) BM25 scores (bm25s, Lucene variant) of each query's candidates (column 0 the
  true code)."""
  if len(queries) != len(codes) or len(queries) < 2:
    raise ValueError(f"need >= 2 query-code pairs, row i of each the same pair; got "
                     f"{len(queries)} queries and {len(codes)} codes.")
  retriever = bm25_index([tokenize(c) for c in codes])
  cands = candidates(len(queries), distractors, seed)
  out = np.zeros(cands.shape, np.float64)
  for i, query in enumerate(queries):
    words = [w for w in tokenize(query) if w in retriever.vocab_dict]
    if words:
      out[i] = retriever.get_scores(words)[cands[i]]
  return out


def bm25_ranks(queries: Sequence[str], codes: Sequence[str], distractors: int = DISTRACTORS,
               seed: int = 0, tokenize: Callable[[str], list[str]] = bm25_words) -> np.ndarray:
  """Rank of each query's true code by BM25 (bm25s, Lucene variant) among its candidates."""
  return ranks_from_scores(bm25_scores(queries, codes, distractors, seed, tokenize))


RRF_K = 60  # Cormack et al. (2009)'s constant: a result's weight is 1 / (RRF_K + its rank)


def reciprocal_rank_fusion(*scores: np.ndarray, k: int = RRF_K) -> np.ndarray:
  """Reciprocal-rank fusion of score arrays over the same items (last axis): each item gets
  sum over scorers of 1 / (k + its rank by that scorer), rank 1 the best and tied items
  sharing the best rank of their tie (so BM25's many zero scores add nothing between them)."""
  fused = np.zeros(np.shape(scores[0]), np.float64)
  for s in scores:
    s = np.atleast_2d(np.asarray(s, np.float64))
    ordered = np.sort(s, axis=-1)
    # Items scoring strictly higher, + 1.
    higher = np.stack([s.shape[-1] - np.searchsorted(o, row, side="right")
                       for o, row in zip(ordered, s)])
    fused += (1.0 / (k + higher + 1)).reshape(fused.shape)
  return fused


def bm25_split_scores(split_rows: Sequence[dict], distractors: int = DISTRACTORS,
                      seed: int = 0) -> np.ndarray:
  """(n, 1 + d) BM25 scores of docstring_tokens against the candidates' code_tokens on exported
  rows of one split (codesearchnet.read_split), the candidates the dual encoder is scored on."""
  return bm25_scores([r["docstring_tokens"] for r in split_rows],
                     [r["code_tokens"] for r in split_rows], distractors, seed)


def bm25_mrr(split_rows: Sequence[dict], distractors: int = DISTRACTORS, seed: int = 0,
             ks: Sequence[int] = (1, 5, 10)) -> dict:
  """BM25 (docstring_tokens against code_tokens) MRR and recall@k on exported rows of one split
  (codesearchnet.read_split), with the candidates the dual encoder is scored on."""
  return scores_summary(bm25_split_scores(split_rows, distractors, seed), distractors, ks)


def encoder_scores(split_rows: Sequence[dict], encoder, distractors: int = DISTRACTORS,
                   seed: int = 0) -> np.ndarray:
  """(n, 1 + d) encoder scores (embed_queries / embed_code) of docstring_tokens against the
  candidates' code_tokens, the candidates `bm25_mrr` uses."""
  queries = encoder.embed_queries([r["docstring_tokens"] for r in split_rows])
  code = encoder.embed_code([r["code_tokens"] for r in split_rows])
  return embedding_scores(queries, code, distractors, seed)


def scores_summary(scores: np.ndarray, distractors: int = DISTRACTORS,
                   ks: Sequence[int] = (1, 5, 10)) -> dict:
  """MRR and recall@k from (n, 1 + d) candidate scores, column 0 the true code."""
  ranks = ranks_from_scores(scores)
  return _summary(ranks, len(ranks), distractors, ks)


def encoder_summary(split_rows: Sequence[dict], encoder, distractors: int = DISTRACTORS,
                    seed: int = 0, ks: Sequence[int] = (1, 5, 10)) -> dict:
  """MRR and recall@k of an encoder (embed_queries / embed_code) on exported rows of one split:
  docstring_tokens against code_tokens, on the candidates `bm25_mrr` uses."""
  return scores_summary(encoder_scores(split_rows, encoder, distractors, seed), distractors, ks)
