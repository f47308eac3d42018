"""Small FLCC-layout datasets for local debugging, with nothing to download.

Either a cut of a real FLCC root (the repositories matching a glob), or an FLCC-layout tree
built from any local source directory, by default the running Python's standard library.
"""
import collections
import fnmatch
import hashlib
import json
import os
import shutil
import sysconfig
from typing import Optional

import tqdm

from code_t5.corpora import flcc

# Extension -> FLCC language folder for trees built from local sources.
LANGUAGE_OF_EXT = {
    **{e: "Python" for e in (".py", ".bzl", ".gyp", ".gypi", ".lmi", ".py3", ".pyde", ".pyi",
                             ".pyp", ".pyt", ".pyw", ".rpy", ".tac", ".wsgi", ".xpy")},
    ".java": "Java", ".kt": "Kotlin", ".js": "JavaScript", ".ts": "TypeScript", ".go": "Go",
    ".c": "C", ".h": "C", ".cc": "C++", ".cpp": "C++", ".hpp": "C++", ".cs": "C#", ".rs": "Rust",
    ".rb": "Ruby", ".php": "PHP", ".scala": "Scala", ".sh": "Shell",
}
# Installed packages and caches are not the tree's own source; hidden folders (.git, .venv) too.
SKIP_DIRS = {"__pycache__", "site-packages", "dist-packages", "node_modules"}


def stdlib_dir() -> str:
  """The running Python's standard library: the default source of the dev dataset."""
  return sysconfig.get_paths()["stdlib"]


def _replace(out_root: str) -> None:
  """A dev tree is always rebuilt whole: files left from an earlier build would join it."""
  if os.path.exists(out_root):
    shutil.rmtree(out_root)


def copy_subset(flcc_root: str, out_root: str, pattern: str = "A*") -> dict:
  """Copies the repositories whose `owner/repo` matches `pattern` into a new FLCC root
  (`out_root` is replaced if it exists)."""
  v3 = flcc.find_v3(flcc_root)
  _replace(out_root)
  copied = set()
  for language, ext, owner, repo, init_hash in tqdm.tqdm(
      list(flcc.repository_dirs(v3)), desc="copying repositories", unit="repo"):
    if not fnmatch.fnmatch(f"{owner}/{repo}", pattern):
      continue
    rel = os.path.join("languages", language, ext, owner, repo, init_hash)
    shutil.copytree(os.path.join(v3, rel), os.path.join(out_root, "v3", rel), symlinks=True,
                    dirs_exist_ok=True)
    meta = flcc.metadata_dir(v3, owner, repo, init_hash)
    if meta is not None:
      shutil.copytree(meta, os.path.join(out_root, "v3", "repositories", owner, repo, init_hash),
                      symlinks=True, dirs_exist_ok=True)
    copied.add((owner, repo, init_hash))
  if not copied:
    raise ValueError(f"{flcc_root}: no repository matches {pattern!r}; try a wider glob "
                     "such as '*' (patterns match 'owner/repo').")
  return {"repositories": len(copied), "pattern": pattern, "out": out_root}


def _dataset_name(rel_path: str) -> str:
  """FLCC renames files `<stem>_<time_ns><ext>`; a hash of the path stands in for the time."""
  stem, ext = os.path.splitext(os.path.basename(rel_path))
  fake_time_ns = int(hashlib.sha256(rel_path.encode()).hexdigest()[:15], 16)
  return f"{stem}_{fake_time_ns:019d}{ext}"


def from_source_tree(src_dir: Optional[str], out_root: str, owner: Optional[str] = None) -> dict:
  """Builds an FLCC-layout root from a local tree: one repository per top-level entry.

  Files with an extension outside LANGUAGE_OF_EXT are not source and are counted as ignored.
  `out_root` is replaced if it exists.
  """
  src_dir = os.path.abspath(src_dir or stdlib_dir())
  if not os.path.isdir(src_dir):
    raise ValueError(f"{src_dir}: not a directory; pass a folder of source files.")
  _replace(out_root)
  owner = owner or os.path.basename(src_dir.rstrip("/")) or "local"
  repos = collections.defaultdict(list)  # repo name -> [(rel path in repo, abs path, ext)]
  ignored = collections.Counter()
  single_files = set()  # repositories made of one file at the top of src_dir
  for dirpath, dirnames, filenames in os.walk(src_dir):
    dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS and not d.startswith(".")
                         and not os.path.islink(os.path.join(dirpath, d)))
    for filename in sorted(filenames):
      path = os.path.join(dirpath, filename)
      ext = os.path.splitext(filename)[1]
      if ext not in LANGUAGE_OF_EXT or os.path.islink(path):
        ignored["symlink" if os.path.islink(path) else "not_source"] += 1
        continue
      rel = os.path.relpath(path, src_dir)
      top = rel.split(os.sep)[0]
      repo = os.path.splitext(top)[0] if top == rel else top
      repos[repo].append((rel, path, ext))
      if top == rel:
        single_files.add(repo)

  v3 = os.path.join(out_root, "v3")
  num_files = 0
  for repo, files in tqdm.tqdm(sorted(repos.items()), desc="building dev dataset", unit="repo"):
    paths, counts, mtimes = {}, collections.Counter(), []
    for rel, path, ext in files:
      language = LANGUAGE_OF_EXT[ext]
      name = _dataset_name(rel)
      dest = os.path.join(v3, "languages", language, ext, owner, repo, "master", name)
      os.makedirs(os.path.dirname(dest), exist_ok=True)
      shutil.copyfile(path, dest)
      paths[name] = rel
      counts[f"{language}/{ext}"] += 1
      mtimes.append(int(os.path.getmtime(path)))
      num_files += 1
    meta = os.path.join(v3, "repositories", owner, repo, "master")
    os.makedirs(meta, exist_ok=True)
    with open(os.path.join(meta, "paths.json"), "w") as f:
      json.dump(paths, f, indent=1, sort_keys=True)
    with open(os.path.join(meta, "files.json"), "w") as f:
      json.dump(dict(sorted(counts.items())), f)
    with open(os.path.join(meta, "METADATA"), "w") as f:
      f.write("".join(f"A\t{p}\n" for p in sorted(paths.values())) + f"{max(mtimes)}\n")
  return {"source": src_dir, "out": out_root, "repositories": len(repos), "files": num_files,
          "single_file_repositories": len(single_files), "ignored": dict(ignored)}
