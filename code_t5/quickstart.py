"""The main job: what the package is for, in one run, with nothing to download.

  code-t5-quickstart [--source_dir=DIR] [--train_steps=2000] [--examples=1]

1. builds the dev dataset (FLCC layout) from the standard library, or DIR;
2. prepares it (split by repository, deduplicated, sharded);
3. shows an example and the token counts of every FLCC objective;
4. trains the tiny decoder-only T5X model on it (about 2 minutes on 2 CPU cores) and prints its
   loss before and after, on training batches and on the held-out validation repositories;
5. completes a few lines of held-out test files with it, beside the word n-gram built from the
   train split;
6. indexes the dev source tree for code search (BM25) and answers one question.
Without T5X (./install.sh --no-trainer) steps 4 and 5 say what they skipped and how to add it.
"""
import os
import shutil
import sys
import time

from code_t5 import quiet

quiet.silence()  # before anything below imports TensorFlow

# pylint: disable=g-import-not-at-top,wrong-import-position
from code_t5.commands import shared
from code_t5 import paths
from code_t5 import tasks  # noqa: F401  (registers the tasks looked at)
from code_t5.autocomplete import completers
from code_t5.corpora import dev_dataset, prepare, split_files
from code_t5.data import full_line_cut
from code_t5.data import inspect_task
from code_t5.data import task_configs
from code_t5.search import index as search_index
from code_t5.train import trainer_runs

QUESTION = "read a file and return its lines"
COMPLETIONS = 4


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--source_dir", help="local source tree for the dev dataset (default: "
                      "the running Python's standard library)")
  parser.add_argument("--examples", type=int, default=1, help="examples to print per task")
  parser.add_argument("--train_steps", type=int, default=trainer_runs.QUICKSTART_STEPS,
                      help="steps to train the tiny decoder-only model with T5X (or the Mesh "
                      "TF model on its own stack); 0 skips training (default: %(default)s)")
  args = parser.parse_args(argv)
  return shared.run(lambda: _main(args), args.debug)


def _main(args) -> None:
  start = time.time()
  source_root, prepared = paths.dev_source_dir(), paths.flcc_dir(dev=True)
  print(f"== 1. dev dataset (FLCC layout) -> {source_root}")
  built = dev_dataset.from_source_tree(args.source_dir, source_root)
  print(f"   {built['files']} files in {built['repositories']} repositories from "
        f"{built['source']}")
  print(f"== 2. preparation -> {prepared}")
  manifest = prepare.prepare(source_root, prepared)
  print(f"   kept {manifest['kept']} files, skipped {manifest['skipped']}")
  for split in manifest["splits"]:
    s = manifest["languages"].get("python", {}).get(split, {})
    print(f"   python/{split}: {s.get('files', 0)} files, {s.get('repositories', 0)} repos")
  print("== 3. tasks (byte vocabulary), validation split")
  for objective in task_configs.FLCC_OBJECTIVES:
    name = task_configs.flcc_task_name("python", objective, dev=True)
    print(f"\n-- {name}: {inspect_task.count_tokens(name)}")
    for i, ex in enumerate(inspect_task.examples(name, num=args.examples)):
      for feature, text in ex.items():
        print(f"   [{i}] {feature}: {text[-160:]!r}")
  model_dir = _train(args.train_steps)
  _complete(prepared, model_dir)
  _search(built["source"])
  print(f"\nDone in {time.time() - start:.0f} s. Next steps: INTRO.md.")


def _train(steps: int):
  """Trains with the installed trainer; the T5X model dir (for step 5), else None."""
  if not steps:
    print("\n== 4. training: skipped (--train_steps=0)")
    return None
  trainer = trainer_runs.installed_trainer()
  if trainer is None:
    print("\n== 4. training: skipped. T5X is not installed (./install.sh adds it: README, "
          "'Install'), nor the Mesh TF stack (README, 'Training with Mesh TensorFlow').")
    return None
  model_dir = os.path.join(paths.data_dir(), "models", f"quickstart_{trainer}")
  if os.path.exists(model_dir):
    shutil.rmtree(model_dir)
  what = ("the tiny decoder-only model on flcc_dev_python_lm" if trainer == "t5x" else
          "the tiny Mesh TF prefix LM")
  print(f"\n== 4. training {what} with {trainer} for {steps} steps -> {model_dir}")
  begin = time.time()
  if trainer == "t5x":
    run = trainer_runs.train_t5x(model_dir, steps, trainer_runs.T5X_QUICKSTART_GIN,
                                 progress=True)
    print(f"   training loss per token: {_steps(run['train'])}")
    print(f"   held-out loss per token (validation repositories): {_steps(run['held_out'])}")
  else:
    losses = trainer_runs.train_mtf(model_dir, steps)
    print(f"   validation log-perplexity per token: {_steps(losses)}")
  print(f"   {time.time() - begin:.0f} s including start-up; checkpoints in {model_dir}")
  return model_dir if trainer == "t5x" else None


def _steps(losses: dict) -> str:
  return ", ".join(f"step {k}: {v:.3f}" for k, v in sorted(losses.items())) or "none logged"


def _complete(prepared: str, model_dir) -> None:
  if model_dir is None:
    print("\n== 5. completion: skipped (it needs the T5X model of step 4).")
    return
  # pylint: disable=g-import-not-at-top  (JAX and T5X, only where installed)
  from code_t5.autocomplete import t5x_completer
  print("\n== 5. completing held-out lines (test split): the model of step 4 beside the word "
        "n-gram built from the train split")
  ngram = completers.NGramCompleter(text for _, text in split_files.read(prepared, "python",
                                                                         "train"))
  model = t5x_completer.T5XCompleter(model_dir, max_prompt_tokens=96, max_decode_tokens=32)
  shown = 0
  for path, text in split_files.read(prepared, "python", "test"):
    example = full_line_cut.example(text)
    if example is None or len(example[1]) < 8:
      continue
    prompt, truth = example
    print(f"\n   {os.path.basename(path)}: ...{prompt.rsplit(chr(10), 1)[-1]!r}")
    print(f"     truth : {truth!r}")
    for name, completer in (("model", model), ("n-gram", ngram)):
      suggestion = next(iter(completer.complete(prompt, k=1, max_length=len(truth) + 16)), "")
      print(f"     {name:<6}: {suggestion!r}")
    shown += 1
    if shown == COMPLETIONS:
      break
  print("\n   Serve either with code-t5-serve --model=t5x:DIR or --model=ngram:DIR; a model "
        "trained for 90 minutes: INTRO.md, 'code completion'.")


def _search(source_root: str) -> None:
  index_dir = os.path.join(paths.data_dir(), "search", "quickstart")
  print(f"\n== 6. code search: BM25 index of {source_root} -> {index_dir}")
  try:
    manifest = search_index.build(source_root, index_dir,
                                  exclude=["test", "tests", "site-packages"],
                                  progress=sys.stderr.isatty())
  except ValueError as e:  # a tree without functions to index: the other steps still count
    print(f"   skipped: {e}")
    return
  print(f"   {manifest['functions']} functions of {manifest['parsed_files']} files indexed in "
        f"{manifest['seconds']['total']:.0f} s (test folders and site-packages left out)")
  print(f"   Q: {QUESTION!r}")
  for score, row in search_index.Searcher(index_dir).search(QUESTION, k=3):
    doc = row["docstring"].strip().split("\n", 1)[0]
    print(f"   {score:6.2f}  {row['path']}:{row['line']}  {row['qualname']}  {doc[:60]!r}")


if __name__ == "__main__":
  sys.exit(main())
