import gzip
import json
import math
import os
import re
import subprocess
import sys

import pytest
import seqio

from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
import csn_fixtures
from code_t5.data import metrics
from code_t5.data import vocabularies
from code_t5.corpora import codesearchnet
from code_t5.corpora import summaries
from code_t5.data import task_configs
from conftest import run_command


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("data")
  corpus = csn_fixtures.write_corpus(str(tmp_path_factory.mktemp("corpus")))
  result = run_command("export-codesearchnet", f"--from_disk={corpus}",
                      env={"CODE_T5_DATA_DIR": str(data_dir)})
  assert result.returncode == 0, result.stderr[-3000:]
  assert "empty_docstring_tokens 1, empty_code 1" in result.stdout
  return data_dir


@pytest.fixture
def data(exported, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(exported))
  return exported


def _examples(task_name, split, lengths=None):
  task = seqio.get_mixture_or_task(task_name)
  keys = list(task.output_features)
  ds = task.get_dataset(lengths or dict.fromkeys(keys, 512), split=split, shuffle=False)
  return [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in ex.items()}
          for ex in ds.as_numpy_iterator()]


def test_export_counts_rows_and_skips_from_plain_and_gzipped_files(data):
  summary = summaries.read(str(data / "codesearchnet"), codesearchnet.SUMMARY)
  assert summary["languages"] == {"java": {"train": 1, "validation": 1, "test": 1},
                                  "python": {"train": 8, "validation": 1, "test": 2}}
  assert summary["skipped"]["python"]["train"] == {"empty_docstring_tokens": 1,
                                                   "empty_code": 1}
  assert summary["skipped"]["java"] == {"train": {}, "validation": {}, "test": {}}
  rows = codesearchnet.read_split(str(data / "codesearchnet"), "python", "train")
  upstream = csn_fixtures.python_rows()[0]
  assert rows[0] == {
      "repo": "octo/python-utils", "path": "src/utils.py", "func_name": "read_json",
      "language": "python", "url": upstream["func_code_url"],
      "code": upstream["func_code_string"],
      "code_tokens": "def read_json ( path ) : with open ( path ) as f : return json . load ( f )",
      "docstring": "Read a JSON file and return the parsed object.",
      "docstring_tokens": "Read a JSON file and return the parsed object ."}
  assert [r["func_name"] for r in rows] == [f[0] for f in csn_fixtures.PYTHON_TRAIN]
  java = codesearchnet.read_split(str(data / "codesearchnet"), "java", "validation")
  assert java[0]["func_name"] == "Utils.min"  # split_name "valid" -> validation


def test_export_selected_languages_counts_the_others(tmp_path):
  corpus = csn_fixtures.write_corpus(str(tmp_path / "corpus"))
  summary = codesearchnet.export(str(tmp_path / "out"), corpus, ["java"])
  assert list(summary["languages"]) == ["java"]
  assert summary["not_selected_languages"] == {"python": 13}
  assert not (tmp_path / "out" / "python").exists()
  with pytest.raises(ValueError, match="no rows for \\['go'\\]"):
    codesearchnet.export(str(tmp_path / "out2"), corpus, ["java", "go"])
  assert not (tmp_path / "out2" / "java" / "train.jsonl").exists()  # nothing half-written
  with pytest.raises(ValueError, match="unknown \\['cobol'\\]"):
    codesearchnet.export(str(tmp_path / "out"), corpus, ["cobol"])


def _export_error(corpus, out) -> str:
  result = run_command("export-codesearchnet", f"--from_disk={corpus}", f"--out_dir={out}")
  assert result.returncode == 2, result.stdout[-2000:]
  assert "Traceback" not in result.stderr
  return result.stderr


def test_export_errors_name_the_file_and_line(tmp_path):
  assert "no *.jsonl or *.jsonl.gz files" in _export_error(tmp_path, tmp_path / "o")
  corpus = csn_fixtures.write_corpus(str(tmp_path / "c"))
  with open(tmp_path / "c" / "python.jsonl", "a") as f:
    f.write("{oops\n")
  assert "python.jsonl:14: malformed JSON line" in _export_error(corpus, tmp_path / "o")

  row = csn_fixtures.python_rows()[0]
  del row["func_code_tokens"]
  (tmp_path / "c" / "python.jsonl").write_text(json.dumps(row) + "\n")
  assert "python.jsonl:1: row without ['func_code_tokens']" in _export_error(corpus,
                                                                               tmp_path / "o")
  row = {**csn_fixtures.python_rows()[0], "split_name": "dev"}
  (tmp_path / "c" / "python.jsonl").write_text("\n" + json.dumps(row) + "\n")
  assert "python.jsonl:2: split_name 'dev'" in _export_error(corpus, tmp_path / "o")

  (tmp_path / "c" / "python.jsonl").unlink()
  data = gzip.compress(b"".join(json.dumps(r).encode() + b"\n" for r in csn_fixtures.java_rows()))
  (tmp_path / "c" / "java.jsonl.gz").write_bytes(data[:-30])
  assert re.search(r"java.jsonl.gz:\d+: unreadable", _export_error(corpus, tmp_path / "o"))
  assert not (tmp_path / "o" / "java").exists() or not any((tmp_path / "o" / "java").iterdir())


