"""Throughput of rewriting conala-mined intents: batched vs one pair at a time.

Runs code-t5-rewrite-conala-mined's machinery (code_t5.train.batch_inference.rewrite_mined) over N mined
pairs — the exported conala-mined if present, else synthetic pairs shaped like it — with a real
T5X checkpoint when given (and T5X is installed), else the model-free stand-in (which then
measures the machinery alone). Projects the wall time for all 598,237 mined pairs.

  python benchmarks/conala_inference.py --checkpoint=/tmp/conala/checkpoint_200 \
      --model_gin=code_t5/gin_configs/t5x/models/t5_1_1_tiny.gin [--pairs=256] [--batch_sizes=1,32]
"""
import argparse
import itertools
import json
import os
import tempfile

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5.train import batch_inference as inference
from code_t5.corpora import conala
from code_t5 import paths

MINED_PAIRS = 598237


def mined_rows(count: int) -> list[dict]:
  path = conala.output_path(paths.conala_dir(), "mined")
  if os.path.exists(path):
    with open(path, encoding="utf-8") as f:
      return [json.loads(line) for line in itertools.islice(f, count)]
  return [{"id": f"{1000 + i}_{2000 + i}_0", "question_id": 1000 + i,
           "intent": f"How to sort a list of tuples by the second element, case {i}?",
           "snippet": f"sorted(items_{i}, key=lambda x: (x[1], x[0]), reverse=True)"}
          for i in range(count)]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--checkpoint", help="T5X checkpoint; without it, the stand-in predictor")
  parser.add_argument("--model_gin", default="code_t5/gin_configs/t5x/models/t5_1_1_tiny.gin")
  parser.add_argument("--pairs", type=int, default=256)
  parser.add_argument("--batch_sizes", default="1,32")
  common.add_output_flags(parser)
  args = parser.parse_args()
  work = tempfile.mkdtemp(prefix="conala_bench_")
  mined = os.path.join(work, "mined.jsonl")
  with open(mined, "w") as f:
    f.write("".join(json.dumps(r) + "\n" for r in mined_rows(args.pairs)))
  rows = []
  for batch_size in [int(b) for b in args.batch_sizes.split(",")]:
    if args.checkpoint:
      predictor = inference.T5XPredictor(args.model_gin, args.checkpoint, batch_size,
                                         inputs_length=256, targets_length=32)
      predictor.predict(["warm up"] * batch_size)  # compile outside the timing
      name = f"t5x {os.path.basename(args.model_gin)}"
    else:
      predictor, name = inference.CopyIntentPredictor(), "copy_intent stand-in"
    out = os.path.join(work, f"out_{batch_size}.jsonl")
    summary, seconds = common.timed(inference.rewrite_mined, mined, out, predictor, batch_size)
    rate = summary["written"] / seconds
    rows.append({"predictor": name, "batch_size": batch_size, "pairs": summary["written"],
                 "seconds": seconds, "pairs_per_s": rate,
                 "projected_hours_all_mined": MINED_PAIRS / rate / 3600})
  base = rows[0]["pairs_per_s"]
  for r in rows:
    r["speedup_vs_first"] = r["pairs_per_s"] / base
  common.report("conala_inference", rows, common.out_dir(args))


if __name__ == "__main__":
  main()
