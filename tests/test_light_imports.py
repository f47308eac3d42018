"""`import code_t5` and the application entry points load no TensorFlow (t5's opt-in habit:
only `code_t5.tasks` / `code_t5.mixtures` register, and they are the ones that need TF)."""
import os
import re
import subprocess
import sys

import pytest

from conftest import REPO_ROOT

HEAVY = ("tensorflow", "seqio", "t5", "mesh_tensorflow", "jax")


def _imported(args: list[str]) -> set[str]:
  """Top-level packages a fresh interpreter imported (from -X importtime's report)."""
  result = subprocess.run([sys.executable, "-X", "importtime", *args], capture_output=True,
                          text=True, cwd=REPO_ROOT, timeout=120)
  assert result.returncode == 0, result.stderr[-2000:]
  return {m.group(1).split(".")[0] for m in
          re.finditer(r"^import time:\s+\d+ \|\s+\d+ \|\s*(\S+)", result.stderr, re.M)}


@pytest.mark.parametrize("args", [["-m", "code_t5.search", "--help"],
                                  ["-m", "code_t5.autocomplete.server", "--help"],
                                  ["-c", "import code_t5"]])
def test_entry_point_loads_no_tensorflow(args):
  imported = _imported(args)
  assert "code_t5" in imported  # the report was parsed
  assert not imported & set(HEAVY), sorted(imported & set(HEAVY))


def test_import_code_t5_registers_nothing():
  code = ("import sys, code_t5\n"
          "print(sorted(m for m in sys.modules if m.startswith('code_t5')))")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=60, env={**os.environ})
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip() == "['code_t5']"
