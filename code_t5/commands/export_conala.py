"""Exports CoNaLa (curated and mined) to JSON lines for the conala_* tasks.

  code-t5-export-conala --from_disk=~/conala-corpus    # the v1.1 zip, extracted
  code-t5-export-conala                                # Hugging Face neulab/conala

Writes curated_{train,test}.jsonl, mined.jsonl, mined_codegen.jsonl and conala_summary.json to
$CODE_T5_DATA_DIR/conala. Rows without a rewritten intent are counted; the rewrite task leaves
them out.
"""
import json
import os
import sys
import time

from code_t5.corpora import conala
from code_t5 import paths
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--from_disk", help="folder with conala-train.json, conala-test.json and "
                      "conala-mined.jsonl (default: download neulab/conala from the hub)")
  parser.add_argument("--out_dir", help="default: $CODE_T5_DATA_DIR/conala, where the tasks read")
  parser.add_argument("--mined_for_codegen", type=int, default=100000, help="first N mined pairs "
                      "for conala_mined_code_generation (the baseline used 100k; default: "
                      "%(default)s)")
  shared.add_shards_flag(parser)
  args = parser.parse_args(argv)

  def _export():
    start = time.time()
    out_dir = os.path.expanduser(args.out_dir or paths.conala_dir())
    summary = conala.export(out_dir, args.from_disk and os.path.expanduser(args.from_disk),
                            args.mined_for_codegen, args.shards)
    print(f"\nExported CoNaLa from {summary['source']} to {out_dir} in "
          f"{time.time() - start:.1f} s")
    print(json.dumps(summary, indent=1))

  return shared.run(_export, args.debug)


if __name__ == "__main__":
  sys.exit(main())
