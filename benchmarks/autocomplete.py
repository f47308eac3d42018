"""Autocomplete quality: the CPU recipe's model alone, the hybrid of it and the word n-gram, the
n-gram and a constant server, replayed on the same held-out files in one run.

  code-t5-make-dev-dataset && code-t5-train-vocab    # once
  python benchmarks/autocomplete.py --model_dir=/tmp/autocomplete [--train] [--files=10]

Loads the T5X run in --model_dir (or trains code_t5/gin_configs/t5x/autocomplete_cpu.gin there
with --train) and the word n-gram built from the dev dataset's train split, the completers that
`code-t5-serve --model=t5x:DIR`, `--model=ngram:DIR` and `--model=hybrid:...` serve, in this
process (each query's model work is done once and shared by the model-alone and hybrid rows).
The hybrid's weight is fit on validation-split files, then the test split and a second tree
(an installed package the dev dataset does not hold) are replayed with the strict protocol.
Writes results/autocomplete.json and the table between the autocomplete markers of
benchmarks/README.md.
"""
import argparse
import glob
import importlib.util
import os
import subprocess
import sys
import time

import tqdm

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import paths
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


def sample(files: list[tuple[str, str]], n: int, seed: int) -> list[tuple[str, str]]:
  """`n` of the (name, text) files, picked by `seed` (all when there are fewer)."""
  import random  # pylint: disable=g-import-not-at-top
  return random.Random(seed).sample(files, min(n, len(files)))


def tree_files(root: str) -> list[tuple[str, str]]:
  """(path, text) of the Python files under `root` (sorted), read as the n-gram reads files."""
  found = []
  for path in sorted(glob.glob(os.path.join(root, "**", "*.py"), recursive=True)):
    with open(path, encoding="utf-8", errors="replace") as f:
      text = f.read()
    if text.strip():
      found.append((path, text))
  return found


class Cached:
  """Each query's model work done once: the model's own lines (beam search) and the hybrid's
  scored candidates, shared by the model-alone and hybrid rows and by the weight fit."""

  def __init__(self, hybrid_completer, k: int):
    self.hybrid, self.k = hybrid_completer, k
    self._lines: dict[str, list[str]] = {}
    self._candidates: dict[str, list] = {}

  def model_lines(self, text: str) -> list[str]:
    if text not in self._lines:
      self._lines[text] = self.hybrid.model.complete(text, k=self.k)
    return self._lines[text]

  def candidates(self, text: str) -> list:
    if text not in self._candidates:
      self._candidates[text] = self.hybrid.candidates(text, self.k,
                                                      model_lines=self.model_lines(text))
    return self._candidates[text]


def fit(cached: Cached, files, max_words: int) -> tuple[float, list[dict]]:
  """The interpolation weight fit on `files` (the validation split), with its grid."""
  from code_t5.autocomplete import hybrid  # pylint: disable=g-import-not-at-top
  queries = [q for _, text in files for q in replay.strict_queries(text, max_words)]
  candidates = [cached.candidates(q.prefix[-16384:]) for q in tqdm.tqdm(
      queries, desc="fitting the hybrid's weight (validation)", unit="query")]
  return hybrid.fit_weight(queries, candidates)


def replay_all(completers_by_row: dict, files, max_words: int) -> dict:
  """The strict replay of `files` against each row's completer (text -> suggestions)."""
  reports = {}
  for name, complete in completers_by_row.items():
    reports[name] = replay.replay(complete, tqdm.tqdm(files, desc=name, unit="file"),
                                  max_words=max_words)
  return reports


def decodings(model_dir: str, served, k: int) -> dict:
  """The same checkpoint decoded several ways (text -> suggestions), for the decoding table."""
  from code_t5.autocomplete import t5x_completer  # pylint: disable=g-import-not-at-top
  plain = t5x_completer.T5XCompleter(model_dir, alpha=0.0, warm_up=False)
  return {
      "beam search, length-normalised (alpha 0.6; served)": served,
      "beam search, log-probability (alpha 0)": lambda t: plain.complete(t, k=k),
      # Sampling at a temperature this low takes the likeliest token at each step.
      "greedy (sampling at temperature 1e-4)": lambda t: plain.complete(t, k=k,
                                                                       temperature=1e-4),
      "sampling (temperature 0.8, 2k samples), reranked by log-probability":
          lambda t: plain.complete(t, k=k, temperature=0.8),
  }


def row(held_out: str, name: str, report: dict) -> dict:
  return {"held-out files": held_out, "model": name, "queries": report["queries"],
          "exact next word": round(report["exact_next_word"], 3),
          "EM": round(report["full_line_exact_match"], 1),
          "edit sim": round(report["full_line_edit_similarity"], 1),
          "lenient accuracy (seed's)": round(report["accuracy"], 3)}


def _table(rows: list[dict]) -> list[str]:
  columns = list(rows[0])
  lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
  return lines + ["| " + " | ".join(str(r[c]) for c in columns) + " |" for r in rows]


