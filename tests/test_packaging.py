"""The installed environment and the package's shipped files."""
import importlib.metadata
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import REPO_ROOT

# Import packages whose clashing distributions were met here (see README, Install).
KEY_PACKAGES = ("seqio", "tensorflow", "tensorflow_datasets", "tensorflow_text", "t5",
                "mesh_tensorflow", "gin", "sentencepiece", "datasets", "jax")


def _is_namespace_package(name: str) -> bool:
  try:
    spec = importlib.util.find_spec(name)
  except (ImportError, ValueError):
    return False
  return spec is not None and spec.origin in (None, "namespace")


def test_exactly_one_distribution_per_import_package():
  owners = {name: {re.sub(r"[-_.]+", "-", d).lower() for d in dists}
            for name, dists in importlib.metadata.packages_distributions().items()}
  # Only names that really import: tree-sitter grammar wheels list their extension module's
  # name `_binding` in top_level.txt, though it lives inside each grammar's own package.
  clashes = {name: sorted(dists) for name, dists in owners.items()
             if len(dists) > 1 and not _is_namespace_package(name)
             and importlib.util.find_spec(name) is not None}
  assert not clashes, (
      f"import packages installed by several distributions (one overwrites the other): "
      f"{clashes}. Reinstall as README.md says (t5 with --no-deps).")
  for name in KEY_PACKAGES:
    assert len(owners.get(name, ())) <= 1, (name, owners.get(name))


def test_no_cuda_wheels_were_pulled():
  cuda = [d.metadata["Name"] for d in importlib.metadata.distributions()
          if d.metadata["Name"].lower().startswith(("nvidia-", "jax-cuda"))]
  assert not cuda


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
  out = tmp_path_factory.mktemp("wheel")
  # Build from a copy: a build leaves build/ and *.egg-info/ beside setup.py. (Without the
  # caches, which CI's other lanes write into at the same time.)
  src = out / "src"
  shutil.copytree(REPO_ROOT, src, symlinks=True, ignore=shutil.ignore_patterns(
      ".git", ".venv*", ".ci-*", "build", "*.egg-info", "__pycache__", ".pytest_cache"))
  subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation",
                  "-q", "-w", str(out), str(src)], check=True, capture_output=True)
  (path,) = out.glob("code_t5-*.whl")
  return path


def test_wheel_ships_every_gin_file(wheel):
  names = set(zipfile.ZipFile(wheel).namelist())
  gin_dir = os.path.join(REPO_ROOT, "code_t5", "gin_configs")
  expected = {os.path.relpath(os.path.join(d, f), REPO_ROOT) for d, _, fs in os.walk(gin_dir)
              for f in fs if f.endswith((".gin", "__init__.py"))}
  assert expected and expected <= names


def _package_tree() -> tuple[set[str], list[str]]:
  """(every .py and .gin file under code_t5/, folders without an __init__.py)."""
  files, no_init = set(), []
  for folder, dirs, names in os.walk(os.path.join(REPO_ROOT, "code_t5")):
    dirs[:] = [d for d in dirs if d != "__pycache__"]
    if "__init__.py" not in names:
      no_init.append(os.path.relpath(folder, REPO_ROOT))
    files |= {os.path.relpath(os.path.join(folder, n), REPO_ROOT) for n in names
              if n.endswith((".py", ".gin"))}
  return files, no_init


def test_wheel_holds_exactly_the_package_tree(wheel):
  # find_packages skips a folder without __init__.py (editable installs still import it), so
  # compare every shipped file with the tree.
  shipped = {n for n in zipfile.ZipFile(wheel).namelist()
             if not n.split("/")[0].endswith((".dist-info", ".data"))}
  tree, no_init = _package_tree()
  assert not no_init, f"package folders without __init__.py: {no_init}"
  assert shipped == tree, (f"in the tree, not the wheel: {sorted(tree - shipped)}; "
                           f"in the wheel, not the tree: {sorted(shipped - tree)}")


def test_gin_files_resolve_from_a_non_editable_wheel_install(wheel, tmp_path):
  target = tmp_path / "site"
  subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target",
                  str(target), str(wheel)], check=True, capture_output=True)
  code = ("import gin, code_t5\n"
          "gin.parse_config_file('code_t5/gin_configs/t5x/mesh/cpu.gin', skip_unknown=True)\n"
          "print(code_t5.__file__)")
  result = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True,
                          text=True, env={**os.environ, "PYTHONPATH": str(target)})
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.strip().startswith(str(target))


def test_every_command_has_a_console_script(wheel):
  """Each code_t5/commands module with a main (shared.py is their common helpers) is installed
  as `code-t5-<name>`, and every console script names a module of the tree that defines main."""
  with zipfile.ZipFile(wheel) as z:
    (name,) = [n for n in z.namelist() if n.endswith(".dist-info/entry_points.txt")]
    text = z.read(name).decode()
  targets = dict(re.findall(r"^(code-t5-[\w-]+) = ([\w.]+):main$", text, re.M))
  folder = os.path.join(REPO_ROOT, "code_t5", "commands")
  commands = sorted(f[:-3] for f in os.listdir(folder) if f.endswith(".py") and re.search(
      r"^def main\(", open(os.path.join(folder, f), encoding="utf-8").read(), re.M))
  missing = [c for c in commands if targets.get(f"code-t5-{c.replace('_', '-')}")
             != f"code_t5.commands.{c}"]
  assert commands and not missing, f"commands without a console script in setup.py: {missing}"
  for script, module in targets.items():
    path = os.path.join(REPO_ROOT, *module.split(".")) + ".py"
    assert os.path.exists(path), (script, module)
    with open(path) as f:
      assert re.search(r"^def main\(", f.read(), re.M), (script, module)
