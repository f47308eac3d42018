"""Where the full_line task cuts a file: a function of the file's text alone.

The cut does not depend on a run's seed, so `t5x.eval` (seed 42), `t5x.infer` (seed 0) and the
autocomplete replay score the same examples. The hash is SipHash-2-4 of the UTF-8 text with a
fixed key: TensorFlow's `tf.strings.to_hash_bucket_strong` computes it in the preprocessor, and
`siphash24` below computes the same number without TensorFlow (for the replay client).
"""
from typing import Optional

KEY = (0x636F64655F74355F, 0x66756C6C5F6C696E)  # b"code_t5_" and b"full_lin" as integers
BUCKETS = 2**63 - 1  # to_hash_bucket_strong's num_buckets: the hash modulo this, as an int64
_MASK = 2**64 - 1


def siphash24(key: tuple[int, int], data: bytes) -> int:
  """SipHash-2-4 (Aumasson & Bernstein), the keyed hash behind to_hash_bucket_strong."""
  k0, k1 = key
  v0, v1 = k0 ^ 0x736F6D6570736575, k1 ^ 0x646F72616E646F6D
  v2, v3 = k0 ^ 0x6C7967656E657261, k1 ^ 0x7465646279746573

  def sip_round(v0, v1, v2, v3):
    v0 = (v0 + v1) & _MASK
    v1 = ((v1 << 13) | (v1 >> 51)) & _MASK ^ v0
    v0 = ((v0 << 32) | (v0 >> 32)) & _MASK
    v2 = (v2 + v3) & _MASK
    v3 = ((v3 << 16) | (v3 >> 48)) & _MASK ^ v2
    v0 = (v0 + v3) & _MASK
    v3 = ((v3 << 21) | (v3 >> 43)) & _MASK ^ v0
    v2 = (v2 + v1) & _MASK
    v1 = ((v1 << 17) | (v1 >> 47)) & _MASK ^ v2
    v2 = ((v2 << 32) | (v2 >> 32)) & _MASK
    return v0, v1, v2, v3

  tail = len(data) % 8
  last = int.from_bytes(data[len(data) - tail:], "little") | ((len(data) & 0xFF) << 56)
  words = [int.from_bytes(data[i:i + 8], "little") for i in range(0, len(data) - tail, 8)]
  for m in words + [last]:
    v3 ^= m
    v0, v1, v2, v3 = sip_round(*sip_round(v0, v1, v2, v3))
    v0 ^= m
  v2 ^= 0xFF
  for _ in range(4):
    v0, v1, v2, v3 = sip_round(v0, v1, v2, v3)
  return v0 ^ v1 ^ v2 ^ v3


def file_hash(text: str) -> int:
  """The number the cut is drawn from: to_hash_bucket_strong(text, BUCKETS, KEY)."""
  return siphash24(KEY, text.encode("utf-8")) % BUCKETS


def cut(text: str) -> Optional[int]:
  """The full_line cut of `text` as a character offset, or None without a non-blank line.

  Lines are split on "\\n"; a candidate line has a non-space character (Python's str.isspace);
  with h = file_hash(text) and n candidates, the line is candidate h % n and the cut lies after
  its indentation, (h // n) % (its content length) characters in. inputs = text[:cut],
  targets = the rest of that line without trailing whitespace.
  """
  lines = text.split("\n")
  spans, start = [], 0  # (indent end, content end) offsets of each candidate line
  for line in lines:
    indent = len(line) - len(line.lstrip())
    content_end = len(line.rstrip())
    if content_end > indent:
      spans.append((start + indent, start + content_end))
    start += len(line) + 1
  if not spans:
    return None
  h = file_hash(text)
  begin, end = spans[h % len(spans)]
  return begin + (h // len(spans)) % (end - begin)


def example(text: str) -> Optional[tuple[str, str]]:
  """(inputs, targets) of the full_line example the task makes from `text`, or None."""
  at = cut(text)
  if at is None:
    return None
  return text[:at], text[at:].split("\n", 1)[0].rstrip()
