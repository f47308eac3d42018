"""Keeps start-up lines a user cannot act on out of a command's output.

TensorFlow, XLA and CUDA log from C++ when they load (the GPU build's `failed call to cuInit` at
error level on every CPU machine, oneDNN and CPU-instruction notices, `cache_dataset_ops ...
did not fully read the dataset`); absl, TensorFlow and Orbax log from Python (deprecations,
Adafactor's "falls back to heuristics", "Not restoring param=..."). The C++ side reads its
settings from the environment once, when the library loads, so `silence()` must run before
TensorFlow or JAX is imported: every command calls it first (code_t5/commands/__init__.py).
`--debug` (or `--verbose`) on the command line, or CODE_T5_VERBOSE=1, keeps everything.
"""
import contextlib
import importlib.abc
import importlib.util
import logging
import os
import re
import sys
import tempfile
import warnings
from typing import Optional, Sequence

VERBOSE_FLAGS = ("--debug", "--verbose")

# Read by TensorFlow's and XLA's C++ logging, and by gRPC, when they load.
QUIET_ENVIRONMENT = {
    "TF_CPP_MIN_LOG_LEVEL": "3",
    "TF_CPP_MAX_VLOG_LEVEL": "-1",
    "GRPC_VERBOSITY": "ERROR",
    "GLOG_minloglevel": "3",
    "ABSL_MIN_LOG_LEVEL": "3",
}
# Lines TensorFlow's C++ libraries write while they load, before any log setting is read
# ("All log messages before absl::InitializeLog() ...", cudart_stub's "Could not find cuda
# drivers"): `import tensorflow` runs with the native stderr captured, and these are dropped.
NATIVE_NOISE = re.compile(r"WARNING: All log messages before absl::InitializeLog|"
                          r"[IW]\d{4} [\d:.]+ +\d+ \S+:\d+\]|"
                          r"E\d{4} [\d:.]+ +\d+ \S+:\d+\] .*(cuInit|cuda|CUDA|cuDNN|cuFFT|cuBLAS)|"
                          r"To enable the following instructions")
LOUD_AT_IMPORT = ("tensorflow",)
NOISY_LOGGERS = ("absl", "tensorflow", "jax", "jax._src", "orbax", "flax", "h5py",
                 "datasets", "transformers", "seqio", "t5x", "bm25s")


def verbose_requested(argv: Optional[Sequence[str]] = None) -> bool:
  """Whether the user asked for the libraries' own start-up logs."""
  argv = sys.argv[1:] if argv is None else argv
  return (os.environ.get("CODE_T5_VERBOSE", "") not in ("", "0")
          or any(a in VERBOSE_FLAGS for a in argv))


def environment(base: Optional[dict] = None) -> dict:
  """`base` (default: this process's environment) with the quiet settings, for the trainer
  subprocesses our commands start."""
  env = dict(os.environ if base is None else base)
  if not verbose_requested():
    env.update(QUIET_ENVIRONMENT)
  return env


def silence(argv: Optional[Sequence[str]] = None) -> None:
  """Quiets TensorFlow, XLA, absl and friends for the rest of this process, unless verbose
  output was requested. Call it before TensorFlow or JAX is imported."""
  if verbose_requested(argv):
    return
  # Set, not defaulted: `import jax` sets TF_CPP_MIN_LOG_LEVEL=1 (warnings and errors, the
  # cuInit one included) for itself and every child, so an earlier value is no user's choice.
  os.environ.update(QUIET_ENVIRONMENT)
  for name in NOISY_LOGGERS:
    logging.getLogger(name).setLevel(logging.ERROR)
  # Deprecation and future warnings name library internals, not anything the user typed.
  if not any(isinstance(f, _QuietImport) for f in sys.meta_path):
    sys.meta_path.insert(0, _QuietImport())
  warnings.filterwarnings("ignore", category=DeprecationWarning)
  warnings.filterwarnings("ignore", category=FutureWarning)
  warnings.filterwarnings("ignore", category=UserWarning, module=r"(tensorflow|jax|flax|orbax|"
                          r"t5x|seqio|keras|google)")


@contextlib.contextmanager
def native_stderr_filtered():
  """Captures what C++ code and Python write to file descriptor 2 inside the block, then
  writes back every line that is not NATIVE_NOISE."""
  sys.stderr.flush()
  saved = os.dup(2)
  with tempfile.TemporaryFile() as captured:
    os.dup2(captured.fileno(), 2)
    try:
      yield
    finally:
      sys.stderr.flush()
      os.dup2(saved, 2)
      os.close(saved)
      captured.seek(0)
      kept = [line for line in captured.read().decode("utf-8", "replace").splitlines(True)
              if not NATIVE_NOISE.match(line)]
      sys.stderr.write("".join(kept))


class _QuietImport(importlib.abc.MetaPathFinder):
  """Imports the LOUD_AT_IMPORT packages inside native_stderr_filtered()."""

  def find_spec(self, name, path=None, target=None):
    del path, target
    if name not in LOUD_AT_IMPORT:
      return None
    sys.meta_path.remove(self)  # once, and find the real spec without us
    try:
      spec = importlib.util.find_spec(name)
    finally:
      sys.meta_path.insert(0, self)
    if spec is not None and spec.loader is not None:
      spec.loader = _FilteredLoader(spec.loader)
    return spec


class _FilteredLoader(importlib.abc.Loader):

  def __init__(self, loader):
    self._loader = loader

  def create_module(self, spec):
    return self._loader.create_module(spec)

  def exec_module(self, module):
    module.__spec__.loader = module.__loader__ = self._loader
    with native_stderr_filtered():
      self._loader.exec_module(module)


@contextlib.contextmanager
def native_stderr_lines(on_line):
  """Streams what is written to file descriptor 2 inside the block, line by line, to
  `on_line(text)` (on a reader thread) instead of the terminal; yields a text file on the
  real stderr for progress bars to write to."""
  import threading  # pylint: disable=g-import-not-at-top
  sys.stderr.flush()
  saved = os.dup(2)
  read_end, write_end = os.pipe()

  def pump():
    with os.fdopen(read_end, "r", encoding="utf-8", errors="replace") as lines:
      for line in lines:
        try:
          on_line(line)
        except Exception:  # pylint: disable=broad-except  (never block the writer)
          pass

  reader = threading.Thread(target=pump, daemon=True)
  reader.start()
  os.dup2(write_end, 2)
  os.close(write_end)
  real = os.fdopen(os.dup(saved), "w", buffering=1)
  try:
    yield real
  finally:
    sys.stderr.flush()
    os.dup2(saved, 2)  # closes the pipe's last write end: the reader sees its end
    os.close(saved)
    reader.join(timeout=10)
    real.close()
