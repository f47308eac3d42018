"""MRR and recall@k of BM25, of a dual encoder and of their hybrid on one exported
CodeSearchNet split, on the same candidates (CodeSearchNet protocol: each docstring against its
code and 999 distractors).

  code-t5-eval-code-search --language=python --split=test \
    [--model=dense:t5x:/models/search_small] [--model=dense:hash]

BM25 is always reported, as the baseline every other number sits beside; each dense model is
also reported fused with BM25 (`hybrid:<model>`: reciprocal-rank fusion of the two rankings of
the same candidates, weight 1 / (60 + rank) each).
"""
import json
import sys

from code_t5.commands import shared
from code_t5.search import evaluation, retrieval


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--language", default="python")
  parser.add_argument("--split", default="test")
  parser.add_argument("--model", action="append", default=[],
                      help="dense:t5x:<model or checkpoint dir> or dense:hash (repeatable)")
  parser.add_argument("--distractors", type=int, default=retrieval.DISTRACTORS)
  parser.add_argument("--seed", type=int, default=0, help="distractor sampling seed")
  args = parser.parse_args(argv)

  def _evaluate():
    results = evaluation.evaluate(args.language, args.split, args.model, args.distractors,
                                 args.seed)
    print(f"{args.language}/{args.split}: {results['bm25']['queries']} queries, each against "
          f"{results['bm25']['distractors']} distractors")
    print(f"{'model':<44}{'MRR':>8}{'R@1':>8}{'R@5':>8}{'R@10':>8}")
    for name, r in results.items():
      print(f"{name[-44:]:<44}{r['mrr']:>8.4f}{r['recall@1']:>8.3f}{r['recall@5']:>8.3f}"
            f"{r['recall@10']:>8.3f}")
    print(json.dumps(results))

  return shared.run(_evaluate, args.debug)


if __name__ == "__main__":
  sys.exit(main())
