"""Code search evaluation on an exported CodeSearchNet split (the CodeSearchNet protocol: each
docstring against its code and 999 distractors): BM25, dense models, and their hybrids, on the
same candidates."""
import time
from typing import Sequence

from code_t5 import paths
from code_t5.corpora import codesearchnet
from code_t5.search import index, retrieval


def evaluate(language: str, split: str, models: Sequence[str] = (),
             distractors: int = retrieval.DISTRACTORS, seed: int = 0) -> dict:
  """{"bm25": summary, "<model>": summary, "hybrid:<model>": summary, ...} on the same
  candidates; each summary has mrr, recall@k, distractors and seconds."""
  try:
    rows = codesearchnet.read_split(paths.codesearchnet_dir(), language, split)
  except FileNotFoundError:
    raise FileNotFoundError(f"no exported {language}/{split} split under "
                            f"{paths.codesearchnet_dir()}; run "
                            "code-t5-export-codesearchnet first.") from None
  for spec in models:  # every model checked before any scoring
    if not spec.startswith("dense:"):
      raise ValueError(f"--model={spec}: expected dense:t5x:<dir> or dense:hash.")
  results = {}
  start = time.time()
  bm25 = retrieval.bm25_split_scores(rows, distractors, seed)
  results["bm25"] = retrieval.scores_summary(bm25, distractors)
  results["bm25"]["seconds"] = round(time.time() - start, 2)
  for spec in models:
    start = time.time()
    encoder = index.load_encoder(spec[len("dense:"):])
    dense = retrieval.encoder_scores(rows, encoder, distractors, seed)
    results[spec] = retrieval.scores_summary(dense, distractors)
    results[spec]["seconds"] = round(time.time() - start, 2)
    results[f"hybrid:{spec}"] = retrieval.scores_summary(
        retrieval.reciprocal_rank_fusion(bm25, dense), distractors)
  return results
