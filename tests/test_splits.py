"""The one split-by-hash function, and that both of its callers kept their assignments."""
import hashlib

import pytest

from code_t5.corpora import splits

CSN_TREE_SPLITS = {"train": 0.8, "validation": 0.1, "test": 0.1}  # codesearchnet's default


def _flcc_before(repo, fractions):
  """prepare.split_of as it was before the two copies became one (first 60 bits)."""
  point = int(hashlib.sha256(repo.encode("utf-8")).hexdigest()[:15], 16) / 16**15
  cumulative = 0.0
  for name, fraction in fractions:
    cumulative += fraction
    if point < cumulative:
      return name
  return fractions[-1][0]


def _csn_before(repo, fractions):
  """CodeSearchNet's own bucket as it was (last six decimal digits), SPLITS[-1] = test."""
  bucket = int(hashlib.sha256(repo.encode()).hexdigest(), 16) % 10**6 / 10**6
  cumulative, split = 0.0, "test"
  for name, fraction in fractions.items():
    cumulative += fraction
    if bucket < cumulative:
      return name
  return split


REPOS = [f"owner{i % 7}/repo{i}" for i in range(3000)] + ["JetBrains/kotlin", "python3.11/json",
                                                          "python3.11/asyncio", "dev/null"]


def test_flcc_preparation_keeps_its_split_assignment():
  for fractions in (splits.DEFAULT_SPLITS, (("train", 0.5), ("validation", 0.25),
                                            ("test", 0.25))):
    assert [splits.split_of(r, fractions) for r in REPOS] == [
        _flcc_before(r, fractions) for r in REPOS]


def test_codesearchnet_keeps_its_split_assignment():
  assert [splits.split_of(r, CSN_TREE_SPLITS.items(), low_digits=True) for r in REPOS] == [
      _csn_before(r, CSN_TREE_SPLITS) for r in REPOS]
  # The two points differ: dropping low_digits would move CodeSearchNet's functions.
  assert any(splits.split_of(r, CSN_TREE_SPLITS.items()) != _csn_before(r, CSN_TREE_SPLITS)
             for r in REPOS)


def test_split_is_a_stable_function_of_the_repository():
  counts = {}
  for i in range(4000):
    split = splits.split_of(f"owner/repo{i}")
    counts[split] = counts.get(split, 0) + 1
  assert abs(counts["train"] / 4000 - 0.9) < 0.02
  assert abs(counts["validation"] / 4000 - 0.05) < 0.015
  assert splits.split_of("x", (("a", 0.0), ("b", 1.0))) == "b"
  assert splits.split_of("x", (("a", 1.0), ("b", 0.0))) == "a"


def test_parse_splits_rejects_bad_specs():
  assert splits.parse_splits("train=0.8,validation=0.1,test=0.1")[0] == ("train", 0.8)
  for bad in ("train=0.5", "train:1", "train=1.5,test=-0.5"):
    with pytest.raises(ValueError, match="--splits"):
      splits.parse_splits(bad)
