"""Builds the small dev dataset (FLCC layout) and prepares it, with nothing to download.

  # From the running Python's standard library (the default):
  code-t5-make-dev-dataset
  # From any local source tree:
  code-t5-make-dev-dataset --source_dir=~/src/myproject
  # A cut of a real FLCC root (repositories whose owner/repo matches the glob):
  code-t5-make-dev-dataset --flcc_root=/data/flcc --pattern='A*'
"""
import json
import os
import sys
import time

from code_t5 import paths
from code_t5.corpora import dev_dataset, prepare, splits
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  source = parser.add_mutually_exclusive_group()
  source.add_argument("--source_dir", help="local folder of source files to turn into an FLCC "
                      "tree, one repository per top-level entry (default: the running Python's "
                      f"standard library, {dev_dataset.stdlib_dir()})")
  source.add_argument("--flcc_root", help="a real FLCC root to cut the dev dataset from")
  parser.add_argument("--pattern", default="A*", help="with --flcc_root: glob over 'owner/repo' "
                      "of the repositories to copy (default: %(default)s)")
  parser.add_argument("--out_root", help="where to write the FLCC-layout tree (default: "
                      "$CODE_T5_DATA_DIR/flcc_dev_source); replaced if it exists")
  parser.add_argument("--prepared_dir", help="where to write the prepared shards the flcc_dev_* "
                      "tasks read (default: $CODE_T5_DATA_DIR/flcc_dev)")
  parser.add_argument("--no_prepare", action="store_true",
                      help="only build the FLCC-layout tree")
  shared.add_split_flags(parser)
  args = parser.parse_args(argv)

  return shared.run(lambda: _build(args), args.debug)


def _build(args) -> dict:
  start = time.time()
  out_root = os.path.expanduser(args.out_root or paths.dev_source_dir())
  if os.path.exists(out_root):
    print(f"note: replacing the dev dataset tree in {out_root} (and its prepared shards); "
          "pass --out_root and --prepared_dir to keep it.")
  if args.flcc_root:
    built = dev_dataset.copy_subset(os.path.expanduser(args.flcc_root), out_root, args.pattern)
  else:
    built = dev_dataset.from_source_tree(args.source_dir and os.path.expanduser(args.source_dir),
                                         out_root)
  print(f"FLCC-layout tree: {json.dumps(built)}")
  if built["repositories"] > 1 and built.get("single_file_repositories") == built["repositories"]:
    print(f"warning: {args.source_dir or built['source']} is a flat folder: each of its "
          f"{built['repositories']} files became a repository of its own, so the splits "
          "divide files, not projects. Point --source_dir at a folder of packages (one "
          "repository per sub-folder) to split by project.")
  if args.no_prepare:
    return built
  prepared_dir = os.path.expanduser(args.prepared_dir or paths.flcc_dir(dev=True))
  manifest = prepare.prepare(out_root, prepared_dir, splits.parse_splits(args.splits),
                             args.shard_bytes, args.workers, args.min_shards)
  shared.print_summary(manifest, prepared_dir, time.time() - start)
  return manifest


if __name__ == "__main__":
  sys.exit(main())
