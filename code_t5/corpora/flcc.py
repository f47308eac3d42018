"""Reads the JetBrains FLCC dataset layout.

    v3/languages/<Language>/<.ext>/<owner>/<repo>/<init-hash>/<files>
    v3/repositories/<owner>/<repo>/<init-hash>/{paths.json,files.json,METADATA}

Some copies of the top-5k archive have an extra `repositories/repositories/` level; both are
accepted. `paths.json` maps each renamed dataset file to its original path in the repository.
"""
import collections
import dataclasses
import json
import os
import re
from typing import Iterator, Optional

from code_t5 import source_functions
from code_t5.corpora import filters


# The dataset's 103 language folders, in the order of the FLCC description's
# description/languages.txt (BarracudaPff/FLCC-Dataset-Description): every one gets tasks,
# prepared or not, so the task registry never depends on what is on disk.
LANGUAGES = (
    "C", "C++", "HTML", "JavaScript", "Java", "Jupyter Notebook", "Python", "PHP", "C#",
    "Assembly", "Objective-C", "Go", "CSS", "OpenEdge ABL", "Shell", "Makefile", "LLVM", "Ruby",
    "Perl", "TypeScript", "Pascal", "TSQL", "Roff", "Lua", "Fortran", "TeX", "Scala", "Smali",
    "Swift", "Emacs Lisp", "Rust", "Verilog", "PLpgSQL", "Julia", "D", "Ada", "SMT",
    "Common Lisp", "OCaml", "R", "Haskell", "PowerShell", "Smalltalk", "XSLT", "GLSL", "RPC",
    "Visual Basic", "Eagle", "PostScript", "Erlang", "ActionScript", "CMake", "Vim script",
    "Kotlin", "Objective-C++", "Max", "Scheme", "HCL", "Jasmin", "Tcl", "WebAssembly", "Dart",
    "Vue", "M4", "Groovy", "DM", "PLSQL", "SQLPL", "SQF", "Clojure", "F#", "Coq", "Nix", "ASP",
    "Haxe", "CoffeeScript", "Smarty", "QML", "Mercury", "Racket", "Yacc", "Lex", "Perl 6",
    "Dockerfile", "Elixir", "M", "Batchfile", "SystemVerilog", "Eiffel", "Gherkin", "SQL",
    "Objective-J", "1C Enterprise", "Brainfuck", "Genshi", "QMake", "F*", "RAML", "SAS",
    "PureScript", "AppleScript", "MoonScript", "RMarkdown",
)


class FlccLayoutError(ValueError):
  """The given directory is not an FLCC root."""


@dataclasses.dataclass(frozen=True)
class SourceFile:
  language: str       # FLCC language folder, e.g. "Python"
  ext: str            # extension folder, e.g. ".py"
  repo: str           # "owner/name" (anonymous "dev/null" projects keep their uuid)
  init_hash: str
  name: str           # file name inside the dataset (renamed `<stem>_<time_ns><ext>`)
  disk_path: str      # where it lies on this machine
  original_path: str  # path inside the repository, from paths.json (else `name`)


@dataclasses.dataclass
class ScanStats:
  """What a scan kept and skipped, by reason, with one example path per reason; and what it
  warned about, by kind, with a count and one example each."""
  kept: int = 0
  skipped: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  examples: dict = dataclasses.field(default_factory=dict)
  warned: collections.Counter = dataclasses.field(default_factory=collections.Counter)
  warn_details: dict = dataclasses.field(default_factory=dict)  # kind -> (example, unit, text)

  def skip(self, reason: str, path: str) -> None:
    self.skipped[reason] += 1
    self.examples.setdefault(reason, source_functions.printable(path))

  def warn(self, kind: str, example: str, message: str, unit: str = "repositories") -> None:
    self.warned[kind] += 1
    self.warn_details.setdefault(kind, (source_functions.printable(example), unit, message))

  @property
  def warnings(self) -> list[str]:
    """One line per kind: what, how many, an example, and the fix."""
    lines = []
    for kind, count in sorted(self.warned.items()):
      example, unit, message = self.warn_details[kind]
      lines.append(f"{kind}: {count} {unit}, e.g. {example}: {message}")
    return lines

  def summary(self) -> dict:
    return {"kept": self.kept, "skipped": dict(sorted(self.skipped.items())),
            "skip_examples": dict(sorted(self.examples.items())), "warnings": self.warnings,
            "warning_counts": dict(sorted(self.warned.items()))}


def language_slug(language: str) -> str:
  """Task-name-safe, lower-case language name: "C++" -> "cpp", "C#" -> "csharp"."""
  name = language.lower().replace("++", "pp").replace("#", "sharp")
  return re.sub(r"[^a-z0-9]+", "_", name).strip("_")


def find_v3(root: str) -> str:
  """Returns the `v3` folder under `root` (the archive's top folder, `v3` or its parent)."""
  candidates = [root, os.path.join(root, "v3")]
  if os.path.isdir(root):
    candidates += [os.path.join(root, d, "v3") for d in sorted(os.listdir(root))]
  for candidate in candidates:
    if os.path.isdir(os.path.join(candidate, "languages")):
      return candidate
  raise FlccLayoutError(
      f"{root}: no FLCC tree found (expected {root}/v3/languages/<Language>/<.ext>/<owner>/"
      "<repo>/<init-hash>/). Pass the folder that holds `v3`, e.g. the extracted "
      "dataset-normalized-5000-with-imports/, or build one with code-t5-make-dev-dataset.")


