"""Functions of a source tree, for code search: Python (`.py`, `.pyi`) via the standard `ast`
module; Java, JavaScript, Go, PHP and Ruby (the other CodeSearchNet languages) via tree-sitter
grammars, the parser CodeSearchNet itself used. Files of other languages are counted as
`unsupported_language`. Only regular files inside the tree are read (no FIFOs or devices, no
symlinks leading out of it), each up to a size limit; everything left out is counted by reason.
Order is deterministic: files by sorted path (folders walked in sorted order), functions in
source order (an outer function before the functions nested in it).

This module imports nothing from code_t5 (so nothing that loads TensorFlow or JAX): parsing
workers load it alone in fresh interpreters, never by forking a process that may run JAX.
"""
import ast
import collections
import contextlib
import dataclasses
import fnmatch
import functools
import importlib
import io
import json
import os
import re
import selectors
import stat
import subprocess
import sys
import textwrap
import tokenize
from typing import Iterator, Optional, Sequence

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
PYTHON_SUFFIXES = (".py", ".pyi")
SUPPORTED_SUFFIXES = PYTHON_SUFFIXES + tuple(TREE_SITTER)
LANGUAGES = {".py": "Python", ".pyi": "Python", ".java": "Java", ".js": "JavaScript",
             ".go": "Go", ".php": "PHP", ".rb": "Ruby"}
# Larger files are skipped as `too_large`: preparation's limit (corpora/filters.py), which
# generated and minified files pass rarely.
MAX_FILE_BYTES = 1 << 20
# Folders never walked: hidden ones (.git, .venv, the search index itself) and byte code.
SKIPPED_DIRS = ("__pycache__",)
# Nodes that can hold statements: a def is a statement, so expressions need not be walked.
BLOCKS = (ast.stmt, ast.excepthandler, ast.match_case)


@dataclasses.dataclass
class Function:
  """One function or method. `line` is the `def` line (where an editor should jump);
  `source` starts at its first decorator and ends at `end_line`, original indentation kept."""
  path: str  # relative to the source root, with "/" separators
  qualname: str  # as Python's __qualname__: Class.method, outer.<locals>.inner
  line: int
  end_line: int
  docstring: str
  source: str

  def to_json(self) -> dict:
    return dataclasses.asdict(self)


@dataclasses.dataclass
class Extraction:
  """What a walk found: the functions, and the files left out by reason (with an example)."""
  functions: list[Function] = dataclasses.field(default_factory=list)
  files: int = 0
  parsed_files: int = 0
  parsed_by_language: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)
  skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  skip_examples: dict = dataclasses.field(default_factory=dict)
  unsupported_suffixes: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)

  def skip(self, reason: str, example: str) -> None:
    self.skipped[reason] += 1
    self.skip_examples.setdefault(reason, example)


def source_files(root: str, exclude: Sequence[str] = (), skip: Optional[str] = None
                 ) -> Iterator[str]:
  """Paths of the files under `root`, relative to it with "/" separators, sorted, and of
  symlinks to folders (not followed; extract_file counts them). Not walked: hidden and
  byte-code folders, folders whose name or relative path matches an `exclude` glob (e.g.
  site-packages), and the folder `skip` (the index)."""
  skip = os.path.realpath(skip) if skip else None

  def walked(folder: str, name: str) -> bool:
    rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
    return not (name.startswith(".") or name in SKIPPED_DIRS or
                any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in exclude) or
                os.path.realpath(os.path.join(folder, name)) == skip)

  for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if walked(folder, d))
    links = [d for d in dirs if os.path.islink(os.path.join(folder, d))]
    for name in sorted(files + links):
      yield os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")


def decode(data: bytes) -> str:
  """Source text, decoded as Python does: a BOM or a `# -*- coding: ... -*-` line, else UTF-8."""
  encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
  return data.decode(encoding)


def _is_overload(node: ast.AST) -> bool:
  """Decorated with typing's @overload (as `overload`, `typing.overload`, `t.overload`)."""
  return any((isinstance(d, ast.Name) and d.id == "overload") or
             (isinstance(d, ast.Attribute) and d.attr == "overload")
             for d in getattr(node, "decorator_list", ()))


