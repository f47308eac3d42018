import json

import pytest

from code_t5.data import metrics

# CodeXGLUE Code-Code/CodeCompletion-line/evaluator: the "gt" of each line of answers.json and
# each line of predictions.txt. Its README: `Edit sim: 43.8, EM: 0.0`.
CODEXGLUE_ANSWERS = [
    '{"id": 4755, "gt": "owner , final Point location )"}',
    '{"id": 4644, "gt": "> models ;"}',
    '{"id": 2276, "gt": "= <NUM_LIT:0> ;"}',
    '{"id": 5322, "gt": "CallHierarchyMessages . SearchScopeActionGroup_workspace_tooltip ) ;"}',
    '{"id": 2970, "gt": "Ex1 > in1 ;"}',
]
CODEXGLUE_PREDICTIONS = "owner )\n> openToxModels ;\n= string . length ( ) ;\n\"<STR_LIT>\" ) ;\n? > in ;\n"


def test_codexglue_sample_gives_the_official_numbers():
  targets = [json.loads(line)["gt"] for line in CODEXGLUE_ANSWERS]
  predictions = CODEXGLUE_PREDICTIONS.splitlines(keepends=True)  # the evaluator's readlines()
  edit_sim = metrics.codexglue_edit_similarity(targets, predictions)["codexglue_edit_similarity"]
  assert round(edit_sim, 2) == 43.8 and edit_sim == (38 + 67 + 26 + 14 + 74) / 5
  assert metrics.codexglue_exact_match(targets, predictions) == {"codexglue_exact_match": 0.0}
  # Ours differs: no post-processing of <NUM_LIT:0> and "<STR_LIT>", no rounding.
  ours = metrics.edit_similarity(targets, [p.strip() for p in predictions])["edit_similarity"]
  assert round(ours, 2) == 42.74


@pytest.mark.parametrize("target, prediction, exact, similarity", [
    # post_process: <NUM_LIT> -> 0, <STR_LIT>/<CHAR_LIT> -> "", <X_LIT:v> -> v, on both sides.
    ("x = <NUM_LIT:1> ;", "x = 1 ;", True, 100),
    ('print ( "<STR_LIT:hello>" )', 'print ( "hello" )', True, 100),
    ("s = '<STR_LIT>'", "s = ''", True, 100),
    ("c = '<CHAR_LIT:a>'", "c = 'a'", True, 100),
    ("n = <NUM_LIT>", "n = 0", True, 100),
    ("n = <NUM_LIT>", "n = <NUM_LIT:0>", True, 100),
    # The prediction is stripped (the target is not); EM compares whitespace tokens.
    ("return x", "  return   x \n", True, 89),  # "return   x" vs "return x": 16/18
    ("a b", "a\tb", True, 67),
    # fuzz.ratio as an integer, round half to even: "ab" vs "abc" 80; "abcd" vs "abed" 75.
    ("abcd", "abed", False, 75),
    ("abc", "ab", False, 80),
    ("abcdefghij", "abcdefghi", False, 95),  # 94.74 -> 95
    ("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMN", "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLM",
     False, 99),  # 98.73 -> 99
    # Ties round half to even (fuzzywuzzy's int(round(x))): 2/16 -> 12.5 -> 12, 6/16 -> 38.
    ("aXXXXXXX", "aYYYYYYY", False, 12),
    ("abcXXXXX", "abcYYYYY", False, 38),
    ("", "", True, 100),
    ("x", "", False, 0),
    ("x", "   ", False, 0),
])
def test_codexglue_transcribed_cases(target, prediction, exact, similarity):
  assert metrics.codexglue_line_scores(target, prediction) == (exact, similarity)


def test_exact_match_compares_whitespace_tokens():
  assert metrics.exact_match(["a = b", "x(1)", "y"], ["a  =  b ", "x( 1)", "y"]) == {
      "exact_match": pytest.approx(200 / 3)}


def test_edit_similarity_is_the_levenshtein_ratio_in_percent():
  # "abcd" vs "abed": indel distance 2 over 8 characters -> 75.
  assert metrics.edit_similarity(["abcd", "same"], ["abed", "same"]) == {
      "edit_similarity": pytest.approx((75 + 100) / 2)}
  assert metrics.edit_similarity(["abc"], [""]) == {"edit_similarity": 0.0}


def test_lengths_must_match():
  for fn in (metrics.exact_match, metrics.codexglue_exact_match,
             metrics.codexglue_edit_similarity):
    with pytest.raises(ValueError):
      fn(["a"], [])


def test_score_full_line_splits_text_files_on_newlines_only(tmp_path):
  from code_t5.train import full_line_predictions as scoring  # pylint: disable=g-import-not-at-top
  from conftest import run_command  # pylint: disable=g-import-not-at-top
  targets, predictions = tmp_path / "t.txt", tmp_path / "p.txt"
  # A form feed, U+2028 and U+0085 are line breaks to str.splitlines, not inside a completion.
  targets.write_bytes("x = '\x0c'\nprint(a\u2028b)\r\nz\x85 = 1\n".encode())
  predictions.write_bytes("x = '\x0c'\nprint(a b)\r\nz\x85 = 2".encode())
  assert scoring.read_text_pairs(str(targets), str(predictions)) == (
      ["x = '\x0c'", "print(a\u2028b)", "z\x85 = 1"], ["x = '\x0c'", "print(a b)", "z\x85 = 2"])
  result = run_command("score-full-line", f"--predictions={predictions}", f"--targets={targets}")
  assert result.returncode == 0, result.stderr
  scores = json.loads(result.stdout)
  assert scores["examples"] == 3
  # U+2028 separates tokens for str.split, so "print(a\u2028b)" matches "print(a b)".
  assert scores["codexglue_exact_match"] == scores["exact_match"] == pytest.approx(200 / 3)
  assert scores["codexglue_edit_similarity"] == (100 + 90 + 83) / 3  # 18/20, 10/12: integers
