"""Code search: function extraction, the index/query CLI (bm25, the dense:hash stand-in and
their hybrid), persistence and errors. Offline; the trees are written by the tests."""
import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from code_t5 import source_functions
from code_t5.search import cli as search_cli
from code_t5.search import extraction
from code_t5.search import index as index_lib
from code_t5.search import retrieval
from code_t5.corpora import filters
from conftest import command

MODULE = textwrap.dedent('''\
    import functools


    @functools.lru_cache()
    def cached(x):
      """Decorated: the line is the def's, the source starts at the decorator."""
      return x


    class Reader:

      def read(self, path):
        def helper(line):
          return line.strip()
        return [helper(l) for l in open(path)]

      async def fetch(self, url):
        """Async method."""

      class Inner:
        @staticmethod
        def deep():
          pass


    async def main():
      class Local:
        def method(self):
          pass


    if True:
      def conditional():
        pass
    ''')

# name -> (line, end_line), as Python's __qualname__ spells the name.
EXPECTED = {
    "cached": (5, 7), "Reader.read": (12, 15), "Reader.read.<locals>.helper": (13, 14),
    "Reader.fetch": (17, 18), "Reader.Inner.deep": (22, 23), "main": (26, 29),
    "main.<locals>.Local.method": (28, 29), "conditional": (33, 34)}

LEVENSHTEIN = textwrap.dedent('''\
    """Text utilities."""


    def shout(text):
      """Upper-cases text."""
      return text.upper()


    def levenshtein_distance(source, target):
      """Levenshtein edit distance between two strings."""
      previous = list(range(len(target) + 1))
      for i, s in enumerate(source, 1):
        current = [i]
        for j, t in enumerate(target, 1):
          current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (s != t)))
        previous = current
      return previous[-1]
    ''')

SEARCH_TREE = {
    "pkg/text.py": LEVENSHTEIN,
    "pkg/net.py": textwrap.dedent('''\
        def send_request(url, payload):
          """Sends an HTTP POST request with a JSON payload and returns the response."""
          return url, payload


        def parse_header(raw):
          """Splits an HTTP header line into name and value."""
          name, _, value = raw.partition(":")
          return name.strip(), value.strip()
        '''),
    "pkg/files.py": textwrap.dedent('''\
        class Archive:
          def extract_all(self, folder):
            """Unpacks every member of the zip archive into a folder."""
            return folder
        '''),
    "web/app.c": "int hello(void) { return 1; }\n",
}
LEVENSHTEIN_LINE = 9


def write_tree(root, files: dict) -> str:
  for path, text in files.items():
    full = os.path.join(root, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "wb") as f:
      f.write(text if isinstance(text, bytes) else text.encode("utf-8"))
  return str(root)


def cli(*args: str, cwd) -> subprocess.CompletedProcess:
  """`code-t5-search ...` in a new process, as a user runs it."""
  return subprocess.run([*command("search"), *args], cwd=cwd,
                        capture_output=True, text=True, timeout=300)


def test_extraction_names_lines_and_skips(tmp_path):
  root = write_tree(tmp_path, {
      "pkg/mod.py": MODULE,
      "pkg/broken.py": "def f(:\n  pass\n",
      "pkg/latin1.py": b"def caf\xe9():\n  pass\n",
      "pkg/declared.py": b"# -*- coding: latin-1 -*-\ndef declared():\n  '''caf\xe9'''\n",
      "web/app.c": "int hello(void) { return 1; }\n",
      ".git/hook.py": "def hidden(): pass\n",
      "pkg/__pycache__/mod.py": "def cached_copy(): pass\n"})
  found = extraction.extract_tree(root, progress=False)
  by_name = {(f.path, f.qualname): f for f in found.functions}
  assert [f.qualname for f in found.functions if f.path == "pkg/mod.py"] == list(EXPECTED)
  assert {q: (by_name["pkg/mod.py", q].line, by_name["pkg/mod.py", q].end_line)
          for q in EXPECTED} == EXPECTED
  cached = by_name["pkg/mod.py", "cached"]
  assert cached.source.startswith("@functools.lru_cache()\ndef cached(x):")
  assert cached.docstring.startswith("Decorated:")
  assert by_name["pkg/mod.py", "Reader.fetch"].docstring == "Async method."
  assert by_name["pkg/declared.py", "declared"].docstring == "caf\xe9"  # PEP 263 respected
  assert found.files == 5 and found.parsed_files == 2
  assert dict(found.skipped) == {"syntax_error": 1, "undecodable": 1,
                                 "unsupported_language": 1}
  assert found.skip_examples["syntax_error"].startswith("pkg/broken.py:1")
  assert found.skip_examples["undecodable"].startswith("pkg/latin1.py")
  assert dict(found.unsupported_suffixes) == {".c": 1}
  again = extraction.extract_tree(root, workers=2, progress=False)
  assert again.functions == found.functions and again.skipped == found.skipped


