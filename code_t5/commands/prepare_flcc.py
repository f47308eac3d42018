"""Prepares an FLCC root into the TFRecord shards that the flcc_* tasks read.

  code-t5-prepare-flcc --flcc_root=/data/dataset-normalized-5000-with-imports

Splits by repository, removes exact duplicates, writes <out_dir>/<language>/<split>.tfrecord-*
and manifest.json. Safe to kill: run it again and it resumes, with byte-identical output.
One run at a time per output folder: a second one stops at once, naming the first one's pid.

On a distributed engine (the `cache` extra: apache-beam), the same preparation as a Beam
pipeline, byte-identical output; every flag after --runner is a Beam pipeline option:

  code-t5-prepare-flcc --flcc_root=ROOT --out_dir=OUT --runner=DirectRunner \
      --direct_running_mode=multi_processing --direct_num_workers=8
  code-t5-prepare-flcc --flcc_root=/mnt/flcc --out_dir=gs://B/flcc --runner=DataflowRunner \
      --project=P --region=R --temp_location=gs://B/tmp --requirements_file=req.txt
  (FlinkRunner: --flink_master=HOST:8081; SparkRunner: --spark_master_url=spark://HOST:7077)
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
  parser.add_argument("--runner", help="run as an Apache Beam pipeline on this runner "
                      "(DirectRunner, DataflowRunner, FlinkRunner, SparkRunner, ...); the "
                      "flags this command does not know go to Beam (default: the local path)")
  args, beam_args = parser.parse_known_args(argv)
  if beam_args and not args.runner:
    parser.error(f"unrecognized arguments: {' '.join(beam_args)} (Beam pipeline options "
                 "need --runner)")

  def _prepare():
    start = time.time()
    out_dir = os.path.expanduser(args.out_dir or paths.flcc_dir())
    root, fractions = os.path.expanduser(args.flcc_root), splits.parse_splits(args.splits)
    if args.runner:
      from code_t5.corpora import beam_prepare  # pylint: disable=g-import-not-at-top
      manifest = beam_prepare.prepare_with_beam(root, out_dir, fractions, args.shard_bytes,
                                                [f"--runner={args.runner}", *beam_args],
                                                args.min_shards)
    else:
      manifest = prepare.prepare(root, out_dir, fractions, args.shard_bytes, args.workers,
                                 args.min_shards)
    shared.print_summary(manifest, out_dir, time.time() - start)
    return manifest

  return shared.run(_prepare, args.debug)


if __name__ == "__main__":
  sys.exit(main())
