"""Prepares an FLCC root into the TFRecord shards that the flcc_* tasks read.

  code-t5-prepare-flcc --flcc_root=/data/dataset-normalized-5000-with-imports

Splits by repository, removes exact duplicates, writes <out_dir>/<language>/<split>.tfrecord-*
and manifest.json. Safe to kill: run it again and it resumes, with byte-identical output.
One run at a time per output folder: a second one stops at once, naming the first one's pid.
"""
import os
import sys
import time

from code_t5 import paths
from code_t5.corpora import prepare, splits
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--flcc_root", required=True, help="folder holding the FLCC `v3` tree "
                      "(e.g. the extracted dataset-normalized-5000-with-imports/)")
  parser.add_argument("--out_dir", help="output folder (default: $CODE_T5_DATA_DIR/flcc, where "
                      "the flcc_* tasks look)")
  shared.add_split_flags(parser)
  args = parser.parse_args(argv)

  def _prepare():
    start = time.time()
    out_dir = os.path.expanduser(args.out_dir or paths.flcc_dir())
    manifest = prepare.prepare(os.path.expanduser(args.flcc_root), out_dir,
                               splits.parse_splits(args.splits), args.shard_bytes, args.workers)
    shared.print_summary(manifest, out_dir, time.time() - start)
    return manifest

  return shared.run(_prepare, args.debug)


if __name__ == "__main__":
  sys.exit(main())