def test_hash_encoder_is_deterministic_and_normalised():
  encoder = index_lib.load_encoder("hash")
  emb = encoder.embed_code(["def read_file(path): pass", ""])
  assert emb.dtype == np.float32 and emb.shape == (2, 256)
  assert np.isclose(np.linalg.norm(emb[0]), 1.0) and not emb[1].any()
  np.testing.assert_array_equal(emb[:1], index_lib.HashEncoder().embed_queries(
      ["def read_file(path): pass"]))


@pytest.mark.parametrize("model", ["bm25", "dense:hash", "hybrid:dense:hash"])
def test_cli_index_then_query_in_new_processes(tmp_path, model):
  root = write_tree(tmp_path / "src", SEARCH_TREE)
  built = cli("index", root, f"--model={model}", cwd=tmp_path)
  assert built.returncode == 0, built.stderr
  assert "functions   5" in built.stdout and "unsupported_language 1" in built.stdout
  assert "functions/s" in built.stdout
  with open(os.path.join(root, index_lib.INDEX_DIR_NAME, index_lib.MANIFEST)) as f:
    manifest = json.load(f)
  assert manifest["model"] == model and manifest["functions"] == 5
  assert manifest["root"] == root and manifest["format"] == index_lib.FORMAT_VERSION

  # From a folder inside the tree: the index is found in a parent, paths print relative.
  asked = cli("query", "edit distance between two strings", "-k", "3",
              cwd=os.path.join(root, "pkg"))
  assert asked.returncode == 0, asked.stderr
  first = asked.stdout.splitlines()[0]
  assert first.startswith(f"text.py:{LEVENSHTEIN_LINE}  levenshtein_distance  "), asked.stdout
  assert "Levenshtein edit distance between two strings." in asked.stdout
  assert " ms (" in asked.stdout.splitlines()[-1]

  if model == "bm25":
    as_json = cli("query", "send an http request", "--json", "-k", "2", "--model=bm25",
                  f"--index_dir={os.path.join(root, index_lib.INDEX_DIR_NAME)}", cwd=tmp_path)
    assert as_json.returncode == 0, as_json.stderr
    out = json.loads(as_json.stdout)
    assert out["model"] == "bm25" and out["latency_ms"] > 0 and len(out["results"]) == 2
    top = out["results"][0]
    assert (top["path"], top["line"], top["qualname"]) == ("pkg/net.py", 1, "send_request")
    assert top["file"] == os.path.join(root, "pkg/net.py")

    # No question: one per line of stdin, the index loaded once.
    piped = subprocess.run(
        [*command("search"), "query", "--json", "-k", "1",
         f"--index_dir={os.path.join(root, index_lib.INDEX_DIR_NAME)}"], cwd=tmp_path,
        input="send an http request\n\nsplit a header line\n", capture_output=True, text=True)
    assert piped.returncode == 0, piped.stderr[-2000:]
    answers = json.loads("[" + piped.stdout.replace("}\n{", "},\n{") + "]")
    assert [a["results"][0]["qualname"] for a in answers] == ["send_request", "parse_header"]


def test_missing_index_is_exit_2_with_the_fix(tmp_path):
  result = cli("query", "anything", cwd=tmp_path)
  assert result.returncode == 2
  assert "no code search index" in result.stderr and "code-t5-search index" in result.stderr
  assert "Traceback" not in result.stderr


def test_errors_exit_2_without_traceback(tmp_path, capsys):
  root = write_tree(tmp_path / "src", SEARCH_TREE)
  index_dir = str(tmp_path / "index")
  index_lib.build(root, index_dir, "bm25", progress=False)
  cases = {
      ("query", "   ", f"--index_dir={index_dir}"): "empty query",
      ("query", "distance", f"--index_dir={index_dir}", "--model=dense:hash"):
          "was built with --model=bm25",
      ("query", "distance", f"--index_dir={tmp_path}"): "no code search index there",
      ("index", str(tmp_path / "nowhere")): "not a folder",
      ("index", root, "--model=dense:bert"): "expected bm25, dense:hash, dense:t5x",
      ("index", root, "--model=hybrid:bm25"): "hybrid:dense:hash or hybrid:dense:t5x",
      ("index", root, f"--index_dir={tmp_path / 'src' / 'pkg'}"): "not a code search index",
  }
  for argv, message in cases.items():
    assert search_cli.main(list(argv)) == 2, argv
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err, (argv, err)