def _subdirs(path: str, stats: ScanStats) -> list[str]:
  """Sorted real subfolders of `path`, a level above the files. Symlinks, files at this
  (wrong) depth and an unreadable folder are counted as skips."""
  try:
    with os.scandir(path) as scanned:
      entries = sorted(scanned, key=lambda e: e.name)
  except OSError:
    stats.skip("unreadable", path)
    return []
  names = []
  for entry in entries:
    if entry.is_symlink():
      stats.skip("symlink", entry.path)
    elif entry.is_dir(follow_symlinks=False):
      names.append(entry.name)
    else:
      stats.skip("misplaced", entry.path)
  return names


def repository_dirs(v3: str, stats: Optional[ScanStats] = None
                    ) -> Iterator[tuple[str, str, str, str, str]]:
  """Yields (language, ext, owner, repo, init_hash) for every repository folder, sorted;
  what cannot be one is counted in `stats`."""
  stats = stats if stats is not None else ScanStats()
  languages = os.path.join(v3, "languages")
  for language in _subdirs(languages, stats):
    for ext in _subdirs(os.path.join(languages, language), stats):
      ext_dir = os.path.join(languages, language, ext)
      for owner in _subdirs(ext_dir, stats):
        for repo in _subdirs(os.path.join(ext_dir, owner), stats):
          for init_hash in _subdirs(os.path.join(ext_dir, owner, repo), stats):
            yield language, ext, owner, repo, init_hash


def metadata_dir(v3: str, owner: str, repo: str, init_hash: str) -> Optional[str]:
  for base in ("repositories", os.path.join("repositories", "repositories")):
    path = os.path.join(v3, base, owner, repo, init_hash)
    if os.path.isdir(path):
      return path
  return None


def load_paths(v3: str, owner: str, repo: str, init_hash: str, stats: ScanStats) -> dict:
  """Reads paths.json; a missing or broken one (or entry) is counted as a warning, and those
  files keep their dataset file names as original paths."""
  if not os.path.isdir(os.path.join(v3, "repositories")):
    stats.warn("no_repositories_folder", os.path.join(v3, "repositories"),
               "the metadata folder is missing, so original paths fall back to dataset file "
               "names; extract the archive's v3/repositories/ beside v3/languages/.")
    return {}
  meta = metadata_dir(v3, owner, repo, init_hash)
  path = os.path.join(meta or os.path.join(v3, "repositories", owner, repo, init_hash),
                      "paths.json")
  if not os.path.exists(path):
    stats.warn("missing_paths_json", path,
               "no paths.json, so original paths fall back to dataset file names; copy the "
               "repository's metadata folder from the archive.")
    return {}
  try:
    with open(path, encoding="utf-8") as f:
      paths = json.load(f)
    if not isinstance(paths, dict):
      raise ValueError("expected a JSON object {file name: original path}")
  except (OSError, ValueError) as e:
    stats.warn("bad_paths_json", f"{path} ({e})",
               "unusable paths.json, so original paths fall back to dataset file names; "
               "fix the file (a JSON object {file name: original path}) or delete it.")
    return {}
  usable = {}
  for name, original in paths.items():
    if isinstance(original, str) and original and source_functions.is_utf8(original):
      usable[name] = original
    else:
      stats.warn("bad_paths_json_entries", f"{path}: {name!r}: {original!r}"[:300],
                 "paths.json entries whose original path is not a non-empty UTF-8 string; "
                 "those files keep their dataset file names as paths. Fix the entries or "
                 "delete the file.", unit="entries")
  return usable


def repo_key(owner: str, repo: str, init_hash: str) -> str:
  """Repository identity used for splitting; anonymous dev/null projects are told apart."""
  return f"{owner}/{repo}/{init_hash}" if (owner, repo) == ("dev", "null") else f"{owner}/{repo}"


def iter_source_files(root: str, stats: ScanStats) -> Iterator[SourceFile]:
  """Yields every regular file of the tree in a stable order; symlinks, files at the wrong
  depth and names that are not UTF-8 are counted and skipped."""
  v3 = find_v3(root)
  for language, ext, owner, repo, init_hash in repository_dirs(v3, stats):
    repo_dir = os.path.join(v3, "languages", language, ext, owner, repo, init_hash)
    paths = load_paths(v3, owner, repo, init_hash, stats)
    key = repo_key(owner, repo, init_hash)
    for dirpath, dirnames, filenames in os.walk(repo_dir, onerror=lambda e: stats.skip(
        "unreadable", e.filename)):
      for d in list(dirnames):
        if os.path.islink(os.path.join(dirpath, d)):
          stats.skip("symlink", os.path.join(dirpath, d))
          dirnames.remove(d)
      dirnames.sort()
      for filename in sorted(filenames):
        disk_path = os.path.join(dirpath, filename)
        if os.path.islink(disk_path):
          stats.skip("symlink", disk_path)
          continue
        name = os.path.relpath(disk_path, repo_dir)
        original = paths.get(name, name)
        # The path, repository and language are stored as UTF-8 text in every record.
        if not (source_functions.is_utf8(original) and source_functions.is_utf8(key) and source_functions.is_utf8(language)):
          stats.skip("name_not_utf8", disk_path)
          continue
        yield SourceFile(language=language, ext=ext, repo=key, init_hash=init_hash, name=name,
                         disk_path=disk_path, original_path=original)


def read_source(source: SourceFile, stats: ScanStats) -> Optional[str]:
  """Reads and filters one file; returns its text, or None after counting the skip."""
  reason, _, _ = filters.inspect_file(source.disk_path)
  if reason is not None:
    stats.skip(reason, source.disk_path)
    return None
  with open(source.disk_path, encoding="utf-8") as f:
    return f.read()
