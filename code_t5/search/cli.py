"""`code-t5-search`: find the functions of a source tree that answer an English question.

  code-t5-search index DIR [--index_dir=DIR/.code_t5_search] [--model=bm25]
  code-t5-search query "parse a date string" [--index_dir=...] [-k 10] [--json]

Indexed: Python functions, async functions and methods (`.py` and `.pyi`, parsed with `ast`;
@overload signatures folded into their implementation), and the functions and methods of Java,
JavaScript, Go, PHP and Ruby files (tree-sitter: methods named with their class or Go receiver,
JavaScript functions bound to a name such as `const f = () => ...`, and the comment block right
above each function searched as its docstring). Only regular files inside DIR are read, up to
--max_file_bytes (1 MiB); other languages' files, files over the limit, FIFOs and devices,
symlinks leading out of DIR and files that do not decode or parse are counted by reason in the
summary. Hidden folders (.git, .venv) and __pycache__ are not walked.

Models: `bm25` (default; words with identifiers split, so "read file" meets `read_file`),
`dense:t5x:<checkpoint_dir>` (a dual encoder, code_t5.models.dual_encoder), `dense:hash` (a
stand-in, not a model: hashed sub-words, for trying the dense path without T5X), and
`hybrid:dense:t5x:<checkpoint_dir>` / `hybrid:dense:hash` (short: `hybrid:t5x:<dir>`,
`hybrid:hash`): both indexes from one extraction, each query ranked by reciprocal-rank fusion of
the BM25 and the dense ranking of every function (1 / (60 + rank) each, as the evaluation's
hybrid), the fused score shown. A dense model is loaded before any file is parsed.

The index folder holds manifest.json (model, count, source root, format) and one data folder
(functions.jsonl, one row per function, files.json with the size and modification time of each
file indexed, plus the bm25s index, the faiss index or both); a new index is written beside the
old one and replaces it only once complete, by rewriting the manifest atomically. `query` looks
for .code_t5_search in the current folder and its parents unless given --index_dir; it refuses
a damaged index, and warns when a file of a result changed since indexing, each time naming the
file and the command that re-indexes.
"""
import argparse
import json
import os
import sys
import time
import traceback
from typing import Optional, Sequence

from code_t5 import source_functions
from code_t5.search import index as index_lib


def _display_path(root: str, path: str) -> str:
  """Relative to the current folder when inside it (short, clickable), else absolute."""
  full = os.path.join(root, path)
  rel = os.path.relpath(full)
  return full if rel.startswith("..") else rel


def snippet(fn: dict, width: int = 100) -> list[str]:
  """The signature (from the `def`, decorators left out, at most 3 lines), then the docstring's
  first line, or the first line of the body when there is none."""
  source = fn["source"].splitlines()
  rest = [s.strip() for s in source[len(source) - (fn["end_line"] - fn["line"]) - 1:]]
  rest = [s for s in rest if s and not s.startswith("#")]
  end = next((i + 1 for i, s in enumerate(rest[:3]) if s.endswith(":")), min(3, len(rest)))
  doc = fn["docstring"].strip()
  out = rest[:end] + ([doc.splitlines()[0]] if doc else rest[end:end + 1])
  return [s if len(s) <= width else s[:width - 3] + "..." for s in out]


def query(index_dir: Optional[str], text: Optional[str], k: int = 10,
          model: Optional[str] = None, as_json: bool = False) -> None:
  """Answers `text`; with no text, each line of stdin (a prompt on a terminal), loading the
  index once, so an interactive session pays the start-up only once."""
  if text is not None and not text.strip():
    raise ValueError("empty query; ask in English, e.g. "
                     "`code-t5-search query \"parse a date string\"`.")
  if k < 1:
    raise ValueError(f"-k {k}: ask for at least 1 result.")
  start = time.perf_counter()
  index_dir = os.path.abspath(index_dir or index_lib.find_index_dir())
  searcher = index_lib.Searcher(index_dir, model)
  load_ms = 1000 * (time.perf_counter() - start)
  if text is not None:
    _answer(searcher, text, k, as_json, load_ms)
    return
  interactive = sys.stdin.isatty()
  if interactive:
    print(f"{len(searcher.functions)} functions ({searcher.model}); one question per line, "
          "Ctrl-D to quit.")
  while True:
    if interactive:
      print("search> ", end="", flush=True)
    line = sys.stdin.readline()
    if not line:
      break
    if line.strip():
      _answer(searcher, line.strip(), k, as_json, load_ms)