def extract_source(text: str, path: str) -> list[Function]:
  """The functions of one Python file; raises SyntaxError (or ValueError) if it does not parse.

  `@overload` signatures are folded into the definition that follows them (one row: the
  overloads and the implementation as its source, the implementation's `def` as its line);
  in a stub without an implementation, consecutive overloads make one row."""
  tree = ast.parse(text, filename=path)
  lines = text.splitlines(keepends=True)
  out = []
  defs = (ast.FunctionDef, ast.AsyncFunctionDef)

  def visit(node: ast.AST, prefix: str) -> None:
    overloads = []  # overload signatures waiting for their implementation
    for child in ast.iter_child_nodes(node):
      if overloads and not (isinstance(child, defs) and child.name == overloads[0].name):
        add(overloads[0], overloads[-1], prefix)
        overloads = []
      if isinstance(child, defs) and _is_overload(child):
        overloads.append(child)
      elif isinstance(child, defs):
        add(overloads[0] if overloads else child, child, prefix)
        overloads = []
        visit(child, prefix + child.name + ".<locals>.")
      elif isinstance(child, ast.ClassDef):
        visit(child, prefix + child.name + ".")
      elif isinstance(child, BLOCKS):  # a def in an if/try/with/for/match keeps the prefix
        visit(child, prefix)
    if overloads:
      add(overloads[0], overloads[-1], prefix)

  def add(start: ast.AST, node: ast.AST, prefix: str) -> None:
    """One row for `node`, its source from `start`'s first decorator (an overload's)."""
    first = min([d.lineno for d in start.decorator_list] + [start.lineno])
    line = start.lineno if _is_overload(node) else node.lineno
    out.append(Function(path, prefix + node.name, line, node.end_lineno,
                        ast.get_docstring(node) or ast.get_docstring(start) or "",
                        "".join(lines[first - 1:node.end_lineno])))

  visit(tree, "")
  return out


_NOT_CODE = (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
             tokenize.ENDMARKER)


def code_tokens(source: str) -> str:
  """The function's tokens joined by spaces, without comments and without its docstring: the
  form of CodeSearchNet's `func_code_tokens`, which the dual encoder is trained on."""
  tree = ast.parse(textwrap.dedent(source))
  node = tree.body[0] if tree.body else None
  docstring_line = None
  if (isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.body and
      isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant) and
      isinstance(node.body[0].value.value, str)):
    docstring_line = node.body[0].lineno
  tokens = tokenize.generate_tokens(io.StringIO(textwrap.dedent(source)).readline)
  return " ".join(t.string for t in tokens if t.type not in _NOT_CODE and not (
      t.type == tokenize.STRING and t.start[0] == docstring_line))


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


def extract_tree_sitter(data: bytes, path: str, suffix: str) -> list[Function]:
  """The functions of one Java/JavaScript/Go/PHP/Ruby file (tree-sitter tolerates syntax
  errors, as editors do, so a broken file still yields the functions it can read)."""
  kinds = TREE_SITTER[suffix][2]
  out = []

  def visit(node, prefix: str) -> None:
    for child in node.named_children:
      name = child.child_by_field_name("name")
      if child.type in kinds and name is not None:
        qualname = prefix + name.text.decode("utf-8", "replace")
        docstring = ""
        before = child.prev_named_sibling
        if before is not None and "comment" in before.type and \
            before.end_point[0] >= child.start_point[0] - 1:
          docstring = _comment_text(before.text.decode("utf-8", "replace"))
        out.append(Function(path, qualname, child.start_point[0] + 1, child.end_point[0] + 1,
                            docstring, data[child.start_byte:child.end_byte].decode(
                                "utf-8", "replace")))
        visit(child, qualname + ".<locals>.")
      elif child.type in _CONTAINERS and name is not None:
        visit(child, prefix + name.text.decode("utf-8", "replace") + ".")
      else:
        visit(child, prefix)

  visit(_parser(suffix).parse(data).root_node, "")
  return out


