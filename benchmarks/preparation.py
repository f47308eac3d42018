"""FLCC preparation throughput and scaling, against a plain read of the same files.

Builds FLCC trees of 1x, 4x and 16x the stdlib dev tree (each copy's repositories under a new
owner, each file given a copy-specific last line so deduplication keeps it), then times
preparation with 1 and N workers next to reading every file once (the I/O limit).

  python benchmarks/preparation.py [--sizes=1,4,16] [--workers=1,2] [--work_dir=/tmp/prep_bench]
"""
import argparse
import os
import shutil
import tempfile

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5.corpora import dev_dataset, prepare


def build_tree(base: str, out: str, copies: int) -> None:
  """`copies` copies of the FLCC tree `base`, owners renamed and files made distinct."""
  for copy in range(copies):
    for dirpath, _, filenames in os.walk(base):
      rel = os.path.relpath(dirpath, base).split(os.sep)
      if len(rel) >= 4 and rel[1] in ("languages", "repositories"):
        owner_index = 4 if rel[1] == "languages" else 2
        if len(rel) > owner_index:
          rel[owner_index] = f"{rel[owner_index]}_copy{copy}"
      target = os.path.join(out, *rel)
      os.makedirs(target, exist_ok=True)
      for name in filenames:
        src, dst = os.path.join(dirpath, name), os.path.join(target, name)
        if rel[1] == "languages":
          with open(src, "rb") as f, open(dst, "wb") as g:
            g.write(f.read() + f"\n# copy {copy}\n".encode())
        else:
          shutil.copyfile(src, dst)


def plain_read(root: str) -> tuple[int, int]:
  """Files and bytes of the source files (v3/languages), each read once."""
  files = total = 0
  for dirpath, _, filenames in os.walk(os.path.join(root, "v3", "languages")):
    for name in filenames:
      with open(os.path.join(dirpath, name), "rb") as f:
        total += len(f.read())
      files += 1
  return files, total


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--sizes", default="1,4,16")
  parser.add_argument("--workers", default=f"1,{os.cpu_count()}")
  parser.add_argument("--work_dir", default=None)
  common.add_output_flags(parser)
  args = parser.parse_args()
  work = args.work_dir or tempfile.mkdtemp(prefix="prep_bench_")
  base = os.path.join(work, "base")
  if not os.path.exists(base):
    dev_dataset.from_source_tree(None, base)
  rows = []
  for size in [int(s) for s in args.sizes.split(",")]:
    tree = os.path.join(work, f"x{size}")
    if not os.path.exists(tree):
      build_tree(base, tree, size)
    plain_read(tree)  # warm the page cache so both sides read from memory
    (files, total), read_seconds = common.timed(plain_read, tree)
    for workers in sorted({int(w) for w in args.workers.split(",")}):
      out = os.path.join(work, f"out_x{size}_w{workers}")
      shutil.rmtree(out, ignore_errors=True)
      manifest, seconds = common.timed(prepare.prepare, tree, out, workers=workers)
      rows.append({"size": f"{size}x", "workers": workers, "files": files,
                   "MB": round(total / 1e6, 1), "seconds": seconds,
                   "MB_per_s": total / 1e6 / seconds, "files_per_s": files / seconds,
                   "plain_read_MB_per_s": total / 1e6 / read_seconds,
                   "ratio_to_plain_read": read_seconds / seconds, "kept": manifest["kept"]})
  common.report("preparation", rows, common.out_dir(args), {"work_dir": work})


if __name__ == "__main__":
  main()
