import contextlib
import os
import signal
import socket
import threading
import subprocess
import sys
import time

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


def kill_when(cmd: list[str], ready, poll_seconds: float = 0.01, timeout: float = 60) -> None:
  """Starts `cmd`, waits until `ready()` (or it exits, or `timeout`), then SIGKILLs it."""
  proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
  deadline = time.time() + timeout
  while time.time() < deadline and proc.poll() is None and not ready():
    time.sleep(poll_seconds)
  proc.send_signal(signal.SIGKILL)
  proc.wait()


def run_script(script: str, *args: str, env: dict | None = None, **kwargs):
  """Runs scripts/<script> in a subprocess, as a user would."""
  return subprocess.run([sys.executable, os.path.join(REPO_ROOT, "scripts", script), *args],
                        capture_output=True, text=True, env={**os.environ, **(env or {})},
                        **kwargs)


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def autocomplete_server(model: str, timeout: float = 120, env: dict | None = None):
  """Runs `python -m code_t5.autocomplete.server --model=<model>` on a free loopback port, as a
  user would, until /health answers; yields (its URL, the process) and kills it afterwards. Its output goes
  to a file (an unread pipe fills with its per-request log lines and blocks it); an exit before
  it is ready fails with the output's end."""
  import httpx  # pylint: disable=g-import-not-at-top
  import tempfile  # pylint: disable=g-import-not-at-top
  port = free_port()
  url = f"http://127.0.0.1:{port}"
  with tempfile.TemporaryFile("w+") as log:
    server = subprocess.Popen(
        [sys.executable, "-m", "code_t5.autocomplete.server", f"--model={model}",
         f"--port={port}"], cwd=REPO_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
      deadline = time.time() + timeout
      while time.time() < deadline and server.poll() is None:
        try:
          if httpx.get(f"{url}/health", timeout=1).status_code == 200:
            break
        except httpx.TransportError:
          time.sleep(0.2)
      if server.poll() is not None:
        log.seek(0)
        pytest.fail(f"--model={model}: the server exited: {log.read()[-3000:]}")
      yield url, server
    finally:
      server.kill()
      server.wait()


@contextlib.contextmanager
def uvicorn_on_loopback(app):
  """Serves the ASGI `app` with uvicorn on a free loopback port, in a thread; yields its URL."""
  import uvicorn  # pylint: disable=g-import-not-at-top
  port = free_port()
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
