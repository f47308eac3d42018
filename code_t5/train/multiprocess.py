"""Runs a T5X entry point (t5x.train, t5x.eval, t5x.infer) as several JAX processes.

  code-t5-multiprocess --processes=2 --devices_per_process=2 -- \
      t5x.train --gin_file=... --gin.MODEL_DIR="'...'"

On one machine it starts the processes itself, on CPU with gloo collectives and a coordinator
on a free loopback port: what a multi-host run does (each process reads its share of the data,
the global batch spans the processes, checkpoints are written by all of them), on a laptop.
The processes share the machine's cores: each gets its share of tf.data's threads, and XLA's
ops run single-threaded where the devices are as many as the cores (`local_thread_settings`).
On a cluster every host runs the same command with --process_index=I and --coordinator=HOST:PORT
(one process per host, --processes of them in all); on Cloud TPU and SLURM `t5x.train` alone
does it, as JAX finds its peers itself.

Every process writes `<log_dir>/process_<i>.log` (TensorFlow's and XLA's start-up lines kept
out); process 0's progress is shown as it comes (CODE_T5_VERBOSE=1: its whole output), and a
summary at the end. If one process fails the others are stopped, and the failing one's last
lines are shown and its log named.
"""
import argparse
import os
import runpy
import socket
import subprocess
import sys
import time
from typing import Optional, Sequence

from code_t5 import quiet
from code_t5.train import trainer_runs

ENTRY_POINTS = ("t5x.train", "t5x.eval", "t5x.infer")
_CHILD = "CODE_T5_MULTIPROCESS"  # set in the children: "<index>,<count>,<coordinator>,<devices>"


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


def initialize(process_index: int, process_count: int, coordinator: Optional[str],
               devices_per_process: int = 0) -> None:
  """jax.distributed for this process: gloo collectives where the backend is the CPU (the
  default would refuse cross-process computations), `devices_per_process` CPU devices."""
  import jax  # pylint: disable=g-import-not-at-top  (after the caller's environment is set)
  jax.config.update("jax_cpu_collectives_implementation", "gloo")
  if devices_per_process:
    jax.config.update("jax_num_cpu_devices", devices_per_process)
  if coordinator is None:  # Cloud TPU, SLURM, ...: JAX finds the cluster itself
    jax.distributed.initialize()
  else:
    jax.distributed.initialize(coordinator, process_count, process_index)


def _child(entry_point: str, argv: Sequence[str]) -> None:
  index, count, coordinator, devices = os.environ[_CHILD].split(",")
  initialize(int(index), int(count), coordinator or None, int(devices))
  sys.argv = [entry_point, *argv]
  runpy.run_module(entry_point, run_name="__main__", alter_sys=True)