def test_reindex_replaces_only_when_complete(tmp_path, monkeypatch):
  root = write_tree(tmp_path / "src", SEARCH_TREE)
  index_dir = str(tmp_path / "index")
  index_lib.build(root, index_dir, "bm25", progress=False)

  def broken(*args, **kwargs):
    raise RuntimeError("disk full")

  monkeypatch.setattr(retrieval.Index, "build", broken)
  with pytest.raises(RuntimeError):
    index_lib.build(root, index_dir, "dense:hash", progress=False)
  searcher = index_lib.Searcher(index_dir)  # the old index, whole
  assert searcher.model == "bm25"
  assert searcher.search("levenshtein", 1)[0][1]["qualname"] == "levenshtein_distance"
  assert [n for n in os.listdir(index_dir) if n.startswith(index_lib.DATA_PREFIX)] == [
      searcher.manifest["data"]]

  monkeypatch.undo()
  index_lib.build(root, index_dir, "dense:hash", progress=False)
  searcher = index_lib.Searcher(index_dir, model="dense:hash")
  assert searcher.search("levenshtein edit distance", 1)[0][1]["qualname"] == (
      "levenshtein_distance")
  assert len([n for n in os.listdir(index_dir) if n.startswith(index_lib.DATA_PREFIX)]) == 1


def test_bm25_query_without_known_words_has_no_results(tmp_path, capsys):
  root = write_tree(tmp_path / "src", SEARCH_TREE)
  index_lib.build(root, None, "bm25", progress=False)
  assert search_cli.main(["query", "zzzz qqqq", f"--index_dir={root}/.code_t5_search"]) == 0
  assert "no matches" in capsys.readouterr().out


OTHER_LANGUAGES = {
    "A.java": "class Store {\n  /** Saves the record to disk. */\n  void save(Record r) {\n"
              "    write(r);\n  }\n}\n",
    "b.js": "// Greets someone by name.\nfunction hello(name) {\n  return 'hi ' + name;\n}\n"
            "class B { m() { return 1; } }\n",
    "s.go": "package m\n\n// Sum adds two numbers.\nfunc Sum(a, b int) int {\n  return a + b\n}\n",
    "c.php": "<?php\n/** Adds. */\nfunction add($a, $b) { return $a + $b; }\n"
             "class C { public function m() {} }\n",
    "k.rb": "# Adds two.\ndef add(a, b)\n  a + b\nend\nclass K\n  def m; end\nend\n",
    "broken.js": "function ok() { return 1; }\nfunction (( {\n",
}


def test_other_codesearchnet_languages_are_extracted_with_tree_sitter(tmp_path):
  found = extraction.extract_tree(write_tree(tmp_path, OTHER_LANGUAGES), progress=False)
  got = {(f.path, f.qualname): (f.line, f.end_line, f.docstring) for f in found.functions}
  assert got[("A.java", "Store.save")] == (3, 5, "Saves the record to disk.")
  assert got[("b.js", "hello")] == (2, 4, "Greets someone by name.")
  assert got[("b.js", "B.m")][2] == ""
  assert got[("s.go", "Sum")] == (4, 6, "Sum adds two numbers.")
  assert got[("c.php", "add")][2] == "Adds." and ("c.php", "C.m") in got
  assert got[("k.rb", "add")] == (2, 4, "Adds two.") and ("k.rb", "K.m") in got
  assert ("broken.js", "ok") in got  # tree-sitter reads what it can of a broken file
  assert not found.skipped


def test_code_tokens_drop_docstring_and_comments_like_codesearchnet():
  source = ('    @staticmethod\n    def f(a, b=1):  # adds\n        """Adds them."""\n'
            '        s = "kept"\n        return a + b\n')
  assert source_functions.code_tokens(source) == \
      '@ staticmethod def f ( a , b = 1 ) : s = "kept" return a + b'


