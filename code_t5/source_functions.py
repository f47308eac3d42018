"""Functions of a local source tree: the walk (regular files inside the tree only, each up to a
size limit, everything left out counted by reason), Python extraction with the standard `ast`
module, and CodeSearchNet's `code_tokens` form. Used by corpora/codesearchnet.py (pairs from a
Python tree) and by the code search application (search/extraction.py adds the other
languages and parallel parsing).

Order is deterministic: files by sorted path (folders walked in sorted order), functions in
source order (an outer function before the functions nested in it). Imports nothing that loads
TensorFlow or JAX.
"""
import ast
import collections
import dataclasses
import fnmatch
import io
import os
import stat
import textwrap
import tokenize
from typing import Iterable, Iterator, Optional, Sequence

PYTHON_SUFFIXES = (".py", ".pyi")
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


def printable(path: str) -> str:
  """`path` safe to print and to write as UTF-8: undecodable bytes show as `\\xff`."""
  try:
    return os.fsencode(path).decode("utf-8", "backslashreplace")
  except UnicodeEncodeError:  # a lone surrogate that did not come from the file system
    return path.encode("utf-8", "backslashreplace").decode("utf-8")


def is_utf8(text: str) -> bool:
  """Whether `text` can be written as UTF-8 (names read from disk may hold raw bytes)."""
  try:
    text.encode("utf-8")
  except UnicodeEncodeError:
    return False
  return True


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


def read_texts(root: str, max_bytes: int = MAX_FILE_BYTES
               ) -> tuple[list[str], collections.Counter]:
  """The UTF-8 text of every file under `root` that the search index would read (the same walk
  and the same refusals: hidden and byte-code folders, names that are not UTF-8, symlinks out
  of the tree, FIFOs and devices, files over `max_bytes`), and the files left out by reason
  (`not_utf8` for contents that do not decode)."""
  texts, skipped = [], collections.Counter()
  for path in source_files(root):
    skip = name_skip(path)
    if not skip:
      data, skip = read_regular_file(root, path, max_bytes)
    if skip:
      skipped[skip[0]] += 1
      continue
    try:
      texts.append(data.decode("utf-8"))
    except UnicodeDecodeError:
      skipped["not_utf8"] += 1
  return texts, skipped


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


def name_skip(path: str) -> Optional[tuple[str, str]]:
  """("name_not_utf8", the name with its bytes escaped) for a file name that is not UTF-8
  (it could not be written to an index or a JSON summary), else None."""
  try:
    path.encode("utf-8")
  except UnicodeEncodeError:
    shown = path.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
    return ("name_not_utf8", shown)
  return None


def read_regular_file(root: str, path: str, max_bytes: int
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
  """(functions of the Python file `root/path`, None), or ([], (skip reason, example)) when it
  is left out (other languages are `unsupported_language`)."""
  if (skipped := name_skip(path)):
    return [], skipped
  if os.path.splitext(path)[1] not in PYTHON_SUFFIXES:
    if os.path.isdir(os.path.join(root, path)):  # a symlink to a folder, not walked
      return [], ("symlinked_folder", path)
    return [], ("unsupported_language", path)
  data, skipped = read_regular_file(root, path, max_bytes)
  if skipped:
    return [], skipped
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


def tally(paths: Sequence[str],
          extracted: Iterable[tuple[list[Function], Optional[tuple[str, str]]]],
          progress: bool = False) -> Extraction:
  """The Extraction of `paths` from extract_file's result for each (in the same order), with a
  progress bar on stderr."""
  import tqdm  # pylint: disable=g-import-not-at-top
  result = Extraction(files=len(paths))
  for path, (functions, skipped) in zip(paths, tqdm.tqdm(
      extracted, total=len(paths), desc="extracting", unit="file", disable=not progress)):
    if skipped:
      result.skip(*skipped)
      if skipped[0] == "unsupported_language":
        result.unsupported_suffixes[os.path.splitext(path)[1] or "(none)"] += 1
    else:
      result.parsed_files += 1
      result.parsed_by_language[LANGUAGES[os.path.splitext(path)[1]]] += 1
      result.functions.extend(functions)
  return result


def extract_python_tree(root: str, exclude: Sequence[str] = (),
                        max_bytes: int = MAX_FILE_BYTES) -> Extraction:
  """The functions of every Python file under `root` (see source_files), in one process; every
  file left out is counted in `skipped` by reason."""
  paths = list(source_files(root, exclude))
  return tally(paths, (extract_file(root, path, max_bytes) for path in paths))
