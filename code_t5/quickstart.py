"""The main job on the built-in default: dev dataset from the standard library, prepared, and
a look at every FLCC objective. Needs no download.

  python -m code_t5.quickstart [--source_dir=DIR] [--examples=2]
"""
import argparse
import os
import time

from code_t5 import paths
from code_t5 import show
from code_t5.corpora import dev_dataset, prepare
from code_t5.tasks import flcc


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--source_dir", help="local source tree for the dev dataset (default: "
                      "the running Python's standard library)")
  parser.add_argument("--examples", type=int, default=2, help="examples to print per task")
  args = parser.parse_args(argv)

  start = time.time()
  source_root, prepared = paths.dev_source_dir(), paths.flcc_dir(dev=True)
  print(f"== 1. dev dataset (FLCC layout) -> {source_root}")
  if os.path.exists(source_root):
    import shutil  # pylint: disable=g-import-not-at-top
    shutil.rmtree(source_root)
  built = dev_dataset.from_source_tree(args.source_dir, source_root)
  print(f"   {built['files']} files in {built['repositories']} repositories from "
        f"{built['source']}")
  print(f"== 2. preparation -> {prepared}")
  manifest = prepare.prepare(source_root, prepared)
  print(f"   kept {manifest['kept']} files, skipped {manifest['skipped']}")
  for split in manifest["splits"]:
    s = manifest["languages"]["python"].get(split, {})
    print(f"   python/{split}: {s.get('files', 0)} files, {s.get('repositories', 0)} repos")
  print("== 3. tasks (byte vocabulary), validation split")
  for objective in flcc.OBJECTIVES:
    name = flcc.task_name("python", objective, dev=True)
    counts = show.count_tokens(name)
    print(f"\n-- {name}: {counts}")
    for i, ex in enumerate(show.examples(name, num=args.examples)):
      for feature, text in ex.items():
        print(f"   [{i}] {feature}: {text[-200:]!r}")
  print(f"\nDone in {time.time() - start:.0f} s. Train on it: see INTRO.md.")


if __name__ == "__main__":
  main()
