"""Exports CodeSearchNet to JSON lines for the csn_* tasks and code_t5.search.retrieval.

  code-t5-export-codesearchnet --from_disk=~/csn     # *.jsonl[.gz], HF schema
  code-t5-export-codesearchnet --languages=python,go # Hugging Face code_search_net
  code-t5-export-codesearchnet --from_source_tree=/usr/lib/python3.11  # no download
  code-t5-export-codesearchnet --from_source_tree=/usr/lib/python3.11 \
      --extra_train_tree=$VIRTUAL_ENV/lib/python3.11/site-packages  # more training pairs

Writes <lang>/{train,validation,test}.jsonl and codesearchnet_summary.json to
$CODE_T5_DATA_DIR/codesearchnet. Rows with no code or no docstring tokens are counted in the
summary, not exported.
"""
import json
import os
import sys
import time

from code_t5.corpora import codesearchnet
from code_t5 import paths
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--from_disk", help="a *.jsonl[.gz] file, or a folder searched for them, "
                      "in the Hugging Face code_search_net schema (default: download it)")
  parser.add_argument("--from_source_tree", help="a local Python source tree: its documented "
                      "functions become (docstring, code) pairs, split 80/10/10 by top-level "
                      "folder, with CodeSearchNet's filters (a dev dataset, no download)")
  parser.add_argument("--extra_train_tree", action="append", default=[],
                      help="another Python source tree whose documented functions are added to "
                      "the train split only, minus any whose code or docstring is in the "
                      "validation or test split (repeatable)")
  parser.add_argument("--languages", help="comma-separated subset of "
                      f"{','.join(codesearchnet.LANGUAGES)} (default: all; from disk, those "
                      "found)")
  parser.add_argument("--out_dir", help="default: $CODE_T5_DATA_DIR/codesearchnet, where the "
                      "tasks read")
  shared.add_shards_flag(parser)
  args = parser.parse_args(argv)

  def _export():
    start = time.time()
    out_dir = os.path.expanduser(args.out_dir or paths.codesearchnet_dir())
    languages = [x.strip() for x in args.languages.split(",")] if args.languages else None
    summary = codesearchnet.export(out_dir, args.from_disk and os.path.expanduser(args.from_disk),
                                   languages, args.from_source_tree and
                                   os.path.expanduser(args.from_source_tree),
                                   extra_train_trees=[os.path.expanduser(t) for t in
                                                      args.extra_train_tree],
                                   shards=args.shards)
    print(f"\nExported CodeSearchNet from {summary['source']} to {out_dir} in "
          f"{time.time() - start:.1f} s")
    print(f"{'language':<12}{'split':<12}{'rows':>10}  skipped")
    for lang, splits in summary["languages"].items():
      for split, rows in splits.items():
        skips = ", ".join(f"{k} {v}" for k, v in summary["skipped"][lang][split].items())
        print(f"{lang:<12}{split:<12}{rows:>10}  {skips or 'none'}")
    if summary["not_selected_languages"]:
      print(f"rows of languages not selected: {summary['not_selected_languages']}")
    print(json.dumps(summary))

  return shared.run(_export, args.debug)


if __name__ == "__main__":
  sys.exit(main())