def _read_regular_file(root: str, path: str, max_bytes: int
                       ) -> tuple[Optional[bytes], Optional[tuple[str, str]]]:
  """(the bytes of `root/path`, None), or (None, (skip reason, example)) unless it is a
  regular file inside `root` (a symlink may lead to one) of at most `max_bytes`."""
  full = os.path.join(root, path)
  try:
    if os.path.islink(full):
      real, inside = os.path.realpath(full), os.path.realpath(root)
      if os.path.commonpath([real, inside]) != inside:
        return None, ("symlink_outside_tree", f"{path} -> {real}")
      if os.path.isdir(real):
        return None, ("symlinked_folder", path)
    # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
    fd = os.open(full, os.O_RDONLY | os.O_NONBLOCK)
  except OSError as e:
    return None, ("unreadable", f"{path} ({e.strerror})")
  with open(fd, "rb") as f:
    info = os.fstat(f.fileno())
    if not stat.S_ISREG(info.st_mode):
      return None, ("not_regular_file", path)
    if info.st_size > max_bytes:
      return None, ("too_large", f"{path} ({info.st_size} bytes > {max_bytes})")
    try:
      data = f.read(max_bytes + 1)
    except OSError as e:
      return None, ("unreadable", f"{path} ({e.strerror})")
  if len(data) > max_bytes:  # grew since fstat
    return None, ("too_large", f"{path} (over {max_bytes} bytes)")
  return data, None


def extract_file(root: str, path: str, max_bytes: int = MAX_FILE_BYTES
                 ) -> tuple[list[Function], Optional[tuple[str, str]]]:
  """(functions of `root/path`, None), or ([], (skip reason, example)) when it is left out."""
  suffix = os.path.splitext(path)[1]
  if suffix not in SUPPORTED_SUFFIXES or (suffix in TREE_SITTER and _parser(suffix) is None):
    if os.path.isdir(os.path.join(root, path)):  # a symlink to a folder, not walked
      return [], ("symlinked_folder", path)
    return [], ("unsupported_language", path)
  data, skipped = _read_regular_file(root, path, max_bytes)
  if skipped:
    return [], skipped
  if suffix in TREE_SITTER:
    try:
      data.decode("utf-8")
    except UnicodeDecodeError as e:
      return [], ("undecodable", f"{path} ({e})")
    return extract_tree_sitter(data, path, suffix), None
  try:
    text = decode(data)
  except (SyntaxError, UnicodeDecodeError, LookupError) as e:
    return [], ("undecodable", f"{path} ({e})")
  try:
    return extract_source(text, path), None
  except SyntaxError as e:
    return [], ("syntax_error", f"{path}:{e.lineno} ({e.msg})")
  except (ValueError, RecursionError, MemoryError) as e:  # null bytes, absurd nesting
    return [], ("syntax_error", f"{path} ({type(e).__name__}: {e})")


# A parsing worker: a fresh interpreter that loads this file alone (not the code_t5 package,
# whose import loads TensorFlow and JAX) and answers one JSON line of jobs per JSON line.
_WORKER = """
import importlib.util, json, sys
sys.path[:] = json.loads(sys.stdin.readline())
spec = importlib.util.spec_from_file_location("_code_t5_functions_worker", sys.argv[1])
module = importlib.util.module_from_spec(spec)
sys.modules[spec.name] = module
spec.loader.exec_module(module)
module.serve_jobs()
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
  procs = [subprocess.Popen([sys.executable, "-c", _WORKER, os.path.abspath(__file__)],
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
                 max_bytes: int = MAX_FILE_BYTES) -> Extraction:
  """The functions of every supported file under `root` (see source_files), parsed by
  `workers` processes (the result does not depend on it), with a progress bar on stderr;
  every file left out is counted in `skipped` by reason."""
  import tqdm  # pylint: disable=g-import-not-at-top
  result = Extraction()
  paths = list(source_files(root, exclude, skip))
  result.files = len(paths)
  jobs = [(root, path, max_bytes) for path in paths]
  if workers > 1 and len(jobs) > BATCH:
    extracted = _extract_in_workers(jobs, workers)
  else:
    extracted = (extract_file(*job) for job in jobs)
  with contextlib.closing(extracted):  # the workers are waited for, even on an error
    for path, (functions, skipped) in zip(paths, tqdm.tqdm(
        extracted, total=len(jobs), desc="extracting", unit="file", disable=not progress)):
      if skipped:
        result.skip(*skipped)
        if skipped[0] == "unsupported_language":
          result.unsupported_suffixes[os.path.splitext(path)[1] or "(none)"] += 1
      else:
        result.parsed_files += 1
        result.parsed_by_language[LANGUAGES[os.path.splitext(path)[1]]] += 1
        result.functions.extend(functions)
  return result
