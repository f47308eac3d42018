"""Builds small FLCC trees in the exact upstream layout (see README, "FLCC layout")."""
import hashlib
import json
import os


def _time_ns(path: str) -> int:
  return 1569435301125374618 + int(hashlib.sha256(os.fsencode(path)).hexdigest()[:8], 16)


def repo_dir(root: str, owner: str, repo: str, language: str = "Python", ext: str = ".py",
             init_hash: str = "master") -> str:
  """Where add_repo puts a repository's files."""
  return os.path.join(root, "v3", "languages", language, ext, owner, repo, init_hash)


def meta_dir(root: str, owner: str, repo: str, init_hash: str = "master") -> str:
  """Where add_repo puts a repository's paths.json, files.json and METADATA."""
  return os.path.join(root, "v3", "repositories", owner, repo, init_hash)


def add_repo(root: str, owner: str, repo: str, files: dict, language: str = "Python",
             ext: str = ".py", init_hash: str = "master", nested_metadata: bool = False) -> dict:
  """Writes one repository: renamed files plus paths.json, files.json and METADATA.

  `files` maps the original path inside the repository to its bytes (or str). Returns
  {original path: dataset file name}.
  """
  v3 = os.path.join(root, "v3")
  files_dir = repo_dir(root, owner, repo, language, ext, init_hash)
  os.makedirs(files_dir, exist_ok=True)
  names = {}
  for original, content in files.items():
    stem = os.path.splitext(os.path.basename(original))[0]
    name = f"{stem}_{_time_ns(owner + repo + original)}{ext}"
    data = content.encode("utf-8") if isinstance(content, str) else content
    with open(os.path.join(files_dir, name), "wb") as f:
      f.write(data)
    names[original] = name
  meta_base = ["repositories", "repositories"] if nested_metadata else ["repositories"]
  meta = os.path.join(v3, *meta_base, owner, repo, init_hash)
  os.makedirs(meta, exist_ok=True)
  with open(os.path.join(meta, "paths.json"), "w") as f:
    json.dump({name: original for original, name in names.items()}, f)
  with open(os.path.join(meta, "files.json"), "w") as f:
    json.dump({f"{language}/{ext}": len(files)}, f)
  with open(os.path.join(meta, "METADATA"), "w") as f:
    f.write("".join(f"A\t{p}\n" for p in files) + "1569435301\n\nM\t"
            + next(iter(files)) + "\n1569435401\n")
  return names


def python_file(i: int) -> str:
  return (f'"""Module {i}."""\nimport os\n\n\ndef f{i}(x):\n\tif x > {i}:\n'
          f'\t\treturn "héllo {i}"  \n\n    return os.path.join("a", str(x))\n')


def build_code_tree(root: str, num_repos: int = 12, files_per_repo: int = 4) -> str:
  """A clean multi-language tree: Python repos (one with nested metadata), a Java repo and
  an anonymous dev/null project."""
  for r in range(num_repos):
    add_repo(root, f"owner{r % 3}", f"repo{r}",
             {f"pkg/mod_{r}_{i}.py": python_file(100 * r + i) for i in range(files_per_repo)},
             nested_metadata=(r == 1))
  add_repo(root, "jowner", "jrepo", {
      "src/Main.java": "class Main {\n  public static void main(String[] a) {}\n}\n",
      "src/Util.java": "class Util {\n  int x = 1;\n}\n"}, language="Java", ext=".java")
  add_repo(root, "dev", "null", {"anon.py": python_file(9999)},
           init_hash="0b6e4c36-1d5f-4c1b-9a61-5d3f0f3b0c11")
  return root
