"""The one reader of the export summaries (`<corpus>_summary.json`) that the export scripts write
beside their JSON lines: row counts that seqio reads for mixing rates when a mixture is built."""
import json
import os
from typing import Optional


def read(folder: str, name: str) -> dict:
  """The summary `name` in `folder`; FileNotFoundError before any export."""
  with open(os.path.join(folder, name), encoding="utf-8") as f:
    return json.load(f)


def count(folder: str, name: str, *keys: str) -> Optional[int]:
  """summary[keys[0]][keys[1]]...: None before any export (no summary), 0 for a key the export
  left out (a language or file it did not write), so a mixture gives it no weight."""
  try:
    value = read(folder, name)
  except FileNotFoundError:
    return None
  for key in keys:
    value = value.get(key, {}) if isinstance(value, dict) else {}
  return value if isinstance(value, int) else 0
