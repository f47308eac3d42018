"""seqio's Beam caching job over our tasks, and reading the cache back (the `cache` extra)."""
import importlib.util
import os
import subprocess
import sys

import pytest
import seqio

from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)

pytestmark = pytest.mark.skipif(importlib.util.find_spec("apache_beam") is None,
                                reason="apache-beam is not installed (pip install -e '.[cache]')")


def test_cache_tasks_main_then_train_from_the_cache(use_data_dir, tmp_path):
  task_name = "flcc_python_span_corruption"
  result = subprocess.run(
      [sys.executable, "-m", "seqio.scripts.cache_tasks_main", "--module_import=code_t5.tasks",
       f"--tasks={task_name}", f"--output_cache_dir={tmp_path}",
       # The Python direct runner: Beam's default DirectRunner downloads the Prism binary.
       "--pipeline_options=--runner=BundleBasedDirectRunner"],
      capture_output=True, text=True, env={**os.environ, "CODE_T5_DATA_DIR": use_data_dir})
  assert result.returncode == 0, result.stderr[-3000:]
  assert (tmp_path / task_name / "COMPLETED").exists()

  seqio.add_global_cache_dirs([str(tmp_path)])
  task = seqio.get_mixture_or_task(task_name)
  assert task.cache_dir == str(tmp_path / task_name)
  lengths = {"inputs": 64, "targets": 16}
  cached = list(task.get_dataset(lengths, split="train", use_cached=True, shuffle=False))
  assert cached and all(ex["inputs"].shape[0] <= 64 for ex in cached)
