"""code-t5-sweep: Optuna over a T5X recipe's gin bindings, a wall-time budget per trial; failed
trials counted with their reason, a second run resumes the study (runs where T5X imports)."""
import json
import os
import re
import subprocess
import sys

import pytest

from code_t5.train import sweep
from code_t5.train import trainer_runs
from conftest import REPO_ROOT

GIN = "code_t5/gin_configs/t5x/dev_decoder_only.gin"


def test_parameters_become_t5x_bindings():
  flags = sweep.bindings({"learning_rate": 0.003, "emb_dim": 128, "num_layers": 2,
                          "vocabulary": "byte", "sequence_length": 64, "batch_size": 4},
                         "flcc_dev_python_lm_spm")
  assert "--gin.MIXTURE_OR_TASK_NAME='flcc_dev_python_lm'" in flags
  assert "--gin.VOCAB='byte'" in flags and "--gin.BATCH_SIZE=4" in flags
  assert "--gin.network.TransformerConfig.num_heads=2" in flags
  assert "--gin.network.TransformerConfig.mlp_dim=512" in flags
  assert "--gin.TASK_FEATURE_LENGTHS={'targets': 64}" in flags
  assert sweep.task_name("flcc_dev_python_lm", "spm") == "flcc_dev_python_lm_spm"
  with pytest.raises(ValueError, match="unknown sweep parameter 'depth'"):
    sweep.bindings({"depth": 3}, "x")


def test_recipe_defaults_follow_the_includes(monkeypatch):
  monkeypatch.chdir(REPO_ROOT)
  assert sweep.recipe_defaults(GIN) == {"batch_size": 8, "sequence_length": 128}
  assert sweep.recipe_defaults("code_t5/gin_configs/t5x/autocomplete_cpu.gin") == {
      "batch_size": 8, "sequence_length": 128}


@pytest.mark.skipif(trainer_runs.installed_trainer() != "t5x",
                    reason="T5X is not importable: it is not on PyPI (install the `t5x` extra "
                    "as README.md says)")
def test_sweep_ranks_trials_counts_a_crash_and_resumes(tmp_path, data_dir):
  space = tmp_path / "space.json"
  # sequence_length 0 cannot train: that trial crashes, is counted, and the sweep goes on.
  space.write_text(json.dumps({"learning_rate": ["log", 3e-3, 3e-2],
                               "sequence_length": ["choice", [64, 0]]}))
  sweep_dir = tmp_path / "sweep"
  env = {**os.environ, "CODE_T5_DATA_DIR": data_dir}

  def run(trials: int):
    return subprocess.run(
        [sys.executable, "-m", "code_t5.commands.sweep", f"--gin_file={GIN}",
         f"--sweep_dir={sweep_dir}", f"--trials={trials}", "--minutes_per_trial=2",
         f"--space={space}", "--task=flcc_dev_python_lm", "--held_out_bytes=4096",
         "--gin.train.run_eval_before_training=False"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=900)

  first = run(2)
  assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
  study = sweep.open_study(str(sweep_dir))
  # TPE's start-up draws (seed 0): 64 first, then 0.
  assert [t.state.name for t in study.trials] == ["COMPLETE", "FAIL"], first.stdout
  for t in study.trials:
    if t.state.name == "FAIL":
      assert t.params["sequence_length"] == 0 and t.user_attrs["failure"].startswith(
          "crashed (exit 1): tensorflow.python.framework.errors_impl.InvalidArgumentError")
      assert f"trial {t.number}: failed - crashed" in first.stdout
    else:
      curve = t.user_attrs["curve"]
      assert t.value == curve["nats_per_byte"][-1] > 0 and curve["steps"][-1] > sweep.PROBE_STEPS
      assert curve["seconds"] == sorted(curve["seconds"])
  report = (sweep_dir / "report.md").read_text()
  assert re.search(r"^\| 1 \| \d+ \| \d\.\d{4} \|", report, re.M), report
  assert (sweep_dir / "curves.png").stat().st_size > 1000
  # Resumed: one more trial, numbered after the others; the table keeps them all.
  second = run(3)
  assert second.returncode == 0, second.stderr[-3000:]
  assert [t.number for t in sweep.open_study(str(sweep_dir)).trials] == [0, 1, 2]
  assert "completed" in second.stdout.splitlines()[-1]
