import os
import subprocess
import sys

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flcc_fixtures  # noqa: E402


@pytest.fixture(scope="session")
def code_tree(tmp_path_factory):
  return flcc_fixtures.build_code_tree(str(tmp_path_factory.mktemp("flcc")))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory, code_tree):
  """A data dir with the fixture tree prepared as both `flcc/` and `flcc_dev/`."""
  from code_t5.corpora import prepare
  root = str(tmp_path_factory.mktemp("data"))
  for sub in ("flcc", "flcc_dev"):
    prepare.prepare(code_tree, os.path.join(root, sub),
                    splits=(("train", 0.5), ("validation", 0.25), ("test", 0.25)))
  return root


@pytest.fixture
def use_data_dir(monkeypatch, data_dir):
  monkeypatch.setenv("CODE_T5_DATA_DIR", data_dir)
  return data_dir


def run_script(script: str, *args: str, env: dict | None = None, **kwargs):
  """Runs scripts/<script> in a subprocess, as a user would."""
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", script), *args],
                        capture_output=True, text=True, env={**os.environ, **(env or {})},
                        **kwargs)
