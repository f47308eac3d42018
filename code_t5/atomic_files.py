"""Atomic file output: readers see the old file or the whole new one, never a partial one.

Temporary names are unique per process and call, so two writers never share one; an output
folder can also be locked (`folder_lock`) so that two runs never write it at once.
"""
import contextlib
import fcntl
import itertools
import json
import os
import re
import time
import uuid
from typing import Callable, Iterator

LOCK_FILE = ".lock"
# Lock descriptors this process holds; a forked child closes its copies (see below).
_held_locks: set = set()


class FolderLocked(RuntimeError):
  """Another process holds the folder's lock."""


def temporary_path(path: str) -> str:
  """A hidden name beside `path`, unique to this process and call (globs such as
  `train.tfrecord-*` never match it, and ".tmp" ends every one)."""
  unique = f"{os.getpid()}.{uuid.uuid4().hex[:12]}"
  return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.{unique}.tmp")


@contextlib.contextmanager
def replacing(path: str) -> Iterator[str]:
  """Yields a temporary path to write; on success it is synced and renamed over `path`."""
  tmp = temporary_path(path)
  try:
    yield tmp
    with open(tmp, "rb") as f:
      os.fsync(f.fileno())
    os.replace(tmp, path)
  finally:
    if os.path.exists(tmp):
      os.remove(tmp)


def write_bytes(path: str, data: bytes) -> None:
  with replacing(path) as tmp, open(tmp, "wb") as f:
    f.write(data)


def write_json(path: str, value, **kwargs) -> None:
  write_bytes(path, (json.dumps(value, **kwargs) + "\n").encode("utf-8"))


# What the JSON-lines exports write per split by default: at least one file per host of the
# largest mesh README.md documents (a TPU v4-32: 4 hosts), so seqio shards by file.
EXPORT_SHARDS = 4
_SHARD = re.compile(r"-(\d{5})-of-(\d{5})")


def shard_paths(path: str, shards: int) -> list[str]:
  """`path` itself for one shard, else `path-00000-of-0000N` ... (the TFRecord convention)."""
  if shards == 1:
    return [path]
  return [f"{path}-{i:05d}-of-{shards:05d}" for i in range(shards)]


def _shards_by_count(path: str) -> dict[int, list[str]]:
  """{shard count N: the `path-iiiii-of-N` files present}."""
  folder, name = os.path.split(path)
  by_count: dict[int, list[str]] = {}
  for entry in (os.listdir(folder or ".") if os.path.isdir(folder or ".") else []):
    match = entry.startswith(name) and _SHARD.fullmatch(entry[len(name):])
    if match:
      by_count.setdefault(int(match.group(2)), []).append(os.path.join(folder, entry))
  return by_count


def jsonl_files(path: str) -> list[str]:
  """The files that hold `path`'s rows: `path` itself, or its shards `path-iiiii-of-nnnnn` of
  the newest complete set; [] when there are none."""
  if os.path.exists(path):
    return [path]
  by_count = _shards_by_count(path)
  complete = [sorted(files) for count, files in by_count.items() if len(files) == count]
  return max(complete, key=lambda files: os.path.getmtime(files[0]), default=[])


@contextlib.contextmanager
def sharded_jsonl(path: str, shards: int = 1) -> Iterator[Callable[[dict], None]]:
  """Yields `write(row)`; rows go to the shards in turn (row i to shard i mod N, so reading the
  shards in turn gives them back in order: `read_jsonl`). On success every shard appears at
  once, and files of an earlier export of `path` with another shard count are removed."""
  if shards < 1:
    raise ValueError(f"shards={shards}: must be at least 1")
  paths = shard_paths(path, shards)
  with contextlib.ExitStack() as stack:
    tmps = [stack.enter_context(replacing(p)) for p in paths]
    files = [stack.enter_context(open(t, "w", encoding="utf-8")) for t in tmps]
    count = itertools.count()

    def write(row: dict) -> None:
      files[next(count) % shards].write(json.dumps(row, ensure_ascii=False) + "\n")

    yield write
    for f in files:
      f.close()
  for old in [path] + [f for files in _shards_by_count(path).values() for f in files]:
    if old not in paths and os.path.exists(old):
      os.remove(old)


def write_jsonl(path: str, rows, shards: int = 1) -> int:
  """Writes one JSON object per line (over `shards` files, see `sharded_jsonl`); returns the
  number of rows."""
  count = 0
  with sharded_jsonl(path, shards) as write:
    for row in rows:
      write(row)
      count += 1
  return count


def jsonl_lines(path: str) -> Iterator[tuple[str, int, str]]:
  """(file, line number, line) of the rows `write_jsonl` wrote to `path`, in order, from one
  file or its shards (one line from each shard in turn)."""
  files = jsonl_files(path)
  if not files:
    raise FileNotFoundError(f"{path}: not found (nor shards {path}-00000-of-NNNNN ...)")
  with contextlib.ExitStack() as stack:
    handles = [[f, stack.enter_context(open(f, encoding="utf-8")), 0] for f in files]
    while handles:
      for entry in list(handles):
        line = entry[1].readline()
        if line:
          entry[2] += 1
          yield entry[0], entry[2], line
        else:
          handles.remove(entry)


def read_jsonl(path: str) -> Iterator[dict]:
  """The rows `write_jsonl` wrote to `path`, in order, from one file or its shards."""
  for _, _, line in jsonl_lines(path):
    yield json.loads(line)


def _holder_pid(fd: int) -> str:
  # The holder writes its pid just after locking: give it a moment.
  for _ in range(20):
    pid = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
    if pid:
      return pid
    time.sleep(0.01)
  return "unknown"


@contextlib.contextmanager
def folder_lock(folder: str, what: str = "run") -> Iterator[None]:
  """Holds an exclusive `flock` on `<folder>/.lock` (which records our pid) until the block
  ends; raises FolderLocked at once, naming the folder and the holder's pid, if it is taken.

  A lock of a killed process goes with it (the kernel drops it), so no stale lock remains.
  """
  path = os.path.join(folder, LOCK_FILE)
  while True:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
    try:
      fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      holder = _holder_pid(fd)
      os.close(fd)
      raise FolderLocked(
          f"{folder}: another {what} (pid {holder}) is writing this folder; wait for it to "
          "finish, or pass another output folder.") from None
    # The previous holder removes the file when done: if that happened between our open and
    # our flock, we hold an orphaned file and must lock the new one.
    try:
      current = os.stat(path)
    except FileNotFoundError:
      current = None
    mine = os.fstat(fd)
    if current is not None and (current.st_dev, current.st_ino) == (mine.st_dev, mine.st_ino):
      break
    os.close(fd)
  owner = os.getpid()
  os.ftruncate(fd, 0)
  os.pwrite(fd, f"{owner}\n".encode("ascii"), 0)
  _held_locks.add(fd)
  try:
    yield
  finally:
    if os.getpid() == owner:  # not in a forked child, whose copy is closed already
      _held_locks.discard(fd)
      with contextlib.suppress(FileNotFoundError):
        os.remove(path)  # still locked: a waiter that opened it sees the inode change
      os.close(fd)


def _close_inherited_locks() -> None:
  # A flock belongs to the open file, shared with forked children (e.g. a process pool): were
  # they to outlive a killed parent, the folder would stay locked. Children never need it.
  for fd in _held_locks:
    with contextlib.suppress(OSError):
      os.close(fd)
  _held_locks.clear()


os.register_at_fork(after_in_child=_close_inherited_locks)