def test_code_to_docstring_task_decodes_token_strings(data):
  train = _examples("csn_python_code_to_docstring", "train")
  rows = codesearchnet.read_split(str(data / "codesearchnet"), "python", "train")
  assert [ex["inputs_pretokenized"] for ex in train] == [r["code_tokens"] for r in rows]
  assert [ex["targets_pretokenized"] for ex in train] == [r["docstring_tokens"] for r in rows]
  assert train[0]["url"] == rows[0]["url"]
  vocab = seqio.get_mixture_or_task("csn_python_code_to_docstring").output_features[
      "targets"].vocabulary
  assert vocab.decode(train[0]["targets"].tolist()) == rows[0]["docstring_tokens"]
  assert train[0]["targets"][-1] == 1  # EOS
  task = seqio.get_mixture_or_task("csn_python_code_to_docstring")
  assert task.num_input_examples("train") == 8
  assert [m.__name__ for m in task.metric_fns] == ["smoothed_bleu", "exact_match"]


def test_long_examples_are_trimmed_and_keep_eos(data):
  ex = _examples("csn_python_docstring_to_code", "test", {"inputs": 8, "targets": 16})[1]
  assert ex["inputs_pretokenized"] == "Split a list into chunks of a given size ."
  assert ex["targets_pretokenized"].startswith("def chunks ( items , size ) :")
  assert len(ex["inputs"]) == 8 and ex["inputs"][-1] == 1
  assert len(ex["targets"]) == 16 and ex["targets"][-1] == 1


def test_query_code_pairs_docstrings_with_code(data):
  pairs = _examples("csn_java_query_code", "validation")
  assert len(pairs) == 1
  assert pairs[0]["queries_pretokenized"] == "Returns the smaller of two integers ."
  assert pairs[0]["passages_pretokenized"].startswith("public static int min (")
  assert pairs[0]["queries"][-1] == pairs[0]["passages"][-1] == 1
  assert seqio.get_mixture_or_task("csn_java_query_code_spm").output_features[
      "queries"].vocabulary is vocabularies.CODE_SPM


def test_mixtures_rate_languages_by_example_count(data):
  for objective in task_configs.CSN_OBJECTIVES:
    mixture = seqio.get_mixture_or_task(f"csn_all_{objective}")
    rates = {t.name: mixture.get_rate(t) for t in mixture.members}
    # Languages the export left out weigh 0 (the mixture was registered before it ran).
    assert rates == {**{task_configs.csn_task_name(lang, objective): 0
                        for lang in task_configs.CSN_LANGUAGES},
                     f"csn_python_{objective}": 8, f"csn_java_{objective}": 1}


def test_after_an_export_mixtures_cover_the_exported_languages(exported):
  code = ("import code_t5.mixtures, seqio\n"
          "m = seqio.get_mixture_or_task('csn_all_query_code')\n"
          "print(sorted(t.name for t in m.tasks))\n"
          "ds = m.get_dataset({'queries': 64, 'passages': 64}, split='train', shuffle=False)\n"
          "print(len({tuple(ex['queries']) for ex in ds.take(200).as_numpy_iterator()}))")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "CODE_T5_DATA_DIR": str(exported)}, timeout=120)
  assert result.returncode == 0, result.stderr[-3000:]
  assert result.stdout.split("\n")[:2] == ["['csn_java_query_code', 'csn_python_query_code']",
                                            "9"]


