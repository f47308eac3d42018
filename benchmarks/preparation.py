"""FLCC preparation throughput and scaling, against a plain read of the same files.

Builds FLCC trees of 1x, 4x and 16x the stdlib dev tree (each copy's repositories under a new
owner, each file given a copy-specific last line so deduplication keeps it), then times
preparation with 1 and N workers next to reading every file once (the I/O limit).

With --beam_workers (apache-beam installed: the `cache` extra), the same trees again through
the Beam pipeline on the DirectRunner (multi-processing mode, 1 and N workers), and a
projection of the wall time of a 1 TB corpus on 16 to 1,024 Beam workers from the best
measured per-worker rate: a projection, not a measurement (it assumes the rate holds per
worker, as it does when the workers' disks and network keep up, and leaves out start-up).
Each preparation runs in a fresh process, as the command does.

  python benchmarks/preparation.py [--sizes=1,4,16] [--workers=1,2] [--beam_workers=1,2]
      [--work_dir=/tmp/prep_bench]
"""
import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5.corpora import dev_dataset


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
  parser.add_argument("--beam_workers", default="",
                      help="e.g. 1,2: also the Beam pipeline on the DirectRunner")
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
    runs = [("local", int(w)) for w in args.workers.split(",")]
    runs += [("beam", int(w)) for w in args.beam_workers.split(",") if w]
    for path, workers in sorted(set(runs)):
      out = os.path.join(work, f"out_x{size}_{path}{workers}")
      shutil.rmtree(out, ignore_errors=True)
      manifest, seconds = _prepare(path, tree, out, workers)
      rows.append({"path": path, "size": f"{size}x", "workers": workers, "files": files,
                   "MB": round(total / 1e6, 1), "seconds": seconds,
                   "MB_per_s": total / 1e6 / seconds, "files_per_s": files / seconds,
                   "plain_read_MB_per_s": total / 1e6 / read_seconds,
                   "ratio_to_plain_read": read_seconds / seconds, "kept": manifest["kept"]})
  projected = projection(rows)
  common.report("preparation", rows, common.out_dir(args),
                {"work_dir": work, "projection_1TB_not_measured": projected})
  for row in projected:
    print(f"PROJECTION (not measured): 1 TB on {row['workers']} Beam workers at "
          f"{row['MB_per_s_per_worker (measured)']} MB/s each: {row['projected_hours']} h")


def _prepare(path: str, tree: str, out: str, workers: int) -> tuple[dict, float]:
  """(manifest, seconds) of one preparation in a fresh process, as the command runs it: a
  process that has imported TensorFlow (which imports JAX) spawns its workers, each paying
  the imports again, where a fresh one forks them."""
  if path == "local":
    call = f"prepare.prepare({tree!r}, {out!r}, workers={workers})"
  else:
    call = (f"beam_prepare.prepare_with_beam({tree!r}, {out!r}, beam_args=["
            f"'--runner=DirectRunner', '--direct_running_mode=multi_processing', "
            f"'--direct_num_workers={workers}'])")
  script = ("import json, sys, time\n"
            "from code_t5.corpora import beam_prepare, prepare\n"
            f"start = time.perf_counter()\nmanifest = {call}\n"
            "print(json.dumps([manifest, time.perf_counter() - start]))\n")
  done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                        check=False)
  if done.returncode:
    raise RuntimeError(f"{path} preparation failed:\n{done.stderr[-3000:]}")
  manifest, seconds = json.loads(done.stdout.strip().splitlines()[-1])
  return manifest, seconds


def projection(rows: list[dict], corpus_mb: float = 1e6) -> list[dict]:
  """PROJECTED hours for a 1 TB corpus on N Beam workers: the best measured MB/s per worker
  (largest tree), times N. Not measured. (The local path does not leave one machine.)"""
  beam = [r for r in rows if r["path"] == "beam"]
  if not beam:
    return []
  largest = max(beam, key=lambda r: r["MB"])["size"]
  per_worker = max(r["MB_per_s"] / r["workers"] for r in beam if r["size"] == largest)
  return [{"workers": n, "MB_per_s_per_worker (measured)": round(per_worker, 2),
           "projected_hours": round(corpus_mb / (per_worker * n) / 3600, 2)}
          for n in (16, 64, 256, 1024)]


if __name__ == "__main__":
  main()
