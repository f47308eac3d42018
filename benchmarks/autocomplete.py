"""Autocomplete quality: the CPU recipe's model against the n-gram baseline and a constant server,
replayed on the same held-out files of the dev dataset in one run.

  code-t5-make-dev-dataset && code-t5-train-vocab    # once
  python benchmarks/autocomplete.py --model_dir=/tmp/autocomplete [--files=12 --max_words=200]

Trains code_t5/gin_configs/t5x/autocomplete_cpu.gin into --model_dir unless it already holds a
checkpoint (then that run is loaded), serves it with `--model=t5x:DIR` (beam search, stopping at
the end of the line) and the word n-gram built from the dev dataset's train split with
`--model=ngram:DIR`, each behind `code-t5-serve`, and replays the test
split's files against both with code-t5-eval-autocomplete (the strict protocol). A server
that ignores its input is replayed on the same files, in process. Writes results/autocomplete.json
and the table between the autocomplete markers of benchmarks/README.md.
"""
import argparse
import glob
import json
import os
import subprocess
import sys
import tempfile
import time

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import paths
from code_t5.autocomplete import client
from code_t5.autocomplete import replay
from code_t5.corpora import split_files
from code_t5.train import checkpoint_files

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
GIN = "code_t5/gin_configs/t5x/autocomplete_cpu.gin"
CONSTANT = ['= self.get("None", (1, 0)):', "return", "if not", "in"]
BEGIN, END = "<!-- autocomplete:begin -->", "<!-- autocomplete:end -->"


def latest_checkpoint(model_dir: str) -> str | None:
  steps = checkpoint_files.t5x_steps(model_dir)
  return os.path.join(model_dir, f"checkpoint_{steps[-1]}") if steps else None


def train(model_dir: str, gin_file: str = GIN) -> float:
  """Runs the recipe `gin_file` into `model_dir`; returns the seconds it took."""
  start = time.time()
  subprocess.run([sys.executable, "-m", "t5x.train", f"--gin_file={gin_file}",
                  f"--gin.MODEL_DIR='{model_dir}'"], cwd=ROOT, check=True)
  return time.time() - start


def add_recipe_flags(parser: argparse.ArgumentParser, gin_file: str, time: str) -> None:
  parser.add_argument("--model_dir", required=True, help=f"T5X run of the recipe ({gin_file})")
  parser.add_argument("--train", action="store_true", help="train the recipe into --model_dir "
                      f"first when it holds no checkpoint ({time} on 2 CPU cores)")


def loaded_or_trained(parser: argparse.ArgumentParser, args, gin_file: str, time: str) -> str:
  """How the run in --model_dir came to be: loaded, or trained here with --train; without a
  checkpoint and --train, a usage error (a benchmark never trains for long unasked)."""
  model_dir = os.path.abspath(args.model_dir)
  checkpoint = latest_checkpoint(model_dir)
  if checkpoint:
    return f"loaded from {model_dir}, {os.path.basename(checkpoint)}"
  if args.train:
    return f"trained here in {train(model_dir, gin_file) / 60:.1f} min"
  parser.error(f"--model_dir={args.model_dir} holds no checkpoint_<step>: train the recipe "
               f"({gin_file}) there first, or pass --train ({time} on 2 CPU cores).")


