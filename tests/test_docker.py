"""The training image, checked without a Docker daemon: the entrypoint's data and volume
checks run as a plain script, and the Dockerfile's layer order, user and packages are read."""
import os
import re
import shutil
import subprocess

import pytest

from conftest import REPO_ROOT

ENTRYPOINT = os.path.join(REPO_ROOT, "docker", "entrypoint.sh")
with open(os.path.join(REPO_ROOT, "Dockerfile")) as _f:
  DOCKERFILE = _f.read()


def run_entrypoint(tmp_path, *args: str, **env: str) -> subprocess.CompletedProcess:
  """The entrypoint with a stand-in `code-t5-train-lm` on PATH that prints what it would run."""
  bin_dir = tmp_path / "bin"
  bin_dir.mkdir(exist_ok=True)
  (bin_dir / "code-t5-train-lm").write_text('#!/bin/sh\necho "would run: code-t5-train-lm $*"\n')
  (bin_dir / "code-t5-train-lm").chmod(0o755)
  env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "CODE_T5_DATA_DIR": str(tmp_path / "data"),
         "MODEL_DIR": str(tmp_path / "ckpt"), **env}
  return subprocess.run(["sh", ENTRYPOINT, *args], env=env, capture_output=True, text=True,
                        timeout=30)


def test_empty_data_volume_is_one_line_error(tmp_path):
  (tmp_path / "data").mkdir()
  result = run_entrypoint(tmp_path, "--train_steps=10")
  assert result.returncode == 2 and result.stdout == ""
  assert result.stderr.count("\n") == 1
  assert f"{tmp_path}/data holds no prepared dataset" in result.stderr
  assert "flcc_dev/manifest.json" in result.stderr and "code-t5-make-dev-dataset" in result.stderr


@pytest.mark.parametrize("args, env, needed", [
    ((), {"TASK": "flcc_python_lm"}, "flcc/manifest.json"),
    (("--task=flcc_python_lm",), {}, "flcc/manifest.json"),
    (("--task", "flcc_dev_python_lm"), {"TASK": "flcc_python_lm"}, "flcc_dev/manifest.json"),
])
def test_the_task_decides_which_dataset_is_checked(tmp_path, args, env, needed):
  result = run_entrypoint(tmp_path, *args, **env)
  assert result.returncode == 2 and f"no {tmp_path}/data/{needed}" in result.stderr
  manifest = tmp_path / "data" / needed
  manifest.parent.mkdir(parents=True)
  manifest.write_text("{}")
  result = run_entrypoint(tmp_path, *args, **env)
  assert result.returncode == 0, result.stderr
  assert result.stdout == f"would run: code-t5-train-lm {' '.join(args)}\n"


def test_unwritable_checkpoints_are_one_line_error(tmp_path):
  (tmp_path / "data" / "flcc_dev").mkdir(parents=True)
  (tmp_path / "data" / "flcc_dev" / "manifest.json").write_text("{}")
  (tmp_path / "file").write_text("")  # a folder cannot be made under a file, even by root
  result = run_entrypoint(tmp_path, MODEL_DIR=str(tmp_path / "file" / "ckpt"))
  assert result.returncode == 2 and result.stderr.count("\n") == 1
  assert "ckpt is not writable by uid" in result.stderr and "--user" in result.stderr


def test_dockerfile_installs_dependencies_before_code_and_runs_unprivileged():
  lines = [line.strip() for line in DOCKERFILE.splitlines()]
  copies = [i for i, line in enumerate(lines) if line.startswith("COPY ")]
  setup = next(i for i in copies if lines[i].startswith("COPY setup.py"))
  install = next(i for i, line in enumerate(lines) if "pip install -r" in line)
  code = next(i for i in copies if lines[i].startswith("COPY code_t5/"))
  assert setup < install < code
  assert not any(line.startswith("COPY . ") for line in lines)
  users = [line.split()[1] for line in lines if line.startswith("USER ")]
  assert users and users[-1] not in ("root", "0")
  assert 'ENTRYPOINT ["code_t5-entrypoint"]' in DOCKERFILE
  assert "COPY docker/entrypoint.sh /usr/local/bin/code_t5-entrypoint" in DOCKERFILE


def test_image_leaves_test_tools_out():
  assert ".[test]" not in DOCKERFILE and "[test]" not in DOCKERFILE
  pattern = re.search(r"grep -vE '([^']+)' requirements/mtf.txt", DOCKERFILE).group(1)
  with open(os.path.join(REPO_ROOT, "requirements", "mtf.txt")) as f:
    kept = [line for line in f if not re.match(pattern, line)]
  names = {re.split(r"[<>=~!\[ ]", line.strip())[0] for line in kept
           if line.strip() and not line.startswith("#")}
  assert not names & {"pytest", "pytest-xdist", "hypothesis"}
  assert {"tensorflow", "mesh-tensorflow", "torch"} <= names  # runtime needs stay


def test_t5x_and_gpu_variants():
  assert "apt-get install -y --no-install-recommends git" in DOCKERFILE
  for package in ("google-research/t5x", "google/airio", "google-research/jestimator"):
    assert package in DOCKERFILE
  assert "pip install --no-deps -e /opt/t5x" in DOCKERFILE  # decoder_only needs editable
  assert '"jax[cuda12]==' in DOCKERFILE and '"tensorflow[and-cuda]==2.15.1"' in DOCKERFILE


def test_build_context_leaves_out_tests_and_local_state():
  with open(os.path.join(REPO_ROOT, ".dockerignore")) as f:
    ignored = {line.strip() for line in f if line.strip() and not line.startswith("#")}
  assert {".git", "tests", ".venv*", "**/.code_t5_search"} <= ignored
  assert not any(p in ignored for p in ("code_t5", "docker", "setup.py"))


@pytest.mark.skipif(not os.environ.get("CODE_T5_DOCKER_BUILD"),
                    reason="builds the image (minutes): set CODE_T5_DOCKER_BUILD=1")
def test_image_builds_and_checks_its_data_volume(tmp_path):
  if shutil.which("docker") is None or subprocess.run(
      ["docker", "info"], capture_output=True, timeout=30).returncode != 0:
    pytest.skip("no Docker daemon (docker info fails): the entrypoint is tested as a script")
  built = subprocess.run(["docker", "build", "-q", "-t", "code_t5-train:test", REPO_ROOT],
                         capture_output=True, text=True, timeout=3600)
  assert built.returncode == 0, built.stderr[-3000:]
  (tmp_path / "data").mkdir()
  ran = subprocess.run(["docker", "run", "--rm", "-v", f"{tmp_path / 'data'}:/data",
                        "code_t5-train:test"], capture_output=True, text=True, timeout=600)
  assert ran.returncode == 2 and "/data holds no prepared dataset" in ran.stderr
