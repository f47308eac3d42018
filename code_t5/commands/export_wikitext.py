"""Exports wikitext to JSON lines for the `wikitext_span_corruption` task.

  code-t5-export-wikitext                       # hub download (network)
  code-t5-export-wikitext --from_disk=/data/wikitext --config=wikitext-2-raw-v1
  code-t5-export-wikitext --from_disk=/data/wikitext/wikitext-103-raw-v1
  code-t5-export-wikitext --config=wikitext-2-raw-v1 --test_into_train

--from_disk is a hub copy's root (one folder per config; only --config is read), or one config's
folder: the hub's files (train-00000-of-00002.parquet, ...), the hub's parquet conversion
(train/0000.parquet, ...) or a save_to_disk folder. Writes wikitext_{train,validation,test}.jsonl
({"text": ...} per line) and wikitext_summary.json (files read, rows read/kept per split) to
$CODE_T5_DATA_DIR/wikitext.
"""
import os
import sys
import time

from code_t5.corpora import wikitext
from code_t5 import paths
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--config", default="wikitext-103-raw-v1",
                      help=f"one of {', '.join(wikitext.CONFIGS)} (default: %(default)s)")
  parser.add_argument("--from_disk", help="local copy instead of the hub: a hub copy's root "
                      "(one folder per config), or one config's folder (<split>-0000N-of-0000M"
                      ".parquet, <split>/0000.parquet, JSON lines, or save_to_disk)")
  parser.add_argument("--out_dir", help="default: $CODE_T5_DATA_DIR/wikitext, where the task "
                      "reads")
  parser.add_argument("--min_length", type=int, default=100,
                      help="keep rows with more characters than this (default: %(default)s)")
  parser.add_argument("--test_into_train", action="store_true",
                      help="append the test rows to train (validation stays for evaluation)")
  shared.add_shards_flag(parser)
  args = parser.parse_args(argv)

  def _export():
    start = time.time()
    out_dir = os.path.expanduser(args.out_dir or paths.wikitext_dir())
    summary = wikitext.export(out_dir, args.config, args.from_disk and
                              os.path.expanduser(args.from_disk), args.min_length,
                              args.test_into_train, args.shards)
    print(f"\nExported {summary['config']} from {summary['source']} to {out_dir} in "
          f"{time.time() - start:.1f} s (rows longer than {args.min_length} characters):")
    for split, counts in summary["splits"].items():
      print(f"  {split:<11} read {counts['read']:>9}  kept {counts['kept']:>9}")
    print("Files read:")
    for split, files in summary["files"].items():
      print(f"  {split:<11} {', '.join(files)}")

  return shared.run(_export, args.debug)


if __name__ == "__main__":
  sys.exit(main())
