"""Searches a T5X recipe's hyper-parameters for a fixed wall-time budget per trial (Optuna, TPE),
ranking trials by held-out loss in nats per byte (code_t5/train/sweep.py says how).

  code-t5-sweep --gin_file=code_t5/gin_configs/t5x/autocomplete_cpu.gin --sweep_dir=DIR \\
      --trials=8 --minutes_per_trial=6 [--space=SPACE.json] [--gin.X=V ...]
  code-t5-sweep --sweep_dir=DIR --report [--with_run=MODEL_DIR]   # the table and the plot

Run it again on the same folder to resume, or twice at once to share the trials. DIR gets
study.db (Optuna), trial_NNN/ (each trial's model dir and train.log), report.md and curves.png.
SPACE.json maps a parameter (learning_rate, emb_dim, num_layers, vocabulary, sequence_length,
batch_size) to ["log", low, high], ["int", low, high] or ["choice", [values]].
"""
import json
import os
import sys

from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--sweep_dir", required=True, help="the study's folder")
  parser.add_argument("--gin_file", help="the recipe to search around")
  parser.add_argument("--task", default="flcc_dev_python_lm_spm",
                      help="the recipe's task; the vocabulary parameter swaps its suffix "
                      "(default: %(default)s)")
  parser.add_argument("--trials", type=int, default=8,
                      help="finished trials (completed or failed) to reach (default: 8)")
  parser.add_argument("--minutes_per_trial", type=float, default=6.0)
  parser.add_argument("--space", help="a JSON search space (default: the built-in one)")
  parser.add_argument("--held_out_bytes", type=int, default=65536,
                      help="bytes of the validation split each evaluation reads")
  parser.add_argument("--report", action="store_true", help="only write the table and plot")
  parser.add_argument("--with_run", help="with --report: a finished run of the chosen recipe, "
                      "drawn beside the trials (its held-out loss against its wall time)")
  args, extra = parser.parse_known_args(argv)
  unknown = [flag for flag in extra if not flag.startswith("--gin.")]
  if unknown:
    parser.error(f"unrecognized arguments: {' '.join(unknown)}")

  def _sweep():
    from code_t5.train import sweep  # pylint: disable=g-import-not-at-top
    if args.report:
      if not os.path.exists(os.path.join(args.sweep_dir, "study.db")):
        raise ValueError(f"{args.sweep_dir}: no study.db; run a sweep there first")
      study = sweep.open_study(args.sweep_dir)
    else:
      if not args.gin_file:
        raise ValueError("--gin_file is required to run trials (or pass --report)")
      if args.trials <= 0 or args.minutes_per_trial <= 0:
        raise ValueError("--trials and --minutes_per_trial must be positive")
      space = None
      if args.space:
        with open(args.space) as f:
          space = json.load(f)
      study = sweep.sweep(args.gin_file, args.sweep_dir, args.trials,
                          args.minutes_per_trial * 60, args.task, space, args.held_out_bytes,
                          extra)
    report = sweep.table(study)
    with open(os.path.join(args.sweep_dir, "report.md"), "w") as f:
      f.write(report + "\n")
    extra_curves = {}
    if args.with_run:
      extra_curves[f"chosen recipe ({os.path.basename(os.path.normpath(args.with_run))})"] = (
          sweep.run_curve(args.with_run, args.task))
    sweep.plot(study, os.path.join(args.sweep_dir, "curves.png"), extra_curves)
    states = [t.state.name for t in study.trials]
    print(report)
    print(f"\n{states.count('COMPLETE')} completed, {states.count('FAIL')} failed; "
          f"table: {args.sweep_dir}/report.md, plot: {args.sweep_dir}/curves.png")

  return shared.run(_sweep, args.debug)


if __name__ == "__main__":
  sys.exit(main())
