"""Rewrites the intents of conala-mined with a fine-tuned model: the instruction dataset.

  code-t5-rewrite-conala-mined --checkpoint=/models/conala/checkpoint_5000 \
      --model_gin=code_t5/gin_configs/t5x/models/t5_1_1_small.gin --out=mined_rewritten.jsonl

Writes {"id", "question_id", "intent", "snippet", "rewritten_intent"} per line. Kill it any
time and run the same command again: it continues where it stopped, each id exactly once; when
every id is already written it prints its summary and exits without loading the checkpoint.
`--predictor=copy_intent` copies the intent instead of running a model (a baseline, no T5X).

On N hosts (each with its own devices), run the same command on each with
`--process_index=i --process_count=N`: host i rewrites its share of the ids into
<out>.part-0000i-of-0000N, resumable on its own; then, on any one of them,
`--merge --process_count=N` writes <out> with every id exactly once (and refuses, naming the
part to finish, while one is incomplete).
"""
import json
import os
import sys

from code_t5 import atomic_files as atomic
from code_t5 import paths
from code_t5.train import batch_inference
from code_t5.corpora import conala
from code_t5.corpora import summaries
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--out", required=True, help="output JSON-lines file (appended to on resume)")
  parser.add_argument("--mined", help="exported mined pairs (default: "
                      "$CODE_T5_DATA_DIR/conala/mined.jsonl)")
  parser.add_argument("--predictor", choices=("t5x", "copy_intent"), default="t5x",
                      help="t5x: a T5X checkpoint (default); copy_intent: the intent unchanged")
  parser.add_argument("--checkpoint", help="T5X checkpoint folder, e.g. .../checkpoint_5000")
  parser.add_argument("--model_gin", default="code_t5/gin_configs/t5x/models/t5_1_1_small.gin",
                      help="the model's gin file (size and VOCAB as trained; default: "
                      "%(default)s)")
  parser.add_argument("--gin_bindings", action="append", default=[],
                      help="extra gin bindings for the model, e.g. \"VOCAB = 'spm'\"")
  parser.add_argument("--batch_size", type=int, default=64, help="default: %(default)s")
  parser.add_argument("--inputs_length", type=int, default=512, help="default: %(default)s")
  parser.add_argument("--targets_length", type=int, default=128, help="default: %(default)s")
  parser.add_argument("--decoding", choices=("greedy", "beam", "temperature"), default="greedy",
                      help="default: %(default)s")
  parser.add_argument("--num_beams", type=int, default=4, help="with --decoding=beam")
  parser.add_argument("--temperature", type=float, default=0.6,
                      help="with --decoding=temperature")
  parser.add_argument("--top_k", type=int, default=40, help="with --decoding=temperature")
  parser.add_argument("--process_index", type=int, default=0,
                      help="this host's share of the ids (0 .. --process_count - 1)")
  parser.add_argument("--process_count", type=int, default=1, help="hosts sharing the work")
  parser.add_argument("--merge", action="store_true",
                      help="merge the --process_count finished parts into --out")
  args = parser.parse_args(argv)

  def _rewrite():
    mined = os.path.expanduser(args.mined or conala.output_path(paths.conala_dir(),
                                                                 "mined"))
    if not atomic.jsonl_files(mined):
      raise FileNotFoundError(f"{mined}: not found. {conala.HINT}")
    if args.merge:
      print(json.dumps(batch_inference.merge_parts(mined, os.path.expanduser(args.out),
                                                   args.process_count)))
      return
    if args.predictor == "copy_intent":
      predictor = batch_inference.CopyIntentPredictor()
    else:
      if not args.checkpoint:
        raise ValueError("--checkpoint is required with --predictor=t5x.")
      predictor = batch_inference.LazyPredictor(lambda: batch_inference.T5XPredictor(
          args.model_gin, os.path.expanduser(args.checkpoint), args.batch_size,
          args.inputs_length, args.targets_length, args.decoding, args.num_beams,
          args.temperature, args.top_k, gin_bindings=args.gin_bindings))
    total = (summaries.count(paths.conala_dir(), conala.SUMMARY, "files", "mined")
             if args.mined is None else None)
    share = (args.process_index, args.process_count)
    summary = batch_inference.rewrite_mined(mined, os.path.expanduser(args.out), predictor,
                                            args.batch_size, total if share == (0, 1) else None,
                                            share)
    if not summary["written"]:
      print(f"Nothing left to write: all {summary['total']} ids are in {summary['output']}.",
            file=sys.stderr)
    print(json.dumps(summary))

  return shared.run(_rewrite, args.debug)


if __name__ == "__main__":
  sys.exit(main())
