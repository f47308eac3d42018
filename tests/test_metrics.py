import pytest

from code_t5 import metrics


def test_exact_match_compares_whitespace_tokens():
  assert metrics.exact_match(["a = b", "x(1)", "y"], ["a  =  b ", "x( 1)", "y"]) == {
      "exact_match": pytest.approx(200 / 3)}


def test_edit_similarity_is_the_levenshtein_ratio_in_percent():
  # "abcd" vs "abed": indel distance 2 over 8 characters -> 75.
  assert metrics.edit_similarity(["abcd", "same"], ["abed", "same"]) == {
      "edit_similarity": pytest.approx((75 + 100) / 2)}
  assert metrics.edit_similarity(["abc"], [""]) == {"edit_similarity": 0.0}


def test_lengths_must_match():
  with pytest.raises(ValueError):
    metrics.exact_match(["a"], [])
