"""Every shipped gin file parses and resolves its includes and references."""
import glob
import importlib.util
import os
import subprocess
import sys

import gin.config_parser
import pytest

from conftest import REPO_ROOT

GIN_ROOT = os.path.join(REPO_ROOT, "code_t5", "gin_configs")
ALL_GIN = sorted(glob.glob(os.path.join(GIN_ROOT, "**", "*.gin"), recursive=True))
HAS_T5X = importlib.util.find_spec("t5x") is not None
# The T5X run configs our runs/*.gin include (present in T5X since 2022; checked against the
# real files whenever T5X is importable).
T5X_INCLUDES = {f"t5x/configs/runs/{r}.gin"
                for r in ("pretrain", "finetune", "eval", "infer", "export")}


def _rel(path):
  return os.path.relpath(path, REPO_ROOT)


class _Delegate(gin.config_parser.ParserDelegate):
  """Syntax only: references and macros are checked by the trainers' own parse."""

  def configurable_reference(self, scoped_name, evaluate):
    return scoped_name

  def macro(self, macro_name):
    return macro_name


def _statements(path):
  with open(path) as f:
    return list(gin.config_parser.ConfigParser(f, _Delegate()))


def _t5_gin_file(name):
  # Not importlib.resources: importing t5.models needs tf.estimator (the Mesh TF stack only).
  return os.path.join(os.path.dirname(importlib.util.find_spec("t5").origin), "models", "gin",
                      name)


def test_every_folder_with_gin_files_is_a_package():
  for path in ALL_GIN:
    assert os.path.exists(os.path.join(os.path.dirname(path), "__init__.py")), path


@pytest.mark.parametrize("path", ALL_GIN, ids=_rel)
def test_parses_and_every_include_and_import_resolves(path):
  for statement in _statements(path):
    if isinstance(statement, gin.config_parser.IncludeStatement):
      include = statement.filename
      if include.startswith("code_t5/"):
        assert os.path.exists(os.path.join(REPO_ROOT, include)), (path, include)
      elif include.startswith("t5x/"):
        assert include in T5X_INCLUDES, (path, include)
      else:  # Mesh TF configs include t5's own gin files from the trainer's search path
        assert "/mtf/" in path and os.path.isfile(_t5_gin_file(include)), (path, include)
    elif isinstance(statement, gin.config_parser.ImportStatement):
      module = statement.module
      if module.startswith("code_t5") or module == "seqio":
        assert importlib.util.find_spec(module) is not None, (path, module)


def test_gin_files_resolve_as_package_resources_from_any_folder(tmp_path):
  """gin 0.5 finds `code_t5/gin_configs/...` through the installed package, not the cwd."""
  code = ("import gin\n"
          "gin.parse_config_file('code_t5/gin_configs/mtf/mesh/cpu.gin', skip_unknown=True)\n"
          "print(gin.config_str() or 'parsed')")
  result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True)
  assert result.returncode == 0, result.stderr
  assert "parsed" in result.stdout


def _t5x_compositions():
  t5x = os.path.join("code_t5", "gin_configs", "t5x")
  models = sorted(glob.glob(os.path.join(REPO_ROOT, t5x, "models", "*_*.gin")))
  runs = sorted(glob.glob(os.path.join(REPO_ROOT, t5x, "runs", "*.gin")))
  export_lm = os.path.join(REPO_ROOT, t5x, "runs", "export_lm.gin")  # decoder-only models
  runs.remove(export_lm)
  meshes = sorted(glob.glob(os.path.join(REPO_ROOT, t5x, "mesh", "*.gin")))
  tasks = sorted(glob.glob(os.path.join(REPO_ROOT, t5x, "tasks", "*.gin")))
  rel = lambda p: os.path.relpath(p, REPO_ROOT)  # noqa: E731
  out = [rel(p) for p in sorted(glob.glob(os.path.join(REPO_ROOT, t5x, "*.gin")))]
  out += [",".join(rel(p) for p in (m, r, mesh, tasks[0]))
          for m in models for r in runs for mesh in meshes]
  out += [",".join(rel(p) for p in (models[0], runs[0], meshes[0], t)) for t in tasks]
  out += [f"{rel(m)},{rel(export_lm)}" for m in models if "decoder_only" in m]
  return out


@pytest.mark.skipif(not HAS_T5X, reason="T5X is not importable (not on PyPI; install the "
                    "`t5x` extra as README.md says to check the T5X configs against it)")
def test_t5x_configs_parse_against_real_t5x():
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "t5x_gin_check.py"),
                           *_t5x_compositions()], cwd=REPO_ROOT, capture_output=True, text=True)
  assert result.returncode == 0, result.stdout + result.stderr[-3000:]
  assert " 0 failed" in result.stdout
