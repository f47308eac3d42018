"""Functions of a source tree, for code search: Python (`.py`, `.pyi`) via the standard `ast`
module (code_t5.source_functions); Java, JavaScript, Go, PHP and Ruby (the other CodeSearchNet
languages) via tree-sitter grammars, the parser CodeSearchNet itself used. Files of other
languages are counted as `unsupported_language`. Only regular files inside the tree are read
(no FIFOs or devices, no symlinks leading out of it), each up to a size limit; everything left
out is counted by reason. Order is deterministic: files by sorted path, functions in source
order.

Parsing workers are fresh interpreters that import this module (and nothing that loads
TensorFlow or JAX), never forks of a process that may run JAX.
"""
import contextlib
import functools
import importlib
import json
import os
import re
import selectors
import subprocess
import sys
from typing import Iterator, Optional, Sequence

from code_t5 import source_functions
from code_t5.source_functions import Extraction, Function

# suffix -> (grammar module, its language function, node types that are functions). The
# comment right before a function is its docstring, as CodeSearchNet took it.
TREE_SITTER = {
    ".java": ("tree_sitter_java", "language", ("method_declaration", "constructor_declaration")),
    ".js": ("tree_sitter_javascript", "language",
            ("function_declaration", "generator_function_declaration", "method_definition")),
    ".go": ("tree_sitter_go", "language", ("function_declaration", "method_declaration")),
    ".php": ("tree_sitter_php", "language_php", ("function_definition", "method_declaration")),
    ".rb": ("tree_sitter_ruby", "language", ("method", "singleton_method")),
}
# Nodes whose name prefixes the functions inside them (Class.method).
_CONTAINERS = ("class_declaration", "interface_declaration", "enum_declaration", "class",
               "module", "trait_declaration")
# JavaScript: a function bound to a name (`const f = (x) => ...`, `exports.f = function`,
# `{f: () => ...}`, a class field `f = () => ...`): node type -> (name field, value field).
_BINDINGS = {"variable_declarator": ("name", "value"), "assignment_expression": ("left", "right"),
             "pair": ("key", "value"), "field_definition": ("property", "value")}
_FUNCTION_VALUES = ("arrow_function", "function_expression", "function", "generator_function")
# Statements that wrap one function or binding: its doc comment sits before them, and they
# belong to its source (`export`, `const`).
_WRAPPERS = ("export_statement", "lexical_declaration", "variable_declaration",
             "expression_statement")
SUPPORTED_SUFFIXES = source_functions.PYTHON_SUFFIXES + tuple(TREE_SITTER)


@functools.lru_cache(maxsize=None)
def _parser(suffix: str):
  """A tree-sitter parser for `suffix`, or None if its grammar is not installed."""
  module, function, _ = TREE_SITTER[suffix]
  try:
    import tree_sitter  # pylint: disable=g-import-not-at-top
    grammar = importlib.import_module(module)
  except ImportError:
    return None
  return tree_sitter.Parser(tree_sitter.Language(getattr(grammar, function)()))


def _comment_text(text: str) -> str:
  """A comment without its markers: /** ... */, //, #, and leading * of block lines."""
  text = re.sub(r"^/\*+|\*+/$", "", text.strip())
  lines = [re.sub(r"^\s*(//+|#+|\*+)", "", line).strip() for line in text.splitlines()]
  return "\n".join(line for line in lines if line).strip()


def _text(node) -> str:
  return node.text.decode("utf-8", "replace")


def _doc_comment(node) -> str:
  """The comment block right above `node`: every line of consecutive `//` or `#` comments and
  `/* */` blocks, up to a blank line or code (a comment ending a line of code is not one)."""
  # Ruby puts the comments above a class's first method before the class body that holds it.
  while (node.prev_named_sibling is None and node.parent is not None and
         node.parent.start_byte == node.start_byte):
    node = node.parent
  comments, row = [], node.start_point[0]
  before = node.prev_named_sibling
  while before is not None and "comment" in before.type and before.end_point[0] >= row - 1:
    previous = before.prev_named_sibling
    if previous is not None and previous.end_point[0] == before.start_point[0]:
      break
    comments.append(_comment_text(_text(before)))
    row, before = before.start_point[0], previous
  return "\n".join(c for c in reversed(comments) if c)


def _receiver(node) -> str:
  """A Go method's receiver type (`Socket` for `func (s *Socket) Dial()`), or ""."""
  receiver = node.child_by_field_name("receiver")
  stack = [receiver] if receiver is not None else []
  while stack:
    current = stack.pop()
    if current.type == "type_identifier":
      return _text(current)
    stack.extend(reversed(current.named_children))
  return ""


