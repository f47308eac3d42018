"""MRR and recall@k of BM25, of a dual encoder and of their hybrid on one exported
CodeSearchNet split, on the same candidates (CodeSearchNet protocol: each docstring against its
code and 999 distractors).

  python scripts/eval_code_search.py --language=python --split=test \
    [--model=dense:t5x:/models/search_small] [--model=dense:hash]

BM25 is always reported, as the baseline every other number sits beside; each dense model is
also reported fused with BM25 (`hybrid:<model>`: reciprocal-rank fusion of the two rankings of
the same candidates, weight 1 / (60 + rank) each).
"""
import json
import sys
import time
from typing import Sequence

from code_t5 import paths
from code_t5.search import index, retrieval
from code_t5.corpora import codesearchnet
from code_t5 import cli


def evaluate(language: str, split: str, models: Sequence[str] = (),
             distractors: int = retrieval.DISTRACTORS, seed: int = 0) -> dict:
  """{"bm25": summary, "<model>": summary, "hybrid:<model>": summary, ...} on the same
  candidates; each summary has mrr, recall@k, distractors and seconds."""
  try:
    rows = codesearchnet.read_split(paths.codesearchnet_dir(), language, split)
  except FileNotFoundError:
    raise FileNotFoundError(f"no exported {language}/{split} split under "
                            f"{paths.codesearchnet_dir()}; run "
                            "scripts/export_codesearchnet.py first.") from None
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


def main(argv=None) -> int:
  parser = cli.parser(__doc__)
  parser.add_argument("--language", default="python")
  parser.add_argument("--split", default="test")
  parser.add_argument("--model", action="append", default=[],
                      help="dense:t5x:<model or checkpoint dir> or dense:hash (repeatable)")
  parser.add_argument("--distractors", type=int, default=retrieval.DISTRACTORS)
  parser.add_argument("--seed", type=int, default=0, help="distractor sampling seed")
  args = parser.parse_args(argv)

  def _evaluate():
    results = evaluate(args.language, args.split, args.model, args.distractors, args.seed)
    print(f"{args.language}/{args.split}: {results['bm25']['queries']} queries, each against "
          f"{results['bm25']['distractors']} distractors")
    print(f"{'model':<44}{'MRR':>8}{'R@1':>8}{'R@5':>8}{'R@10':>8}")
    for name, r in results.items():
      print(f"{name[-44:]:<44}{r['mrr']:>8.4f}{r['recall@1']:>8.3f}{r['recall@5']:>8.3f}"
            f"{r['recall@10']:>8.3f}")
    print(json.dumps(results))

  return cli.run(_evaluate, args.debug)


if __name__ == "__main__":
  sys.exit(main())