def local_thread_settings(processes: int, devices_per_process: int, env: dict) -> dict:
  """Environment for one of `processes` processes sharing this machine's cores: each XLA op on
  one thread where there are at least as many devices as cores (the processes' thread pools
  would otherwise each take every core), and tf.data's pools cut to the process's share.
  What the user set wins."""
  cores = os.cpu_count() or 1
  out = {}
  if processes * devices_per_process >= cores and \
      "xla_cpu_multi_thread_eigen" not in env.get("XLA_FLAGS", ""):
    out["XLA_FLAGS"] = " ".join(filter(None, [env.get("XLA_FLAGS"),
                                              "--xla_cpu_multi_thread_eigen=false"]))
  share = str(max(1, cores // processes))
  for name in ("TF_NUM_INTRAOP_THREADS", "TF_NUM_INTEROP_THREADS"):
    if name not in env:
      out[name] = share
  return out


def launch(entry_point: str, argv: Sequence[str], processes: int, devices_per_process: int,
           log_dir: str, env: Optional[dict] = None) -> int:
  """Runs `entry_point argv` as `processes` local processes; the first non-zero exit status,
  else 0. Process 0's progress goes to stdout as it comes."""
  if entry_point not in ENTRY_POINTS:
    raise ValueError(f"entry point {entry_point!r}: expected one of {', '.join(ENTRY_POINTS)}")
  os.makedirs(log_dir, exist_ok=True)
  coordinator = f"127.0.0.1:{free_port()}"
  # TensorFlow's and XLA's start-up lines hidden (CODE_T5_VERBOSE=1 keeps them), as in the
  # trainer runs of our other commands.
  env = quiet.environment(env)
  env.update(local_thread_settings(processes, devices_per_process, env))
  children, logs = [], []
  start = time.monotonic()
  for i in range(processes):
    child_env = {**env, "JAX_PLATFORMS": "cpu",
                 _CHILD: f"{i},{processes},{coordinator},{devices_per_process}"}
    logs.append(os.path.join(log_dir, f"process_{i}.log"))
    log = open(logs[-1], "w", encoding="utf-8")  # pylint: disable=consider-using-with
    children.append((subprocess.Popen(
        [sys.executable, "-m", "code_t5.train.multiprocess", "--child", entry_point, "--", *argv],
        stdout=log, stderr=subprocess.STDOUT, env=child_env), log))
  failed = None
  with open(logs[0], encoding="utf-8", errors="replace") as first:
    follow = _Follow(first, entry_point)
    try:
      while any(p.poll() is None for p, _ in children):
        follow.show_new_lines()
        exited = [i for i, (p, _) in enumerate(children) if p.returncode not in (None, 0)]
        if exited:
          failed = exited[0]
          break
        time.sleep(0.2)
    finally:
      for p, log in children:
        if p.poll() is None:
          p.kill()
        p.wait()
        log.close()
    follow.show_new_lines()
  if failed is None:
    failed = next((i for i, (p, _) in enumerate(children) if p.returncode), None)
  if failed is None:
    print(f"{processes} processes of {entry_point} finished in "
          f"{time.monotonic() - start:.0f} s; their logs: {os.path.join(log_dir, 'process_*.log')}",
          file=sys.stderr)
    return 0
  status = children[failed][0].returncode
  with open(logs[failed], encoding="utf-8", errors="replace") as f:
    tail = f.read().splitlines()[-30:]
  print(f"process {failed}'s last lines:", *tail, sep="\n  ", file=sys.stderr)
  print(f"error: process {failed} of {processes} exited with status {status}; its log: "
        f"{logs[failed]}", file=sys.stderr)
  return status


class _Follow:
  """Shows process 0's log as it grows: T5X's progress lines (trainer_runs.T5X_PROGRESS), or
  every line when verbose output was asked for."""

  def __init__(self, log, entry_point: str):
    self._log, self._entry_point, self._partial = log, entry_point, ""
    self._everything = quiet.verbose_requested()

  def show_new_lines(self) -> None:
    *lines, self._partial = (self._partial + self._log.read()).split("\n")
    for line in lines:
      if self._everything:
        print(line)
      elif m := trainer_runs.T5X_PROGRESS.search(line):
        print(f"   {self._entry_point}, process 0: {m.group(1).rstrip('.')}")
    sys.stdout.flush()


def main(argv: Optional[Sequence[str]] = None) -> int:
  argv = list(sys.argv[1:] if argv is None else argv)
  if argv[:1] == ["--child"]:
    _child(argv[1], argv[3:])
    return 0
  rest = []
  if "--" in argv:
    argv, rest = argv[:argv.index("--")], argv[argv.index("--") + 1:]
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--processes", type=int, default=2,
                      help="local processes to start (default: %(default)s)")
  parser.add_argument("--devices_per_process", type=int, default=1,
                      help="CPU devices each process emulates (default: %(default)s)")
  parser.add_argument("--log_dir", default="multiprocess_logs",
                      help="where process_<i>.log go (default: ./%(default)s)")
  parser.add_argument("--process_index", type=int, default=None,
                      help="on a cluster: this host's index; runs one process here, in this "
                      "one, which joins the others at --coordinator (of --processes in all)")
  parser.add_argument("--coordinator", default=None,
                      help="on a cluster: HOST:PORT of process 0 (with --process_index)")
  args = parser.parse_args(argv)
  if not rest or rest[0] not in ENTRY_POINTS:
    parser.error(f"after `--` give one of {', '.join(ENTRY_POINTS)} and its flags")
  if args.processes < 1:
    parser.error("--processes must be at least 1")
  if (args.process_index is None) != (args.coordinator is None):
    parser.error("--process_index and --coordinator go together")
  if args.process_index is not None:
    initialize(args.process_index, args.processes, args.coordinator, 0)
    sys.argv = [rest[0], *rest[1:]]
    runpy.run_module(rest[0], run_name="__main__", alter_sys=True)
    return 0
  return launch(rest[0], rest[1:], args.processes, args.devices_per_process, args.log_dir)


if __name__ == "__main__":
  sys.exit(main())
