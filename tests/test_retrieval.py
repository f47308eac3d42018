import numpy as np
import pytest

import csn_fixtures
from code_t5.search import retrieval
from code_t5.corpora import codesearchnet


def _circle(n: int) -> np.ndarray:
  """n distinct unit vectors: each is its own unique best match."""
  angles = np.linspace(0, np.pi, n, endpoint=False)
  return np.stack([np.cos(angles), np.sin(angles)], axis=1).astype(np.float32)


def test_candidates_are_deterministic_and_exclude_the_true_row():
  cands = retrieval.candidates(3000, seed=7)
  assert cands.shape == (3000, 1000)
  assert (cands[:, 0] == np.arange(3000)).all()
  assert all(i not in row[1:] and len(set(row)) == 1000 for i, row in enumerate(cands[:50]))
  assert (retrieval.candidates(3000, seed=7) == cands).all()
  assert not (retrieval.candidates(3000, seed=8) == cands).all()
  small = retrieval.candidates(4)
  assert small.tolist() == [[0, 1, 2, 3], [1, 0, 2, 3], [2, 0, 1, 3], [3, 0, 1, 2]]


def test_mrr_when_the_true_code_is_at_a_known_rank():
  # Every query scores code j as j + 1, so query i's true code is at rank n - i.
  n = 5
  codes = np.array([[j + 1.0, 0.0] for j in range(n)], np.float32)
  queries = np.tile([[1.0, 0.0]], (n, 1)).astype(np.float32)
  assert retrieval.embedding_ranks(queries, codes).tolist() == [5, 4, 3, 2, 1]
  result = retrieval.mrr(queries, codes)
  assert result["mrr"] == pytest.approx(np.mean([1, 1 / 2, 1 / 3, 1 / 4, 1 / 5]))
  assert result["all_others"] and result["distractors"] == 4 and "not 999" in result["note"]
  assert retrieval.recall_at_k(queries, codes, ks=(1, 2)) == {"recall@1": 0.2, "recall@2": 0.4}
  # Ties count against the true code: all equal -> last.
  assert retrieval.mrr(queries, np.ones((n, 2), np.float32))["mrr"] == pytest.approx(1 / 5)


def test_mrr_with_999_distractors_best_worst_and_half():
  n = 3000
  codes = _circle(n)
  best = retrieval.mrr(codes, codes)
  assert best == {"mrr": 1.0, "queries": n, "distractors": 999, "all_others": False}
  assert retrieval.mrr(-codes, codes)["mrr"] == pytest.approx(1 / 1000)
  half = np.where(np.arange(n)[:, None] % 2 == 0, codes, -codes)
  assert retrieval.mrr(half, codes)["mrr"] == pytest.approx((1 + 1 / 1000) / 2)
  assert retrieval.recall_at_k(half, codes, ks=(1, 999, 1000)) == {
      "recall@1": 0.5, "recall@999": 0.5, "recall@1000": 1.0}


def test_embedding_ranks_match_a_plain_loop():
  rng = np.random.default_rng(0)
  queries, codes = (rng.normal(size=(300, 8)).astype(np.float32) for _ in range(2))
  ranks = retrieval.embedding_ranks(queries, codes, distractors=20, seed=3)
  cands = retrieval.candidates(300, 20, seed=3)
  expected = [sum(queries[i] @ codes[j] >= queries[i] @ codes[i] for j in cands[i])
              for i in range(300)]
  assert ranks.tolist() == expected
  with pytest.raises(ValueError, match="one shape"):
    retrieval.mrr(queries, codes[:10])


@pytest.mark.parametrize("kind", ["flat", "ivf", "hnsw"])
def test_faiss_index_finds_neighbours_and_survives_save_and_load(kind, tmp_path):
  rng = np.random.default_rng(0)
  codes = rng.normal(size=(2000, 16)).astype(np.float32)
  codes /= np.linalg.norm(codes, axis=1, keepdims=True)
  queries = codes[:100] + 0.05 * rng.normal(size=(100, 16)).astype(np.float32)
  index = retrieval.Index.build(codes, kind=kind, nprobe=4)
  scores, ids = index.search(queries, k=5)
  assert len(index) == 2000 and ids.shape == (100, 5)
  assert np.mean(ids[:, 0] == np.arange(100)) >= (1.0 if kind == "flat" else 0.9)
  path = str(tmp_path / "sub" / f"{kind}.faiss")
  index.save(path)
  loaded = retrieval.Index.load(path, nprobe=4)
  scores2, ids2 = loaded.search(queries, k=5)
  assert (ids2 == ids).all() and np.allclose(scores2, scores)
  if kind == "ivf":
    assert loaded.index.nprobe == 4 and loaded.index.nlist == 2000 // 39


def test_faiss_index_errors():
  with pytest.raises(ValueError, match="'flat', 'ivf' or 'hnsw'"):
    retrieval.Index.build(np.zeros((3, 2)), kind="lsh")
  with pytest.raises(FileNotFoundError, match="no faiss index"):
    retrieval.Index.load("/nonexistent/x.faiss")


def test_bm25_words_split_identifiers():
  assert retrieval.bm25_words("def readJSONFile ( path_2 ) : HTTPServer") == [
      "def", "read", "json", "file", "path", "2", "http", "server"]


def test_bm25_ranks_the_matching_function_first():
  rows = [codesearchnet.normalise(r, "fixture")[0] for r in csn_fixtures.python_rows()
          if r["split_name"] == "train" and r["func_documentation_tokens"] and
          r["func_code_tokens"]]
  result = retrieval.bm25_mrr(rows)
  assert result["mrr"] == 1.0 and result["recall@1"] == 1.0
  assert result["all_others"] and result["distractors"] == len(rows) - 1 == 7
  query = "Read a JSON file and return the parsed object"
  ranks = retrieval.bm25_ranks([query, "zzz"], [rows[0]["code_tokens"], rows[1]["code_tokens"]])
  assert ranks.tolist() == [1, 2]  # a query sharing no word ties everything: ranked last


def test_reciprocal_rank_fusion_adds_one_over_k_plus_rank():
  bm25 = np.array([[3.0, 2.0, 1.0], [0.0, 0.0, 5.0]])
  dense = np.array([[0.1, 0.3, 0.2], [0.2, 0.1, 0.3]])
  fused = retrieval.reciprocal_rank_fusion(bm25, dense, k=60)
  np.testing.assert_allclose(fused[0], [1 / 61 + 1 / 63, 1 / 62 + 1 / 61, 1 / 63 + 1 / 62])
  # Tied scores share the best rank of their tie (2 for both zeros).
  np.testing.assert_allclose(fused[1], [1 / 62 + 1 / 62, 1 / 62 + 1 / 63, 1 / 61 + 1 / 61])
  assert list(retrieval.ranks_from_scores(fused)) == [2, 2]


def test_split_scores_give_the_ranks_of_the_rank_functions():
  rng = np.random.default_rng(0)
  queries, codes = rng.normal(size=(30, 8)), rng.normal(size=(30, 8))
  np.testing.assert_array_equal(
      retrieval.ranks_from_scores(retrieval.embedding_scores(queries, codes, 9, seed=1)),
      retrieval.embedding_ranks(queries, codes, 9, seed=1))
