"""Shared helpers of the benchmarks: timing, the machine, tables and JSON results."""
import argparse
import json
import os
import platform
import time

from code_t5 import paths

HERE = os.path.dirname(os.path.abspath(__file__))
README = os.path.join(HERE, "README.md")


def add_output_flags(parser: argparse.ArgumentParser) -> None:
  """--out_dir (results JSON; default under the data dir, not the checkout) and
  --update_readme (the committed results/ and README.md table: for a run to publish)."""
  parser.add_argument("--out_dir", help="where to write <name>.json (default: "
                      "$CODE_T5_DATA_DIR/benchmarks; with --update_readme: benchmarks/results)")
  parser.add_argument("--update_readme", action="store_true",
                      help="publish: write benchmarks/results/<name>.json and the table in "
                      "benchmarks/README.md of this checkout")


def out_dir(args: argparse.Namespace) -> str:
  if args.out_dir:
    return args.out_dir
  if args.update_readme:
    return os.path.join(HERE, "results")
  return os.path.join(paths.data_dir(), "benchmarks")


def write_section(table: str, begin: str, end: str, title: str) -> None:
  """Replaces the text between `begin` and `end` in benchmarks/README.md (a new section at the
  end the first time)."""
  with open(README, encoding="utf-8") as f:
    text = f.read()
  if begin in text:
    text = text[:text.index(begin)] + table + text[text.index(end) + len(end):]
  else:
    text = text.rstrip("\n") + f"\n\n## {title}\n\n" + table + "\n"
  with open(README, "w", encoding="utf-8") as f:
    f.write(text)


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