def extract_tree_sitter(data: bytes, path: str, suffix: str) -> list[Function]:
  """The functions of one Java/JavaScript/Go/PHP/Ruby file (tree-sitter tolerates syntax
  errors, as editors do, so a broken file still yields the functions it can read). Methods
  are named with their class (`Store.save`) or Go receiver (`Socket.Dial`); the doc comment
  above a function is its docstring."""
  kinds = TREE_SITTER[suffix][2]
  out = []

  def add(node, qualname: str) -> None:
    outer = node
    while outer.parent is not None and outer.parent.type in _WRAPPERS and len(
        [c for c in outer.parent.named_children if "comment" not in c.type]) == 1:
      outer = outer.parent
    out.append(Function(path, qualname, outer.start_point[0] + 1, outer.end_point[0] + 1,
                        _doc_comment(outer),
                        data[outer.start_byte:outer.end_byte].decode("utf-8", "replace")))
    visit(node, qualname + ".<locals>.")

  def visit(node, prefix: str) -> None:
    for child in node.named_children:
      name = child.child_by_field_name("name")
      binding = _BINDINGS.get(child.type) if suffix == ".js" else None
      value = child.child_by_field_name(binding[1]) if binding else None
      if child.type in kinds and name is not None:
        receiver = _receiver(child) if suffix == ".go" else ""
        add(child, prefix + (receiver + "." if receiver else "") + _text(name))
      elif value is not None and value.type in _FUNCTION_VALUES:
        add(child, prefix + " ".join(_text(child.child_by_field_name(binding[0])).split()))
      elif value is not None and value.type == "object":  # methods of an object literal
        visit(value, prefix + _text(child.child_by_field_name(binding[0])) + ".")
      elif child.type in _CONTAINERS and name is not None:
        visit(child, prefix + _text(name) + ".")
      else:
        visit(child, prefix)

  visit(_parser(suffix).parse(data).root_node, "")
  return out


def extract_file(root: str, path: str, max_bytes: int = source_functions.MAX_FILE_BYTES
                 ) -> tuple[list[Function], Optional[tuple[str, str]]]:
  """(functions of `root/path`, None), or ([], (skip reason, example)) when it is left out."""
  if (skipped := source_functions.name_skip(path)):
    return [], skipped
  suffix = os.path.splitext(path)[1]
  if suffix not in TREE_SITTER or _parser(suffix) is None:
    return source_functions.extract_file(root, path, max_bytes)
  data, skipped = source_functions.read_regular_file(root, path, max_bytes)
  if skipped:
    return [], skipped
  try:
    data.decode("utf-8")
  except UnicodeDecodeError as e:
    return [], ("undecodable", f"{path} ({e})")
  return extract_tree_sitter(data, path, suffix), None


# A parsing worker: a fresh interpreter with the parent's sys.path that imports this module
# and answers one JSON line of jobs per JSON line.
_WORKER = """
import json, sys
sys.path[:] = json.loads(sys.stdin.readline())
from code_t5.search import extraction
extraction.serve_jobs()
"""
BATCH = 8  # files per message to a worker


def serve_jobs() -> None:
  """The worker's loop: a JSON list of [root, path, max_bytes] in, a JSON list of
  [functions as dicts, skip or null] out, until stdin closes."""
  for line in sys.stdin:
    results = [[[fn.to_json() for fn in fns], skipped]
               for fns, skipped in (extract_file(*job) for job in json.loads(line))]
    sys.stdout.write(json.dumps(results) + "\n")
    sys.stdout.flush()


def _extract_in_workers(jobs: list, workers: int) -> Iterator[tuple]:
  """extract_file's result for each job, in order, from `workers` fresh interpreters. They
  are started with subprocess (fork + exec at once, no fork handlers run), never by forking
  this process: it may run JAX's threads, and a forked copy of them can deadlock."""
  batches = [jobs[i:i + BATCH] for i in range(0, len(jobs), BATCH)]
  procs = [subprocess.Popen([sys.executable, "-c", _WORKER],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                            encoding="utf-8") for _ in range(min(workers, len(batches)))]
  selector, pending, results, sent = selectors.DefaultSelector(), {}, {}, 0

  def dispatch(proc: subprocess.Popen) -> None:
    nonlocal sent
    if sent < len(batches):
      proc.stdin.write(json.dumps(batches[sent]) + "\n")
      proc.stdin.flush()
      pending[proc], sent = sent, sent + 1
    else:  # nothing left for it: let it exit, and stop watching its output
      selector.unregister(proc.stdout)
      proc.stdin.close()

  try:
    for proc in procs:
      proc.stdin.write(json.dumps(sys.path) + "\n")
      selector.register(proc.stdout, selectors.EVENT_READ, proc)
      dispatch(proc)
    for index in range(len(batches)):
      while index not in results:
        for key, _ in selector.select():
          proc = key.data
          line = proc.stdout.readline()  # one line per batch, so nothing stays buffered
          if not line:
            first = batches[pending[proc]][0][1]
            raise RuntimeError(f"a parsing worker stopped (exit status {proc.wait()}) on "
                               f"the files from {first}; index again with --workers=1 to "
                               "see which file.")
          results[pending.pop(proc)] = json.loads(line)
          dispatch(proc)
      for fns, skipped in results.pop(index):
        yield [Function(**fn) for fn in fns], tuple(skipped) if skipped else None
  finally:
    for proc in procs:
      if proc.poll() is None:
        proc.kill()
      proc.wait()
      proc.stdout.close()
      if not proc.stdin.closed:
        try:
          proc.stdin.close()
        except BrokenPipeError:
          pass


def extract_tree(root: str, exclude: Sequence[str] = (), skip: Optional[str] = None,
                 workers: int = 1, progress: bool = True,
                 max_bytes: int = source_functions.MAX_FILE_BYTES) -> Extraction:
  """The functions of every supported file under `root` (see source_functions.source_files),
  parsed by `workers` processes (the result does not depend on it), with a progress bar on
  stderr; every file left out is counted in `skipped` by reason."""
  paths = list(source_functions.source_files(root, exclude, skip))
  jobs = [(root, path, max_bytes) for path in paths]
  if workers > 1 and len(jobs) > BATCH:
    extracted = _extract_in_workers(jobs, workers)
  else:
    extracted = (extract_file(*job) for job in jobs)
  with contextlib.closing(extracted):  # the workers are waited for, even on an error
    return source_functions.tally(paths, extracted, progress)