def learning_curve(model_dir: str) -> list[dict]:
  """Validation loss per token at each evaluation of the training run (T5X's summaries)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  curve = {}
  for events in glob.glob(os.path.join(model_dir, "training_eval", "*", "events.*")):
    for event in tf.compat.v1.train.summary_iterator(events):
      for value in event.summary.value:
        if value.tag in ("loss_per_all_target_tokens", "accuracy"):
          number = float(tf.make_ndarray(value.tensor)) if value.HasField("tensor") \
              else value.simple_value
          curve.setdefault(event.step, {})[value.tag] = round(number, 4)
  return [{"step": step, **values} for step, values in sorted(curve.items())]


def replay_server(model: str, files_dir: str, args) -> dict:
  """Starts the server for `model`, replays the files with eval_autocomplete.py, stops it."""
  with client.running_server(model, seconds=600, cwd=ROOT) as (url, _):
    start = time.time()
    out = subprocess.run(
        [sys.executable, "code-t5-eval-autocomplete", url, files_dir,
         f"--files={args.files}", f"--max_words={args.max_words}", f"--k={args.k}",
         f"--seed={args.seed}"], cwd=ROOT, check=True, stdout=subprocess.PIPE, text=True).stdout
  report = json.loads(out)
  report["replay_seconds"] = round(time.time() - start, 1)
  return report


def replay_constant(files_dir: str, args) -> dict:
  """The constant server, on the files eval_autocomplete.py picks (same seed, same sample)."""
  import random  # pylint: disable=g-import-not-at-top
  all_paths = sorted(glob.glob(os.path.join(files_dir, "**", "*.py"), recursive=True))
  picked = random.Random(args.seed).sample(all_paths, min(args.files, len(all_paths)))

  def files():
    for path in picked:
      with open(path, encoding="utf-8", errors="replace") as f:
        yield path, f.read()

  return replay.replay(lambda text: CONSTANT, files(), max_words=args.max_words)


def row(name: str, report: dict) -> dict:
  after, cut = report["after_header"], report["task_cut"]
  return {"model": name, "queries": report["queries"],
          "exact next word": round(report["exact_next_word"], 3),
          "EM": round(report["full_line_exact_match"], 1),
          "edit sim": round(report["full_line_edit_similarity"], 1),
          "after header: exact next word": round(after["exact_next_word"], 3),
          "after header: EM": round(after["full_line_exact_match"], 1),
          "after header: edit sim": round(after["full_line_edit_similarity"], 1),
          "task cut: EM / edit sim": f"{cut['full_line_exact_match']:.1f} / "
                                     f"{cut['full_line_edit_similarity']:.1f}",
          "lenient accuracy (seed's)": round(report["accuracy"], 3)}


def markdown(rows: list[dict], extra: dict) -> str:
  columns = list(rows[0])
  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  lines += ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]
  curve = ", ".join(f"{p['step']}: {p.get('loss_per_all_target_tokens')}"
                    for p in extra["learning_curve"])
  return "\n".join([
      BEGIN,
      f"`python benchmarks/autocomplete.py {extra['command']}` ({extra['date']}, "
      f"{extra['machine']['cpus']} CPUs): {extra['files']} files of the dev dataset's test split "
      f"(seed {extra['seed']}, at most {extra['max_words']} words each, k = {extra['k']}); the "
      "n-gram built from the train split's files. Strict protocol (README.md, 'Replay'): EM and "
      "edit similarity are CodeXGLUE's line-level metrics (0-100).",
      "", *lines, "",
      f"Model: `{GIN}` ({extra['train']}); validation loss per token by step: {curve}.",
      END])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  add_recipe_flags(parser, GIN, "46 min")
  parser.add_argument("--files", type=int, default=12)
  parser.add_argument("--max_words", type=int, default=200)
  parser.add_argument("--k", type=int, default=4)
  parser.add_argument("--seed", type=int, default=0)
  common.add_output_flags(parser)
  args = parser.parse_args()
  model_dir = os.path.abspath(args.model_dir)
  trained = loaded_or_trained(parser, args, GIN, "46 min")
  work = tempfile.mkdtemp(prefix="autocomplete_bench_")
  held_out, ngram_dir = os.path.join(work, "test"), os.path.join(work, "train")
  prepared = paths.flcc_dir(dev=True)
  split_files.write(prepared, "python", "test", held_out)
  split_files.write(prepared, "python", "train", ngram_dir)
  reports = {"ngram": replay_server(f"ngram:{ngram_dir}", held_out, args),
             "t5x": replay_server(f"t5x:{model_dir}", held_out, args),
             "constant": replay_constant(held_out, args)}
  rows = [row("word n-gram (train split)", reports["ngram"]),
          row("decoder-only, autocomplete_cpu.gin (beam search)", reports["t5x"]),
          row("constant server (ignores its input)", reports["constant"])]
  extra = {"command": f"--model_dir={args.model_dir} --files={args.files} "
                      f"--max_words={args.max_words} --k={args.k} --seed={args.seed}",
           "date": time.strftime("%Y-%m-%d"), "machine": common.machine(),
           "files": reports["ngram"]["files"], "seed": args.seed, "max_words": args.max_words,
           "k": args.k, "train": trained, "learning_curve": learning_curve(model_dir),
           "replay_seconds": {k: r.get("replay_seconds") for k, r in reports.items()}}
  result = common.report("autocomplete", rows, common.out_dir(args), extra)
  print(json.dumps(extra["learning_curve"]))
  if args.update_readme:
    common.write_section(markdown(rows, {**extra, "machine": result["machine"]}), BEGIN, END,
                  "Autocomplete quality")


if __name__ == "__main__":
  main()
