"""Metrics as seqio metric functions: (targets, predictions) -> {name: value}."""
from typing import Sequence

from rapidfuzz import fuzz


def exact_match(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """CodeXGLUE line-level exact match: equal whitespace-separated tokens, as a percentage."""
  hits = sum(t.split() == p.split() for t, p in zip(targets, predictions, strict=True))
  return {"exact_match": 100.0 * hits / max(len(targets), 1)}


def edit_similarity(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """CodeXGLUE line-level edit similarity: mean Levenshtein ratio (fuzz.ratio), 0-100."""
  total = sum(fuzz.ratio(p, t) for t, p in zip(targets, predictions, strict=True))
  return {"edit_similarity": total / max(len(targets), 1)}
