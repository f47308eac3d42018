"""Code search quality: BM25, the CPU recipe's dual encoder and their hybrid, on the same
candidates of one held-out split, in one run.

  code-t5-export-codesearchnet --from_source_tree=<stdlib> \
      --extra_train_tree=$VIRTUAL_ENV/lib/python3.11/site-packages
  python benchmarks/code_search.py --model_dir=/tmp/search_cpu [--split=test]

Trains code_t5/gin_configs/t5x/dual_encoder_search_cpu.gin into --model_dir unless it already
holds a checkpoint (then that run is loaded), then scores BM25, `dense:t5x:<model_dir>`,
`dense:hash` (a stand-in, not a model) and each dense one fused with BM25 by
code-t5-eval-code-search's machinery (CodeSearchNet protocol). Writes results/code_search.json
and the table between the code-search markers of benchmarks/README.md.
"""
import argparse
import json
import os
import time

import autocomplete  # benchmarks/autocomplete.py: checkpoints, training, README sections
import common
from code_t5 import paths
from code_t5.search import evaluation

GIN = "code_t5/gin_configs/t5x/dual_encoder_search_cpu.gin"
BEGIN, END = "<!-- code-search:begin -->", "<!-- code-search:end -->"
NAMES = {"bm25": "BM25 (bm25s)", "dense:hash": "`dense:hash` (hashed sub-words, not a model)",
         "hybrid:dense:hash": "hybrid: BM25 + `dense:hash` (reciprocal-rank fusion)"}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  autocomplete.add_recipe_flags(parser, GIN, "about 35 min")
  parser.add_argument("--language", default="python")
  parser.add_argument("--split", default="test")
  common.add_output_flags(parser)
  args = parser.parse_args()
  model_dir = os.path.abspath(args.model_dir)
  trained = autocomplete.loaded_or_trained(parser, args, GIN, "about 35 min")
  dense = f"dense:t5x:{model_dir}"
  results = evaluation.evaluate(args.language, args.split, [dense, "dense:hash"])
  names = {**NAMES, dense: "dual encoder, `dual_encoder_search_cpu.gin`",
           f"hybrid:{dense}": "hybrid: BM25 + the dual encoder (reciprocal-rank fusion)"}
  rows = [{"model": names[name], "MRR": round(r["mrr"], 4), "recall@1": round(r["recall@1"], 3),
           "recall@5": round(r["recall@5"], 3), "recall@10": round(r["recall@10"], 3)}
          for name, r in results.items()]
  with open(os.path.join(paths.codesearchnet_dir(), "codesearchnet_summary.json")) as f:
    export = json.load(f)
  bm25 = results["bm25"]
  extra = {"command": f"--model_dir={args.model_dir} --split={args.split}",
           "date": time.strftime("%Y-%m-%d"), "train": trained, "results": results,
           "export": {"source": export["source"], "extra_train_trees": export.get(
               "extra_train_trees", []), "rows": export["languages"].get(args.language)}}
  result = common.report("code_search", rows, common.out_dir(args), extra)
  if not args.update_readme:
    return
  lines = ["| " + " | ".join(rows[0]) + " |", "|" + "---|" * len(rows[0])]
  lines += ["| " + " | ".join(str(v) for v in r.values()) + " |" for r in rows]
  counts = extra["export"]["rows"]
  table = "\n".join([
      BEGIN,
      f"`python benchmarks/code_search.py {extra['command']}` ({extra['date']}, "
      f"{result['machine']['cpus']} CPUs): {args.language}/{args.split}, {bm25['queries']} "
      f"queries, each ranked among {bm25['distractors']} distractors (the same for every row). "
      f"Export: {extra['export']['source']} plus training pairs of "
      f"{', '.join(extra['export']['extra_train_trees']) or 'no other tree'} "
      f"({counts['train']} / {counts['validation']} / {counts['test']} pairs). "
      f"Model: `{GIN}` ({trained}).",
      "", *lines, END])
  common.write_section(table, BEGIN, END, "Code search quality")


if __name__ == "__main__":
  main()
