"""What every command shares: its parser (with --debug), its one error entry, the split flags
and the preparation summary."""
import argparse
import os
import sys
import traceback

from code_t5 import atomic_files as atomic
from code_t5 import quiet

from code_t5.corpora import flcc, prepare


# A language with fewer files may well miss a split; with more, an empty split is worth a line.
MIN_FILES_FOR_ALL_SPLITS = 5


def add_split_flags(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--splits", default="train=0.9,validation=0.05,test=0.05",
                      help="split fractions by repository (default: %(default)s)")
  parser.add_argument("--shard_bytes", type=int, default=prepare.DEFAULT_SHARD_BYTES,
                      help="target bytes of source text per shard (default: %(default)s)")
  parser.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                      help="processes that read, filter and hash files; the output does not "
                      "depend on it (default: the number of CPUs, %(default)s)")
  parser.add_argument("--min_shards", type=int, default=1,
                      help="at least this many shards per language and split (some empty for a "
                      "small one): the number of hosts that will read it, so that each reads "
                      "its own files (default: %(default)s)")


def add_shards_flag(parser: argparse.ArgumentParser) -> None:
  parser.add_argument("--shards", type=int, default=atomic.EXPORT_SHARDS,
                      help="files per split (<name>.jsonl-0000i-of-0000N), so that each host of "
                      "a multi-host run reads only its own; at least the number of hosts "
                      "(default: %(default)s)")


def parser(doc: str, prog: str = None) -> argparse.ArgumentParser:
  """The parser every command starts from: its module docstring as help, and --debug."""
  result = argparse.ArgumentParser(prog=prog, description=doc,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  result.add_argument(*quiet.VERBOSE_FLAGS, dest="debug", action="store_true",
                      help="show the traceback of an error, and the start-up logs of "
                      "TensorFlow, JAX and absl that are hidden by default")
  return result


def run(job, debug: bool = False) -> int:
  """Runs `job`; bad input ends with its message in one line (the traceback too with
  --debug) and exit status 2."""
  try:
    job()
  except (flcc.FlccLayoutError, ValueError, OSError, RuntimeError) as e:
    if debug:
      traceback.print_exc()
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


def print_summary(manifest: dict, out_dir: str, seconds: float) -> None:
  print(f"\nPrepared {manifest['source']} -> {out_dir} in {seconds:.1f} s")
  print(f"{'language':<14}{'split':<12}{'files':>8}{'bytes':>14}{'repos':>7}")
  for slug, splits in manifest["languages"].items():
    for split in manifest["splits"]:
      s = splits.get(split, {"files": 0, "bytes": 0, "repositories": 0})
      print(f"{slug:<14}{split:<12}{s['files']:>8}{s['bytes']:>14}{s['repositories']:>7}")
  print(f"kept {manifest['kept']} files; skipped: {manifest['skipped'] or 'none'}")
  for reason, path in manifest["skip_examples"].items():
    print(f"  e.g. {reason}: {path}")
  for warning in manifest["warnings"]:
    print(f"warning: {warning}")
  for slug, splits in manifest["languages"].items():
    counts = [splits.get(split, {}) for split in manifest["splits"]]
    empty = [split for split, c in zip(manifest["splits"], counts) if not c.get("files")]
    if empty and sum(c.get("files", 0) for c in counts) >= MIN_FILES_FOR_ALL_SPLITS:
      print(f"warning: {slug} has no files in {', '.join(empty)}: its "
            f"{sum(c.get('repositories', 0) for c in counts)} repositories all fell in other "
            "splits (splits are by repository); give a tree with more repositories or other "
            "--splits fractions.")
  if manifest.get("resumed_shards"):
    print(f"resumed: {manifest['resumed_shards']} shards were already complete")
