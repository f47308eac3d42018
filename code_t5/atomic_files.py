"""Atomic file output: readers see the old file or the whole new one, never a partial one.

Temporary names are unique per process and call, so two writers never share one; an output
folder can also be locked (`folder_lock`) so that two runs never write it at once.
"""
import contextlib
import fcntl
import json
import os
import time
import uuid
from typing import Iterator

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


def write_jsonl(path: str, rows) -> int:
  """Writes one JSON object per line; returns the number of lines."""
  count = 0
  with replacing(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
    for row in rows:
      f.write(json.dumps(row, ensure_ascii=False) + "\n")
      count += 1
  return count


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