def test_missing_export_names_the_script(tmp_path, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  with pytest.raises(FileNotFoundError, match="code-t5-export-codesearchnet"):
    _examples("csn_go_code_to_docstring", "train")


def test_smoothed_bleu_hand_computed_cases():
  def bleu(ref, pred):
    return metrics.smoothed_bleu([ref], [pred])["smoothed_bleu"]

  # Lower-cased, punctuation split off: equal.
  assert bleu("Foo(bar).", "foo ( BAR ) .") == pytest.approx(100)
  # Worked by hand from the CodeXGLUE algorithm: 7 words each, p1 = 6/7 (no smoothing), then
  # (correct + 1) / (guess + 1): p2 = (4+1)/(6+1), p3 = (3+1)/(5+1), p4 = (2+1)/(4+1);
  # brevity min(0, 1 - 8/8) = 0.
  assert bleu("Returns the maximum of two integers.", "Returns the maximum of two tokens.") == (
      pytest.approx(100 * (6 / 7 * 5 / 7 * 4 / 6 * 3 / 5) ** 0.25))
  assert 70.347 < bleu("Returns the maximum of two integers.",
                       "Returns the maximum of two tokens.") < 70.348
  # Short prediction: every precision 1, brevity exp(1 - (6+1)/(3+1)).
  assert bleu("a b c d e f", "a b c") == pytest.approx(100 * math.exp(1 - 7 / 4))
  # The script's quirk: an empty prediction scores exp(-reference length), not 0.
  assert bleu("a b c", "") == pytest.approx(100 * math.exp(-3))
  # No shared word: p1 = 0 -> exp(log(float min) / 4) ~ 1e-77, i.e. 0.
  assert bleu("alpha beta", "gamma delta") < 1e-70
  # Averaged per sentence, not pooled.
  both = metrics.smoothed_bleu(["a b c d e f", "x y"], ["a b c", "x y"])["smoothed_bleu"]
  assert both == pytest.approx((100 * math.exp(-0.75) + 100) / 2)
  assert metrics.exact_match(["a  b"], ["a b"]) == {"exact_match": 100.0}


SOURCE_TREE = {
    "mathx/__init__.py": '''
def clamp(value, low, high):
    """Limit a value to the range between low and high."""
    # comments are not code tokens
    return max(low, min(high, value))


def tiny(x):
    """Do nothing at all, on purpose."""


def undocumented(a, b):
    total = a + b
    return total
''',
    "textx/words.py": '''
class Splitter:
    def __init__(self, sep):
        """Build a splitter for separator sep."""
        self.sep = sep

    def split_words(self, text):
        """Split the text into words at the separator."""
        parts = text.split(self.sep)
        return [p for p in parts if p]

    def test_split(self):
        """Check that splitting works as expected."""
        assert self.split_words("a b") == ["a", "b"]
''',
    "broken.py": "def broken(:\n",
}


def test_export_from_a_local_source_tree_applies_codesearchnet_filters(tmp_path):
  for rel, text in SOURCE_TREE.items():
    (tmp_path / "tree" / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tree" / rel).write_text(text.lstrip("\n"))
  out = tmp_path / "out"
  summary = codesearchnet.export(str(out), from_source_tree=str(tmp_path / "tree"),
                                 splits={"train": 1.0, "validation": 0.0, "test": 0.0})
  assert summary["languages"]["python"]["train"] == 2  # clamp, Splitter.split_words
  assert summary["skipped"]["python"]["train"] == {
      "short_function": 1, "special_method": 1, "test_function": 1}  # undocumented: no pair
  rows = {r["func_name"]: r for r in codesearchnet.read_split(str(out), "python", "train")}
  clamp = rows["clamp"]
  assert clamp["code_tokens"] == "def clamp ( value , low , high ) : return max ( low , min " \
                                 "( high , value ) )"  # no docstring, no comment
  assert clamp["docstring_tokens"] == "Limit a value to the range between low and high ."
  assert clamp["url"].endswith("mathx/__init__.py#L1-L4") and clamp["repo"].endswith("/mathx")
  assert rows["Splitter.split_words"]["code"].startswith("    def split_words(self, text):")


def test_extra_train_trees_add_training_pairs_but_never_held_out_ones(tmp_path):
  for rel, text in SOURCE_TREE.items():
    (tmp_path / "tree" / rel).parent.mkdir(parents=True, exist_ok=True)
    (tmp_path / "tree" / rel).write_text(text.lstrip("\n"))
  extra = tmp_path / "extra"
  # A vendored copy of a held-out function (other whitespace), one with its docstring only,
  # and one new function.
  (extra / "vendored").mkdir(parents=True)
  (extra / "vendored" / "copy.py").write_text(
      SOURCE_TREE["mathx/__init__.py"].lstrip("\n").replace("    return max", "    return  max"))
  (extra / "other").mkdir()
  (extra / "other" / "mod.py").write_text('''
def limit(v, lo, hi):
    """Limit a value to the range between low and high."""
    return lo if v < lo else hi if v > hi else v


def join_words(words, sep):
    """Join the words with the separator between them."""
    out = sep.join(words)
    return out
'''.lstrip("\n"))
  out = tmp_path / "out"
  summary = codesearchnet.export(str(out), from_source_tree=str(tmp_path / "tree"),
                                 splits={"train": 0.0, "validation": 0.0, "test": 1.0},
                                 extra_train_trees=[str(extra)])
  counts, skipped = summary["languages"]["python"], summary["skipped"]["python"]
  assert counts["test"] == 2  # clamp, Splitter.split_words: all held out
  train = {r["func_name"] for r in codesearchnet.read_split(str(out), "python", "train")}
  assert train == {"join_words"}
  assert skipped["train"]["overlaps_held_out"] == 2  # the copy of clamp, and limit
  assert summary["extra_train_trees"] == [str(extra)]
  with pytest.raises(FileNotFoundError, match="--extra_train_tree=.*not a folder"):
    codesearchnet.export(str(out), from_source_tree=str(tmp_path / "tree"),
                         extra_train_trees=[str(tmp_path / "missing")])
