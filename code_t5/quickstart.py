"""The main job on the built-in default: dev dataset from the standard library, prepared, a
look at every FLCC objective, and a few training steps of the tiny model with whichever trainer
is installed. Needs no download.

  python -m code_t5.quickstart [--source_dir=DIR] [--examples=2]
"""
import argparse
import os
import shutil
import time

from code_t5 import paths
from code_t5 import tasks  # noqa: F401  (registers the tasks looked at)
from code_t5.corpora import dev_dataset, prepare
from code_t5.data import inspect_task
from code_t5.data import task_configs
from code_t5.train import trainer_runs


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--source_dir", help="local source tree for the dev dataset (default: "
                      "the running Python's standard library)")
  parser.add_argument("--examples", type=int, default=2, help="examples to print per task")
  parser.add_argument("--train_steps", type=int, default=20, help="steps to train the tiny dev "
                      "model with the installed trainer (T5X, or Mesh TF on its own stack); "
                      "0 skips training")
  args = parser.parse_args(argv)

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
    s = manifest["languages"]["python"].get(split, {})
    print(f"   python/{split}: {s.get('files', 0)} files, {s.get('repositories', 0)} repos")
  print("== 3. tasks (byte vocabulary), validation split")
  for objective in task_configs.FLCC_OBJECTIVES:
    name = task_configs.flcc_task_name("python", objective, dev=True)
    counts = inspect_task.count_tokens(name)
    print(f"\n-- {name}: {counts}")
    for i, ex in enumerate(inspect_task.examples(name, num=args.examples)):
      for feature, text in ex.items():
        print(f"   [{i}] {feature}: {text[-200:]!r}")
  if args.train_steps:
    _train(args.train_steps)
  print(f"\nDone in {time.time() - start:.0f} s. Next steps: INTRO.md.")


def _train(steps: int) -> None:
  trainer = trainer_runs.installed_trainer()
  if trainer is None:
    print("\n== 4. training: skipped. Neither T5X (not on PyPI: README, 'Training with T5X') "
          "nor the Mesh TF stack (README, 'Training with Mesh TensorFlow') is installed here.")
    return
  model_dir = os.path.join(paths.data_dir(), "models", f"quickstart_{trainer}")
  if os.path.exists(model_dir):
    shutil.rmtree(model_dir)
  print(f"\n== 4. training the tiny dev model with {trainer} for {steps} steps -> {model_dir}")
  begin = time.time()
  losses = (trainer_runs.train_t5x if trainer == "t5x" else trainer_runs.train_mtf)(model_dir, steps)
  what = ("training-eval loss per target token" if trainer == "t5x" else
          "validation log-perplexity per token")
  print(f"   {what}: " + ", ".join(f"step {k}: {v:.3f}" for k, v in sorted(losses.items())))
  print(f"   {time.time() - begin:.0f} s including start-up; checkpoints in {model_dir}")


if __name__ == "__main__":
  main()