def _answer(searcher: index_lib.Searcher, text: str, k: int, as_json: bool,
            load_ms: float) -> None:
  start = time.perf_counter()
  results = searcher.search(text, k)
  latency_ms = 1000 * (time.perf_counter() - start)
  root = searcher.manifest["root"]
  if as_json:
    print(json.dumps({
        "query": text, "model": searcher.model, "root": root,
        "latency_ms": round(latency_ms, 3), "load_ms": round(load_ms, 3),
        "results": [{"rank": r, "score": score, "path": fn["path"], "line": fn["line"],
                     "end_line": fn["end_line"], "qualname": fn["qualname"],
                     "docstring": fn["docstring"].strip().split("\n")[0],
                     "file": os.path.join(root, fn["path"]),
                     "stale": searcher.stale(fn["path"])}
                    for r, (score, fn) in enumerate(results, 1)]}, indent=1))
    return
  for score, fn in results:
    mark = "  (changed since indexing)" if searcher.stale(fn["path"]) else ""
    print(f"{_display_path(root, fn['path'])}:{fn['line']}  {fn['qualname']}  {score:.4f}"
          f"{mark}")
    for line in snippet(fn):
      print(f"    {line}")
  if not results:
    print("no matches: no indexed function shares a word with the query.")
  print(f"\n{len(results)} results in {latency_ms:.1f} ms ({searcher.model}, "
        f"{len(searcher.functions)} functions; index loaded in {load_ms:.0f} ms)")


def print_summary(manifest: dict, index_dir: str) -> None:
  seconds = manifest["seconds"]["total"]
  print(f"\nIndexed {manifest['root']} -> {index_dir} in {seconds:.1f} s "
        f"(--model={manifest['model']})")
  languages = ", ".join(f"{lang} {n}" for lang, n in manifest["parsed_by_language"].items())
  print(f"  files       {manifest['files']} ({manifest['parsed_files']} parsed"
        f"{': ' + languages if languages else ''})")
  print(f"  functions   {manifest['functions']} ({manifest['functions_per_second']:.0f} "
        f"functions/s; extraction {manifest['seconds']['extract']:.1f} s)")
  skipped = manifest["skipped"]
  print(f"  skipped     {', '.join(f'{r} {n}' for r, n in skipped.items()) or 'none'}")
  if skipped.get("unsupported_language"):
    top = list(manifest["unsupported_suffixes"].items())[:6]
    print(f"    unsupported_language: {', '.join(f'{s} {n}' for s, n in top)}"
          f"{', ...' if len(manifest['unsupported_suffixes']) > 6 else ''} "
          "(indexed: Python, Java, JavaScript, Go, PHP, Ruby)")
  for reason, example in manifest["skip_examples"].items():
    if reason != "unsupported_language":
      print(f"    e.g. {reason}: {example}")


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog="code-t5-search", description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  debug_help = "show the traceback of an error"
  parser.add_argument("--debug", action="store_true", help=debug_help)
  commands = parser.add_subparsers(dest="command", required=True)
  index = commands.add_parser(
      "index", help="index the functions under DIR",
      description="Indexes the functions and methods under DIR: Python (ast), Java, "
      "JavaScript, Go, PHP and Ruby (tree-sitter). Other languages' files are counted as "
      "unsupported_language in the summary, beside files that do not decode or parse.")
  index.add_argument("dir", metavar="DIR", help="the source tree")
  index.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
  index.add_argument("--index_dir", help=f"where to write the index (default: "
                     f"DIR/{index_lib.INDEX_DIR_NAME}); an existing index is replaced once "
                     "the new one is complete")
  index.add_argument("--model", default="bm25", help="bm25 (default), dense:t5x:<checkpoint "
                     "dir> (a dual encoder), dense:hash (a stand-in, not a model), or "
                     "hybrid:<dense model> (e.g. hybrid:dense:t5x:<dir>): BM25 and the dense "
                     "model fused by reciprocal rank")
  index.add_argument("--exclude", action="append", default=[], metavar="GLOB",
                     help="leave out folders whose name or path under DIR matches (repeatable,"
                     " e.g. --exclude=site-packages)")
  index.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                     help="processes that parse files; the index does not depend on it "
                     "(default: the number of CPUs, %(default)s)")
  index.add_argument("--max_file_bytes", type=int, default=source_functions.MAX_FILE_BYTES,
                     help="larger files are skipped as too_large (default: %(default)s, "
                     "preparation's limit)")
  index.add_argument("--no_progress", action="store_true", help="no progress bars")
  ask = commands.add_parser("query", help="print the functions that best answer a question")
  ask.add_argument("text", metavar="QUESTION", nargs="?", help="in English, e.g. \"parse a "
                   "date string\"; without it, one question per line of stdin (interactive "
                   "on a terminal: the index is loaded once)")
  ask.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
  ask.add_argument("--index_dir", help="the index (default: the nearest "
                   f"{index_lib.INDEX_DIR_NAME} in the current folder or its parents)")
  ask.add_argument("-k", "--k", type=int, default=10, help="results (default: %(default)s)")
  ask.add_argument("--model", help="fail unless the index was built with this model")
  ask.add_argument("--json", action="store_true", help="print machine-readable results")
  args = parser.parse_args(argv)
  try:
    if args.command == "index":
      index_dir = os.path.abspath(args.index_dir or index_lib.default_index_dir(args.dir))
      manifest = index_lib.build(args.dir, index_dir, args.model, args.exclude, args.workers,
                                 not args.no_progress, args.max_file_bytes)
      print_summary(manifest, index_dir)
    else:
      query(args.index_dir, args.text, args.k, args.model, args.json)
  except (ValueError, OSError, RuntimeError) as e:
    if args.debug:
      traceback.print_exc()
    print(f"error: {e}", file=sys.stderr)
    return 2
  return 0


if __name__ == "__main__":
  sys.exit(main())
