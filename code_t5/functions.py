"""Functions of a source tree, for code search: Python via the standard `ast` module; Java,
JavaScript, Go, PHP and Ruby (the other CodeSearchNet languages) via tree-sitter grammars, the
parser CodeSearchNet itself used. Files of other languages are counted as
`unsupported_language`.
Order is deterministic: files by sorted path (folders walked in sorted order), functions in
source order (an outer function before the functions nested in it).
"""
import ast
import collections
import contextlib
import dataclasses
import fnmatch
import functools
import importlib
import io
import multiprocessing
import os
import re
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
SUPPORTED_SUFFIXES = (".py",) + tuple(TREE_SITTER)
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
  skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  skip_examples: dict = dataclasses.field(default_factory=dict)
  unsupported_suffixes: collections.Counter = dataclasses.field(
      default_factory=collections.Counter)

  def skip(self, reason: str, example: str) -> None:
    self.skipped[reason] += 1
    self.skip_examples.setdefault(reason, example)


def source_files(root: str, exclude: Sequence[str] = (), skip: Optional[str] = None
                 ) -> Iterator[str]:
  """Paths of the files under `root`, relative to it with "/" separators, sorted. Not walked:
  hidden and byte-code folders, folders whose name or relative path matches an `exclude`
  glob (e.g. site-packages), and the folder `skip` (the index)."""
  skip = os.path.realpath(skip) if skip else None

  def walked(folder: str, name: str) -> bool:
    rel = os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")
    return not (name.startswith(".") or name in SKIPPED_DIRS or
                any(fnmatch.fnmatch(name, p) or fnmatch.fnmatch(rel, p) for p in exclude) or
                os.path.realpath(os.path.join(folder, name)) == skip)

  for folder, dirs, files in os.walk(root):
    dirs[:] = sorted(d for d in dirs if walked(folder, d))
    for name in sorted(files):
      yield os.path.relpath(os.path.join(folder, name), root).replace(os.sep, "/")


def decode(data: bytes) -> str:
  """Source text, decoded as Python does: a BOM or a `# -*- coding: ... -*-` line, else UTF-8."""
  encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
  return data.decode(encoding)


def extract_source(text: str, path: str) -> list[Function]:
  """The functions of one Python file; raises SyntaxError (or ValueError) if it does not parse."""
  tree = ast.parse(text, filename=path)
  lines = text.splitlines(keepends=True)
  out = []

  def visit(node: ast.AST, prefix: str) -> None:
    for child in ast.iter_child_nodes(node):
      if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef)):
        qualname = prefix + child.name
        first = min([d.lineno for d in child.decorator_list] + [child.lineno])
        out.append(Function(path, qualname, child.lineno, child.end_lineno,
                            ast.get_docstring(child) or "",
                            "".join(lines[first - 1:child.end_lineno])))
        visit(child, qualname + ".<locals>.")
      elif isinstance(child, ast.ClassDef):
        visit(child, prefix + child.name + ".")
      elif isinstance(child, BLOCKS):  # a def in an if/try/with/for/match keeps the prefix
        visit(child, prefix)

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


def extract_file(root: str, path: str) -> tuple[list[Function], Optional[tuple[str, str]]]:
  """(functions of `root/path`, None), or ([], (skip reason, example)) when it is left out."""
  suffix = os.path.splitext(path)[1]
  if suffix not in SUPPORTED_SUFFIXES or (suffix in TREE_SITTER and _parser(suffix) is None):
    return [], ("unsupported_language", path)
  try:
    with open(os.path.join(root, path), "rb") as f:
      data = f.read()
  except OSError as e:
    return [], ("unreadable", f"{path} ({e.strerror})")
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


def _extract(job: tuple[str, str]) -> tuple[list[Function], Optional[tuple[str, str]]]:
  return extract_file(*job)


def extract_tree(root: str, exclude: Sequence[str] = (), skip: Optional[str] = None,
                 workers: int = 1, progress: bool = True) -> Extraction:
  """The functions of every supported file under `root` (see source_files), parsed by
  `workers` processes (the result does not depend on it), with a progress bar on stderr;
  every file left out is counted in `skipped` by reason."""
  import tqdm  # pylint: disable=g-import-not-at-top
  result = Extraction()
  paths = list(source_files(root, exclude, skip))
  result.files = len(paths)
  jobs = [(root, path) for path in paths]
  with contextlib.ExitStack() as stack:
    if workers > 1 and len(jobs) > 1:
      pool = stack.enter_context(multiprocessing.get_context("fork").Pool(workers))
      extracted = pool.imap(_extract, jobs, chunksize=8)
    else:
      extracted = map(_extract, jobs)
    for path, (functions, skipped) in zip(paths, tqdm.tqdm(
        extracted, total=len(jobs), desc="extracting", unit="file", disable=not progress)):
      if skipped:
        result.skip(*skipped)
        if skipped[0] == "unsupported_language":
          result.unsupported_suffixes[os.path.splitext(path)[1] or "(none)"] += 1
      else:
        result.parsed_files += 1
        result.functions.extend(functions)
  return result