def markdown(rows: list[dict], extra: dict) -> str:
  lines = _table(rows)
  curve = ", ".join(f"{p['step']}: {p.get('loss_per_all_target_tokens')}"
                    for p in extra["learning_curve"])
  grid = ", ".join(f"{r['weight']}: {r['exact_next_word']:.3f} / "
                   f"{r['full_line_exact_match']:.1f}" for r in extra["fit"])
  return "\n".join([
      BEGIN,
      f"`python benchmarks/autocomplete.py {extra['command']}` ({extra['date']}, "
      f"{extra['machine']['cpus']} CPUs): per held-out set, {extra['files']} files (seed "
      f"{extra['seed']}, at most {extra['max_words']} words each, k = {extra['k']}): the dev "
      "dataset's test split, and a tree neither the model nor the n-gram trained on "
      f"(`{extra['second_tree']}`). The n-gram is built from the train split's files. Strict "
      "protocol (README.md, 'Replay'): EM and edit similarity are CodeXGLUE's line-level "
      "metrics (0-100) on the top suggestion.",
      "", *lines, "",
      f"Model: `{extra['gin_file']}` ({extra['train']}); validation loss per token by step: "
      f"{curve}.",
      *(["", f"Decodings of the same checkpoint, on the first {extra['decoding_files']} "
          "test files:", "", *_table(extra["decodings"]), ""] if extra["decodings"] else []),
      f"Hybrid: `--model=hybrid:ngram:DIR,t5x:DIR,weight={extra['weight']}`, the n-gram's "
      f"share fit on {extra['fit_queries']} queries of {extra['files']} validation-split files "
      f"(weight: exact next word / EM there): {grid}.",
      END])


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  add_recipe_flags(parser, GIN, "90 min")
  parser.add_argument("--gin_file", default=GIN, help="the recipe --train runs")
  parser.add_argument("--files", type=int, default=10, help="files per held-out set")
  parser.add_argument("--max_words", type=int, default=150)
  parser.add_argument("--k", type=int, default=4)
  parser.add_argument("--seed", type=int, default=0)
  parser.add_argument("--decoding_files", type=int, default=0,
                      help="also compare decodings of the model on this many test files")
  parser.add_argument("--second_tree", help="a second held-out tree of Python files (default: "
                      "the installed `optax` package, which the dev dataset does not hold)")
  common.add_output_flags(parser)
  args = parser.parse_args()
  # pylint: disable=g-import-not-at-top  (JAX and T5X only for a run)
  from code_t5.autocomplete import completers, hybrid
  from code_t5.autocomplete import t5x_completer
  model_dir = os.path.abspath(args.model_dir)
  trained = loaded_or_trained(parser, args, args.gin_file, "90 min")
  second_tree = args.second_tree or os.path.dirname(importlib.util.find_spec("optax").origin)
  prepared = paths.flcc_dir(dev=True)
  ngram = completers.NGramCompleter(
      text for _, text in split_files.read(prepared, "python", "train"))
  model = t5x_completer.T5XCompleter(model_dir)
  cached = Cached(hybrid.HybridCompleter(ngram, model), args.k)
  validation = sample(list(split_files.read(prepared, "python", "validation")), args.files,
                      args.seed)
  weight, grid = fit(cached, validation, args.max_words)
  print(f"hybrid weight (the n-gram's share), fit on validation: {weight}")
  held_out = {"dev test split": sample(list(split_files.read(prepared, "python", "test")),
                                       args.files, args.seed),
              os.path.basename(second_tree): sample(tree_files(second_tree), args.files,
                                                    args.seed)}
  rows, reports = [], {}
  for name, files in held_out.items():
    reports[name] = replay_all({
        "word n-gram (train split)": lambda t: ngram.complete(t, k=args.k),
        "constant server (ignores its input)": lambda t: CONSTANT,
        "model alone (beam search)": cached.model_lines,
        f"hybrid (weight {weight})": lambda t: hybrid.ranked(cached.candidates(t), weight)[:args.k],
    }, files, args.max_words)
    rows += [row(name, model_name, report) for model_name, report in reports[name].items()]
  decoding_rows = []
  if args.decoding_files:
    files = held_out["dev test split"][:args.decoding_files]
    for name, report in replay_all(decodings(model_dir, cached.model_lines, args.k), files,
                                   args.max_words).items():
      decoding_rows.append(row("dev test split", name, report))
  extra = {"command": " ".join(sys.argv[1:]), "decodings": decoding_rows, "date": time.strftime("%Y-%m-%d"),
           "machine": common.machine(), "files": args.files, "seed": args.seed,
           "max_words": args.max_words, "k": args.k, "train": trained,
           "gin_file": args.gin_file, "second_tree": second_tree,
           "learning_curve": learning_curve(model_dir), "weight": weight, "fit": grid,
           "fit_queries": grid[0]["queries"] if grid else 0,
           "decoding_files": args.decoding_files}
  result = common.report("autocomplete", rows, common.out_dir(args), extra)
  if args.update_readme:
    common.write_section(markdown(rows, {**extra, "machine": result["machine"]}), BEGIN, END,
                         "Autocomplete quality")


if __name__ == "__main__":
  main()
