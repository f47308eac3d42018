"""Scores full-line completions: CodeXGLUE line-level exact match and edit similarity (its
evaluator's stripping, literal post-processing and per-example rounding), then ours (raw strings,
unrounded), all 0-100.

  # t5x.infer output (JSON lines with inputs.targets_pretokenized and prediction):
  code-t5-score-full-line --predictions='/tmp/infer/flcc_python_full_line-predict.jsonl-*'
  # plain text, one completion per line (split on "\n" only; \x0c or U+2028 stay in a line):
  code-t5-score-full-line --predictions=preds.txt --targets=targets.txt
"""
import json
import sys

from code_t5.train import full_line_predictions as scoring
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--predictions", required=True,
                      help="t5x.infer JSON-lines file or glob, or a text file with --targets")
  parser.add_argument("--targets", help="text file of expected completions, one per line; "
                      "then --predictions is a text file too")
  args = parser.parse_args(argv)

  def _score():
    if args.targets:
      targets, predictions = scoring.read_text_pairs(args.targets, args.predictions)
    else:
      targets, predictions = scoring.read_t5x_predictions(args.predictions)
    print(json.dumps(scoring.score(targets, predictions)))

  return shared.run(_score, args.debug)


if __name__ == "__main__":
  sys.exit(main())
