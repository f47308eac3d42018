import contextlib
import os
import signal
import threading
import subprocess
import sys
import time

import pytest

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import flcc_fixtures  # noqa: E402


def pytest_configure(config):
  # CI runs every test in its T5X lane and, in its Mesh TF lane, `-m "not stack_independent"`:
  # the slow tests of logic that TensorFlow's version does not touch run once.
  config.addinivalue_line(
      "markers", "stack_independent: slow, and what it checks does not depend on the "
      "TensorFlow stack; CI's Mesh TF lane leaves it to the T5X lane")


# The longest tests (minutes each: real trainings) first, so that the two CI workers end
# together instead of one running a long test alone at the end. A module keeps its order.
LONGEST_FIRST = ("test_t5x_compositions.py", "test_intro.py", "test_t5x_multidevice.py",
                 "test_train_t5x.py", "test_train_mtf.py", "test_scripts.py")


def pytest_collection_modifyitems(items):
  rank = {name: i for i, name in enumerate(LONGEST_FIRST)}
  items.sort(key=lambda item: rank.get(os.path.basename(str(item.fspath)), len(rank)))


@pytest.fixture(scope="session", autouse=True)
def jax_compilation_cache(tmp_path_factory):
  """JAX's persistent compilation cache for every process the tests start (they inherit the
  environment): the tiny models compile to the same programs in many tests. One folder for
  the run, shared by xdist's workers (JAX locks it); the user's own setting wins."""
  if "JAX_COMPILATION_CACHE_DIR" in os.environ:
    yield
    return
  root = tmp_path_factory.getbasetemp()
  if os.environ.get("PYTEST_XDIST_WORKER"):
    root = root.parent  # the run's folder, above each worker's own
  settings = {"JAX_COMPILATION_CACHE_DIR": str(root / "jax_cache"),
              "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS": "0",
              "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES": "-1"}
  os.environ.update(settings)
  yield
  for key in settings:
    os.environ.pop(key, None)


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


def kill_when(cmd: list[str], ready, poll_seconds: float = 0.01, timeout: float = 60) -> None:
  """Starts `cmd`, waits until `ready()` (or it exits, or `timeout`), then SIGKILLs it."""
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None and not ready():
    time.sleep(poll_seconds)
  proc.send_signal(signal.SIGKILL)
  proc.wait()


def command(name: str) -> list[str]:
  """The console script `code-t5-<name>`, the one front door of every command (pip installs it
  beside the interpreter)."""
  return [os.path.join(os.path.dirname(sys.executable), f"code-t5-{name}")]


def run_command(name: str, *args: str, env: dict | None = None, **kwargs):
  """Runs `code-t5-<name> ARGS` in a subprocess, as a user would."""
  return subprocess.run([*command(name), *args],
                        capture_output=True, text=True, env={**os.environ, **(env or {})},
                        **kwargs)


@contextlib.contextmanager
def autocomplete_server(model: str, timeout: float = 120, env: dict | None = None):
  """The server as a user runs it (code_t5.autocomplete.client.running_server), from the
  checkout; a server that exits before it is ready fails the test with its output's end."""
  from code_t5.autocomplete import client  # pylint: disable=g-import-not-at-top
  try:
    with client.running_server(model, timeout, env=env, cwd=REPO_ROOT) as (url, server):
      yield url, server
  except client.ServerError as e:
    pytest.fail(f"--model={model}: {e}")


@contextlib.contextmanager
def uvicorn_on_loopback(app):
  """Serves the ASGI `app` with uvicorn on a free loopback port, in a thread; yields its URL."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  from code_t5.autocomplete import client  # pylint: disable=g-import-not-at-top
  port = client.free_port()
  server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
  thread = threading.Thread(target=server.run, daemon=True)
  thread.start()
  deadline = time.time() + 30
  while not server.started and time.time() < deadline:
    time.sleep(0.05)
  try:
    yield f"http://127.0.0.1:{port}"
  finally:
    server.should_exit = True
    thread.join(timeout=10)
