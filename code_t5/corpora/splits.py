"""Split by hash: a key (a repository name) always lands in the same split, whatever the run,
the machine or the order of the files, so no repository is in two splits."""
import hashlib
from typing import Sequence

Splits = Sequence[tuple[str, float]]
DEFAULT_SPLITS = (("train", 0.9), ("validation", 0.05), ("test", 0.05))
# The split names every corpus and task uses, in this order.
SPLITS = tuple(name for name, _ in DEFAULT_SPLITS)


def parse_splits(spec: str) -> tuple[tuple[str, float], ...]:
  """"train=0.9,validation=0.05,test=0.05" -> (("train", 0.9), ...), checked to sum to 1."""
  try:
    splits = tuple((name.strip(), float(value)) for name, value in
                   (part.split("=") for part in spec.split(",")))
  except ValueError:
    raise ValueError(f"--splits {spec!r}: expected name=fraction pairs joined by commas, "
                     "e.g. train=0.9,validation=0.05,test=0.05") from None
  if abs(sum(f for _, f in splits) - 1) > 1e-6 or any(f < 0 for _, f in splits):
    raise ValueError(f"--splits {spec!r}: fractions must be >= 0 and sum to 1.")
  return splits


def split_of(key: str, splits: Splits = DEFAULT_SPLITS, low_digits: bool = False) -> str:
  """The split of `key`: SHA-256 of its UTF-8 bytes mapped onto [0, 1), then onto the
  cumulative fractions (the last split takes any rounding remainder).

  The point is the hash's first 60 bits; with `low_digits`, its last six decimal digits
  instead, which CodeSearchNet's local export has always used (its published pair counts
  depend on that assignment)."""
  digest = hashlib.sha256(key.encode("utf-8")).hexdigest()
  point = (int(digest, 16) % 10**6 / 10**6 if low_digits else int(digest[:15], 16) / 16**15)
  cumulative = 0.0
  for name, fraction in splits:
    cumulative += fraction
    if point < cumulative:
      return name
  return splits[-1][0]
