"""Atomic file output: readers see the old file or the whole new one, never a partial one."""
import contextlib
import json
import os
from typing import Iterator


def temporary_path(path: str) -> str:
  """A hidden name beside `path` (globs such as `train.tfrecord-*` never match it)."""
  return os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.tmp")


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
