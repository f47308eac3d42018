"""Shared helpers of the benchmarks: timing, the machine, tables and JSON results."""
import json
import os
import platform
import time


def machine() -> dict:
  return {"cpus": os.cpu_count(), "platform": platform.platform(),
          "python": platform.python_version()}


def timed(fn, *args, **kwargs):
  """(result, seconds) of one call."""
  start = time.perf_counter()
  result = fn(*args, **kwargs)
  return result, time.perf_counter() - start


def report(name: str, rows: list[dict], out_dir: str, extra: dict | None = None) -> dict:
  """Prints `rows` as a table and writes them with the machine to <out_dir>/<name>.json."""
  columns = list(rows[0])
  widths = [max(len(c), *(len(_fmt(r[c])) for r in rows)) for c in columns]
  print("  ".join(c.ljust(w) for c, w in zip(columns, widths)))
  for r in rows:
    print("  ".join(_fmt(r[c]).ljust(w) for c, w in zip(columns, widths)))
  result = {"benchmark": name, "machine": machine(), "rows": rows, **(extra or {})}
  os.makedirs(out_dir, exist_ok=True)
  with open(os.path.join(out_dir, f"{name}.json"), "w") as f:
    json.dump(result, f, indent=1)
  return result


def _fmt(value) -> str:
  return f"{value:.3g}" if isinstance(value, float) else str(value)