def test_eval_script_scores_bm25_and_an_encoder_on_the_same_candidates(tmp_path):
  import csn_fixtures  # pylint: disable=g-import-not-at-top
  env = {**os.environ, "CODE_T5_DATA_DIR": str(tmp_path / "data")}
  corpus = csn_fixtures.write_corpus(str(tmp_path / "corpus"))
  assert subprocess.run([*command("export-codesearchnet"),
                         f"--from_disk={corpus}"], env=env, capture_output=True).returncode == 0
  result = subprocess.run([*command("eval-code-search"),
                           "--split=train", "--model=dense:hash"], env=env, capture_output=True,
                          text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.loads(result.stdout.splitlines()[-1])
  assert set(report) == {"bm25", "dense:hash", "hybrid:dense:hash"}
  for scores in report.values():
    assert 0 < scores["mrr"] <= 1 and scores["distractors"] == scores["queries"] - 1
  assert report["bm25"]["mrr"] == 1.0  # each fixture docstring names its function's words



def test_only_regular_files_inside_the_tree_are_read(tmp_path):
  outside = write_tree(tmp_path / "outside", {"secret.py": "def secret():\n  pass\n",
                                              "lib/x.py": "def x():\n  pass\n"})
  root = write_tree(tmp_path / "src", {"pkg/ok.py": "def ok():\n  pass\n",
                                       "pkg/big.py": "x = 1\n" * 200})
  os.mkfifo(os.path.join(root, "pkg", "pipe.py"))  # opening it for reading would block
  os.symlink(os.path.join(outside, "secret.py"), os.path.join(root, "pkg", "link.py"))
  os.symlink(os.path.join(root, "pkg", "ok.py"), os.path.join(root, "alias.py"))
  os.symlink(os.path.join(outside, "lib"), os.path.join(root, "linked_dir"))
  found = extraction.extract_tree(root, progress=False, max_bytes=1000)
  assert sorted((f.path, f.qualname) for f in found.functions) == [
      ("alias.py", "ok"), ("pkg/ok.py", "ok")]  # a link inside the tree is read
  assert dict(found.skipped) == {"not_regular_file": 1, "symlink_outside_tree": 1,
                                 "symlinked_folder": 1, "too_large": 1}
  assert found.skip_examples["too_large"] == "pkg/big.py (1200 bytes > 1000)"
  assert found.skip_examples["symlink_outside_tree"].startswith("pkg/link.py -> ")
  assert source_functions.MAX_FILE_BYTES == filters.MAX_FILE_BYTES  # preparation's limit


def test_pyi_is_python_and_overloads_fold_into_their_implementation(tmp_path):
  root = write_tree(tmp_path, {
      "m.py": textwrap.dedent('''\
          import typing
          from typing import overload


          @overload
          def parse(x: int) -> int: ...
          @typing.overload
          def parse(x: str) -> str: ...
          def parse(x):
            """Parses x."""
            return x


          class C:
            @overload
            def get(self, i: int) -> int: ...
            @overload
            def get(self, s: str) -> str: ...
            def get(self, key):
              return key

            def other(self):
              pass
          '''),
      "stub.pyi": textwrap.dedent('''\
          from typing import overload
          @overload
          def f(x: int) -> int:
            """Stub doc."""
          @overload
          def f(x: str) -> str: ...
          def g() -> None: ...
          '''),
  })
  found = extraction.extract_tree(root, progress=False)
  rows = {(f.path, f.qualname): f for f in found.functions}
  assert list(rows) == [("m.py", "parse"), ("m.py", "C.get"), ("m.py", "C.other"),
                        ("stub.pyi", "f"), ("stub.pyi", "g")]
  parse = rows["m.py", "parse"]
  assert (parse.line, parse.end_line, parse.docstring) == (9, 11, "Parses x.")
  assert parse.source.startswith("@overload\ndef parse(x: int)") and "return x" in parse.source
  assert (rows["m.py", "C.get"].line, rows["m.py", "C.get"].end_line) == (19, 20)
  stub = rows["stub.pyi", "f"]
  assert (stub.line, stub.end_line, stub.docstring) == (3, 6, "Stub doc.")
  assert found.parsed_by_language == {"Python": 2} and not found.skipped
  assert search_cli.snippet(parse.to_json())[0] == "def parse(x):"


def test_workers_give_the_same_result_and_never_fork_after_jax(tmp_path):
  """Parsing workers are fresh interpreters: with JAX's backends running (JAX warns on any
  fork from then on), indexing with --workers=2 forks nothing and warns nothing."""
  files = {f"pkg/m{i}.py": f"def f{i}(x):\n  '''Doc {i}.'''\n  return x\n" for i in range(30)}
  files.update(OTHER_LANGUAGES)
  root = write_tree(tmp_path / "src", files)
  one = extraction.extract_tree(root, workers=1, progress=False)
  two = extraction.extract_tree(root, workers=2, progress=False)
  assert two.functions == one.functions and two.skipped == one.skipped
  assert len(one.functions) > 30
  code = textwrap.dedent(f'''\
      import os, sys, warnings
      warnings.simplefilter("error")  # JAX's fork warning would end the run
      forks = []
      os.register_at_fork(before=lambda: forks.append(1))
      try:
        import jax
        jax.numpy.zeros(1).block_until_ready()  # starts the backend and its fork warning
      except ImportError:
        pass
      from code_t5.search import cli
      status = cli.main(["index", {root!r}, "--workers=2", "--no_progress"])
      print("forks", len(forks), "status", status)
      ''')
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr[-2000:]
  assert "forks 0 status 0" in result.stdout, result.stdout[-2000:]
  assert "os.fork() was called" not in result.stderr
  # The summary counts every language parsed (it used to call them all Python files).
  assert ("files       36 (36 parsed: Python 30, JavaScript 2, Go 1, Java 1, PHP 1, Ruby 1)"
          in result.stdout), result.stdout


def _built(tmp_path, model: str = "bm25") -> tuple[str, str]:
  root = write_tree(tmp_path / "src", SEARCH_TREE)
  index_dir = str(tmp_path / "index")
  index_lib.build(root, index_dir, model, progress=False)
  with open(os.path.join(index_dir, index_lib.MANIFEST)) as f:
    data_dir = os.path.join(index_dir, json.load(f)["data"])
  return index_dir, data_dir


def _rewrite(path: str, change) -> None:
  with open(path, encoding="utf-8") as f:
    text = f.read()
  with open(path, "w", encoding="utf-8") as f:
    f.write(change(text))


def _damaged(index_dir: str, capsys) -> str:
  """The error of a query on a damaged index: status 2, one line, names the re-index."""
  assert search_cli.main(["query", "distance", f"--index_dir={index_dir}"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "Traceback" not in err, err
  assert f"code-t5-search index " in err and f"--index_dir={index_dir}" in err
  return err


def test_manifest_without_data_is_one_line_error(tmp_path, capsys):
  index_dir, _ = _built(tmp_path)
  manifest = os.path.join(index_dir, index_lib.MANIFEST)
  _rewrite(manifest, lambda t: json.dumps({k: v for k, v in json.loads(t).items()
                                           if k != "data"}))
  assert f"{manifest}: no valid 'data'" in _damaged(index_dir, capsys)
  _rewrite(manifest, lambda t: "[1, 2")
  assert f"{manifest}: unreadable manifest" in _damaged(index_dir, capsys)


@pytest.mark.parametrize("cut, message", [
    (lambda t: t[:len(t) // 2], " rows where the manifest says 5"),  # mid-row
    (lambda t: "".join(t.splitlines(True)[:-2]), "3 rows where the manifest says 5"),
    (lambda t: t.replace("\n", "\n[1]\n", 1), "6 rows where the manifest says 5"),
    (lambda t: t.replace('"line": ', '"line": 1', 1), "changed since indexing"),
])
def test_truncated_functions_file_names_file_and_line(tmp_path, capsys, cut, message):
  index_dir, data_dir = _built(tmp_path)
  path = os.path.join(data_dir, index_lib.METADATA)
  _rewrite(path, cut)
  err = _damaged(index_dir, capsys)
  assert message in err and path in err


@pytest.mark.parametrize("model", ["bm25", "hybrid:dense:hash"])
def test_bm25_ids_out_of_range_are_refused(tmp_path, capsys, model):
  index_dir, data_dir = _built(tmp_path, model)
  indices = os.path.join(data_dir, index_lib.BM25_DIR, "indices.csc.index.npy")
  np.save(indices, np.load(indices) + 100)
  assert "document ids out of range" in _damaged(index_dir, capsys)
  index_dir, data_dir = _built(tmp_path / "again", model)
  params = os.path.join(data_dir, index_lib.BM25_DIR, "params.index.json")
  _rewrite(params, lambda t: t.replace('"num_docs": 5', '"num_docs": 9'))
  assert "9 documents for 5 functions" in _damaged(index_dir, capsys)
  os.remove(os.path.join(data_dir, index_lib.BM25_DIR, "vocab.index.json"))
  assert "bm25: unreadable" in _damaged(index_dir, capsys)


@pytest.mark.parametrize("model", ["dense:hash", "hybrid:dense:hash"])
def test_faiss_index_of_another_size_is_refused(tmp_path, capsys, model):
  index_dir, data_dir = _built(tmp_path, model)
  retrieval.Index.build(np.eye(3, 256, dtype=np.float32)).save(
      os.path.join(data_dir, index_lib.FAISS_FILE))
  assert "3 vectors of 256 dimensions for 5 functions" in _damaged(index_dir, capsys)


def test_changed_tree_warns_with_the_reindex_command(tmp_path, capsys):
  index_dir, _ = _built(tmp_path)
  root = str(tmp_path / "src")
  assert search_cli.main(["query", "levenshtein distance", f"--index_dir={index_dir}"]) == 0
  assert "warning" not in capsys.readouterr().err
  with open(os.path.join(root, "pkg", "text.py"), "a") as f:
    f.write("\n# edited\n")
  assert search_cli.main(["query", "levenshtein distance", "--json",
                      f"--index_dir={index_dir}"]) == 0
  captured = capsys.readouterr()
  assert json.loads(captured.out)["results"][0]["stale"] is True
  assert captured.err.count("\n") == 1
  assert f"{root}/pkg/text.py changed since it was indexed" in captured.err
  assert f"code-t5-search index {root} --index_dir={index_dir}" in captured.err


# One small file per language: multi-line doc comments, methods with their class or receiver,
# JavaScript functions bound to names. Expected: {qualname: (line, end_line, docstring)}.
DOC_COMMENT_TREES = {
    "net.go": ("package net\n\n"
               "// Listen announces the local network address.\n"
               "// The network must be \"tcp\".\n"
               "func Listen(network string) error {\n\treturn nil\n}\n\n"
               "// Dial connects to the address.\n// Addresses are verified before attempting\n"
               "// the actual dial.\n"
               "func (s *Socket) Dial(address string) error {\n\treturn nil\n}\n\n"
               "func (l List[T]) Len() int { return 0 }\n",
               {"Listen": (5, 7, "Listen announces the local network address.\n"
                                 "The network must be \"tcp\"."),
                "Socket.Dial": (12, 14, "Dial connects to the address.\nAddresses are "
                                        "verified before attempting\nthe actual dial."),
                "List.Len": (16, 16, "")}),
    "app.js": ("x = 1 // not a doc comment\n"
               "// Adds one.\n// Used by the counter.\n"
               "export const inc = (x) => x + 1;\n\n"
               "/**\n * Doubles a number.\n */\n"
               "module.exports.double = function (y) { return 2 * y; };\n"
               "const api = { get: async () => 1, put(v) { return v; } };\n"
               "class Counter {\n  // Resets it.\n  reset = () => { this.n = 0; };\n"
               "  tick() { const step = (n) => n + 1; return step(1); }\n}\n",
               {"inc": (4, 4, "Adds one.\nUsed by the counter."),
                "module.exports.double": (9, 9, "Doubles a number."),
                "api.get": (10, 10, ""), "api.put": (10, 10, ""),
                "Counter.reset": (13, 13, "Resets it."), "Counter.tick": (14, 14, ""),
                "Counter.tick.<locals>.step": (14, 14, "")}),
    "Store.java": ("class Store {\n  // Saves the record.\n  // Overwrites an old one.\n"
                   "  void save(Record r) {\n    write(r);\n  }\n\n"
                   "  /**\n   * Loads it.\n   * @param id the key\n   */\n"
                   "  @Override\n  Record load(int id) { return null; }\n}\n",
                   {"Store.save": (4, 6, "Saves the record.\nOverwrites an old one."),
                    "Store.load": (12, 13, "Loads it.\n@param id the key")}),
    "cart.php": ("<?php\nclass Cart {\n  # Adds an item.\n  # Keeps the order.\n"
                 "  public function add($item) { $this->items[] = $item; }\n}\n"
                 "/* Totals the cart. */\nfunction total($cart) { return 0; }\n",
                 {"Cart.add": (5, 5, "Adds an item.\nKeeps the order."),
                  "total": (8, 8, "Totals the cart.")}),
    "shop.rb": ("module Shop\n  class Cart\n    # Adds an item.\n    # Returns self.\n"
                "    def add(item)\n      self\n    end\n\n    def self.empty; end\n  end\nend\n",
                {"Shop.Cart.add": (5, 7, "Adds an item.\nReturns self."),
                 "Shop.Cart.empty": (9, 9, "")}),
}


@pytest.mark.parametrize("name", sorted(DOC_COMMENT_TREES))
def test_doc_comments_and_methods_in_other_languages(tmp_path, name):
  text, expected = DOC_COMMENT_TREES[name]
  found = extraction.extract_tree(write_tree(tmp_path, {name: text}), progress=False)
  assert not found.skipped
  got = {f.qualname: (f.line, f.end_line, f.docstring) for f in found.functions}
  assert got == expected


def test_doc_comments_are_searched(tmp_path):
  root = write_tree(tmp_path / "src", {n: t for n, (t, _) in DOC_COMMENT_TREES.items()})
  index_dir = str(tmp_path / "index")
  index_lib.build(root, index_dir, "bm25", progress=False)
  searcher = index_lib.Searcher(index_dir)
  for query, qualname in [("announces", "Listen"), ("verified before attempting", "Socket.Dial"),
                          ("used by the counter", "inc"), ("overwrites", "Store.save"),
                          ("keeps the order", "Cart.add"), ("returns self", "Shop.Cart.add")]:
    assert searcher.search(query, 1)[0][1]["qualname"] == qualname, query


@pytest.mark.parametrize("model", ["dense:t5x:", "hybrid:dense:t5x:"])
def test_a_dense_t5x_model_is_checked_before_extraction(tmp_path, monkeypatch, model):
  root = write_tree(tmp_path / "src", {"m.py": "def f():\n  pass\n"})
  (tmp_path / "no_checkpoint").mkdir()

  def extract(*args, **kwargs):
    raise AssertionError("extracted before the model was checked")

  monkeypatch.setattr(extraction, "extract_tree", extract)
  # No checkpoint and no config.gin: T5X's loader names the missing file (or, without T5X,
  # the load names the missing package); either way before any file is parsed.
  with pytest.raises((FileNotFoundError, RuntimeError), match="config.gin|T5X"):
    index_lib.build(root, str(tmp_path / "index"), f"{model}{tmp_path}/no_checkpoint",
                    progress=False)


# BM25 and the hash stand-in disagree on "read json config file": BM25 ranks first the function
# whose docstring repeats the words (the hash embeds code without docstrings: describe_formats
# shares nothing with the query there), the hash the one whose code reads JSON config.
HYBRID_TREE = {
    **SEARCH_TREE,
    "pkg/settings.py": textwrap.dedent('''\
        def load_config(config_path):
          """Reads the JSON config file at config_path."""
          with open(config_path) as f:
            return json.loads(f.read())
        '''),
    "pkg/formats.py": textwrap.dedent('''\
        def describe_formats():
          """Read about each config file format: json config file,
          yaml config file, ini config file."""
          return sorted(FORMATS)
        '''),
    "pkg/io.py": "def write_file(file, text):\n  file.write(text)\n",
    "pkg/util.py": "def read_json(text):\n  return json.loads(text)\n",
}


def _key(fn: dict) -> tuple:
  return fn["path"], fn["line"], fn["qualname"]


def test_hybrid_fuses_the_bm25_and_dense_rankings_of_every_function(tmp_path):
  root = write_tree(tmp_path / "src", HYBRID_TREE)
  index_dir = str(tmp_path / "hybrid")
  built = cli("index", root, f"--index_dir={index_dir}", "--model=hybrid:hash", cwd=tmp_path)
  assert built.returncode == 0, built.stderr
  assert "(--model=hybrid:dense:hash)" in built.stdout  # the one spelling the manifest keeps
  with open(os.path.join(index_dir, index_lib.MANIFEST)) as f:
    manifest = json.load(f)
  assert manifest["model"] == "hybrid:dense:hash" and manifest["dim"] == 256
  data_dir = os.path.join(index_dir, manifest["data"])
  assert {index_lib.BM25_DIR, index_lib.FAISS_FILE} <= set(os.listdir(data_dir))

  # The two rankings on their own, from a bm25 and a dense:hash index of the same tree.
  query = "read json config file"
  separate = {}
  for model in ("bm25", "dense:hash"):
    index_lib.build(root, str(tmp_path / model.replace(":", "_")), model, progress=False)
    searcher = index_lib.Searcher(str(tmp_path / model.replace(":", "_")))
    separate[model] = {_key(fn): score for score, fn in searcher.search(query, 100)}
  rows = [_key(fn) for fn in searcher.functions]
  assert len(rows) == manifest["functions"] == 9
  assert max(separate["bm25"], key=separate["bm25"].get)[2] == "describe_formats"
  assert max(separate["dense:hash"], key=separate["dense:hash"].get)[2] == "load_config"
  bm25 = np.array([separate["bm25"].get(r, 0.0) for r in rows])  # left out: no shared word
  dense = np.array([separate["dense:hash"][r] for r in rows])
  fused = retrieval.reciprocal_rank_fusion(bm25, dense)
  expected = sorted(range(len(rows)), key=lambda i: (-fused[i], i))  # ties in row order

  asked = cli("query", query, "--json", "-k", "4", "--model=hybrid:dense:hash",
              f"--index_dir={index_dir}", cwd=tmp_path)
  assert asked.returncode == 0, asked.stderr
  out = json.loads(asked.stdout)
  assert out["model"] == "hybrid:dense:hash"
  assert [_key(r) for r in out["results"]] == [rows[i] for i in expected[:4]]
  assert [r["score"] for r in out["results"]] == pytest.approx(
      [fused[i] for i in expected[:4]], rel=1e-6)
  assert out["results"][0]["qualname"] == "load_config"  # 2nd by BM25, 1st by the hash

  # The same index asked with another model: one line naming the reindex command.
  wrong = cli("query", query, "--model=bm25", f"--index_dir={index_dir}", cwd=tmp_path)
  assert wrong.returncode == 2 and wrong.stderr.count("\n") == 1, wrong.stderr
  assert "was built with --model=hybrid:dense:hash" in wrong.stderr
  assert (f"code-t5-search index {root} --index_dir={index_dir} --model=bm25"
          in wrong.stderr)


def test_hybrid_with_a_missing_checkpoint_fails_before_extraction(tmp_path):
  root = write_tree(tmp_path / "src", HYBRID_TREE)
  result = cli("index", root, f"--model=hybrid:t5x:{tmp_path}/missing", cwd=tmp_path)
  assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
  assert f"--model=hybrid:dense:t5x:{tmp_path}/missing: no such checkpoint" in result.stderr
  assert "extracting" not in result.stderr and "Traceback" not in result.stderr
  assert not os.path.exists(os.path.join(root, index_lib.INDEX_DIR_NAME))


def test_a_flipped_byte_in_the_bm25_arrays_is_refused(tmp_path, capsys):
  index_dir, data_dir = _built(tmp_path)
  path = os.path.join(data_dir, index_lib.BM25_DIR, "data.csc.index.npy")
  with open(path, "r+b") as f:  # one byte of a score, inside the array: still a valid .npy
    f.seek(-3, os.SEEK_END)
    byte = f.read(1)
    f.seek(-3, os.SEEK_END)
    f.write(bytes([byte[0] ^ 0x40]))
  assert f"{path}: changed since indexing (sha256 differs)" in _damaged(index_dir, capsys)


def test_an_unknown_model_or_a_mistyped_row_is_a_one_line_error(tmp_path, capsys):
  index_dir, data_dir = _built(tmp_path)
  manifest = os.path.join(index_dir, index_lib.MANIFEST)
  original = open(manifest, encoding="utf-8").read()
  _rewrite(manifest, lambda t: t.replace('"model": "bm25"', '"model": "tfidf"'))
  assert "unknown model 'tfidf' in the manifest" in _damaged(index_dir, capsys)
  _rewrite(manifest, lambda t: original)
  rows = os.path.join(data_dir, index_lib.METADATA)

  def line_as_text(text):
    first, rest = text.split("\n", 1)
    row = json.loads(first)
    row["line"] = str(row["line"])
    return json.dumps(row) + "\n" + rest

  _rewrite(rows, line_as_text)
  assert f"{rows}: changed since indexing (sha256 differs)" in _damaged(index_dir, capsys)
  # Edited with its checksum too: the row itself is refused when it is served.
  _rewrite(manifest, lambda t: json.dumps({**json.loads(t), "sha256": index_lib.data_checksums(
      data_dir)}))
  searcher = index_lib.Searcher(index_dir)
  with pytest.raises(index_lib.DamagedIndex, match=f"{rows}:1: field 'line' is not a int"):
    _ = searcher.functions[0]


def test_saved_bm25_scores_equal_bm25s(tmp_path):
  docs = [retrieval.bm25_words(t) for t in (
      "read a file and return its lines", "parse a date string", "readFile lines lines",
      "write bytes to a socket", "")]
  index = retrieval.bm25_index(docs)
  index.save(str(tmp_path / "bm25"))
  saved = retrieval.SavedBM25(str(tmp_path / "bm25"))
  for query in (["read", "lines"], ["lines", "lines", "file"], ["socket"]):
    np.testing.assert_array_equal(saved.get_scores(query), index.get_scores(query))
  assert saved.get_scores(["read"]).argmax() in (0, 2)


def test_a_file_name_that_is_not_utf8_is_a_counted_skip(tmp_path):
  root = write_tree(tmp_path / "src", SEARCH_TREE)
  with open(os.path.join(os.fsencode(root), b"caf\xe9.py"), "wb") as f:
    f.write(b"def cafe():\n    return 1\n")
  manifest = index_lib.build(root, str(tmp_path / "index"), progress=False)
  assert manifest["skipped"]["name_not_utf8"] == 1
  assert manifest["skip_examples"]["name_not_utf8"] == "caf\\xe9.py"
  assert manifest["functions"] == 5
