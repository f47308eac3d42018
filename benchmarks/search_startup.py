"""One-shot code search start-up: `code-t5-search query` on an index of the standard
library, against `python -c pass` and `python -c "import numpy"` measured in the same run (the
interpreter and the one library every query needs). Target: the query within 0.3 s on a quiet
machine, i.e. what it adds to Python and NumPy is small.

  python benchmarks/search_startup.py [--runs=7]
"""
import argparse
import os
import statistics
import subprocess
import sys
import sysconfig
import time

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import paths

QUESTION = "read a file and return its lines"


def median_seconds(cmd: list[str], runs: int) -> float:
  times = []
  for _ in range(runs):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    times.append(time.perf_counter() - start)
  return statistics.median(times)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--runs", type=int, default=7)
  common.add_output_flags(parser)
  args = parser.parse_args()
  index_dir = os.path.join(paths.data_dir(), "benchmarks", "stdlib_search_index")
  stdlib = sysconfig.get_paths()["stdlib"]
  search_command = os.path.join(os.path.dirname(sys.executable), "code-t5-search")
  subprocess.run([search_command, "index", stdlib, "--no_progress",
                  f"--index_dir={index_dir}", "--exclude=test", "--exclude=tests",
                  "--exclude=site-packages"], check=True, stdout=subprocess.DEVNULL)
  query = [search_command, "query", QUESTION, "-k", "10",
           f"--index_dir={index_dir}"]
  python = median_seconds([sys.executable, "-c", "pass"], args.runs)
  numpy = median_seconds([sys.executable, "-c", "import numpy"], args.runs)
  search = median_seconds(query, args.runs)
  rows = [{"command": "python -c pass", "median_s": round(python, 3), "ratio": 1.0},
          {"command": "python -c 'import numpy'", "median_s": round(numpy, 3),
           "ratio": round(numpy / python, 1)},
          {"command": "code_t5.search query (one shot)", "median_s": round(search, 3),
           "ratio": round(search / python, 1)}]
  with open(os.path.join(index_dir, "manifest.json"), encoding="utf-8") as f:
    functions = __import__("json").load(f)["functions"]
  common.report("search_startup", rows, common.out_dir(args),
                {"functions": functions, "runs": args.runs, "target_s": 0.3,
                 "query_minus_numpy_s": round(search - numpy, 3)})


if __name__ == "__main__":
  main()
