import seqio
import tensorflow as tf

from code_t5.data import full_line_cut
from code_t5.data import preprocessors


def _full_line(texts, seed=7):
  """full_line under seqio's seed manager, as t5x runs it."""
  ds = tf.data.Dataset.from_tensor_slices({"text": texts, "path": ["p"] * len(texts)})
  with seqio.utils.map_seed_manager(seed):
    out = preprocessors.full_line(ds)
  return [{k: v.numpy().decode() for k, v in ex.items()} for ex in out]


def test_full_line_exact_outputs_where_only_one_cut_is_possible():
  assert _full_line(["\n\n    x  \n", "\ty\r\n", "a"]) == [
      {"inputs": "\n\n    ", "targets": "x", "path": "p"},
      {"inputs": "\t", "targets": "y", "path": "p"},
      {"inputs": "", "targets": "a", "path": "p"},
  ]


def test_full_line_drops_texts_without_a_non_blank_line():
  assert _full_line(["", "\n \n\t\n", "z"]) == [{"inputs": "", "targets": "z", "path": "p"}]


def test_full_line_cuts_inside_a_line_and_counts_characters_not_bytes():
  seen = set()
  texts = [f"def f():\n    return 'héllo wörld'  \n\nprint(f({i}))\n" for i in range(40)]
  for text, ex in zip(texts, _full_line(texts), strict=True):  # the cut depends on the text
    lines = text.split("\n")
    inputs, targets = ex["inputs"], ex["targets"]
    assert text.startswith(inputs + targets)
    assert targets and "\n" not in targets and targets == targets.rstrip()
    line = lines[inputs.count("\n")]
    prefix = inputs.split("\n")[-1]
    assert line.rstrip() == prefix + targets and targets.strip()
    assert len(prefix) >= len(line) - len(line.lstrip())  # never inside the indentation
    seen.add((inputs.count("\n"), len(targets)))
  assert len(seen) > 10  # many different cut points


TEXTS = ["\n".join(f"line_{i} = {i} * 2" for i in range(50)),
         "# Licence\r\n\r\nimport os\r\n\tx = 'é€😀'\u2028y  \x0c\n  \n",
         "a", "\u3000x\u00a0y\u2029\n\x1c z\x85"]


def test_full_line_cut_is_a_function_of_the_file_not_of_the_seed():
  # t5x.eval seeds with 42 and t5x.infer with 0: both must score the same examples.
  assert _full_line(TEXTS, seed=42) == _full_line(TEXTS, seed=0)
  texts = [f"x = {i}\ny = f(x, {i})\n" for i in range(30)]
  assert len({(ex["inputs"], ex["targets"]) for ex in _full_line(texts, seed=42)}) == 30


def test_full_line_cut_matches_the_pure_python_reference():
  """The replay client computes the same cut without TensorFlow."""
  texts = TEXTS + ["", "\n \n"] + [f"for i in range({n}):\n    print(i, 'ü' * {n})\n" * 3
                                     for n in range(20)]
  expected = [full_line_cut.example(t) for t in texts]
  assert [(ex["inputs"], ex["targets"]) for ex in _full_line(texts)] == [
      e for e in expected if e is not None]
  assert expected[0] is not None and full_line_cut.example("") is None


def test_siphash_matches_the_reference_vector_and_tensorflow():
  key = (int.from_bytes(bytes(range(8)), "little"), int.from_bytes(bytes(range(8, 16)), "little"))
  assert full_line_cut.siphash24(key, bytes(range(15))) == 0xa129ca6149be45e5  # the paper's
  texts = ["", "abc", "12345678", "héllo wörld 😀" * 5]
  hashes = tf.strings.to_hash_bucket_strong(texts, full_line_cut.BUCKETS, key=list(full_line_cut.KEY))
  assert hashes.numpy().tolist() == [full_line_cut.file_hash(t) for t in texts]


def test_trim_inputs_left_keeps_the_end_and_room_for_eos():
  ds = tf.data.Dataset.from_tensors({"inputs": tf.range(10), "targets": tf.constant([1, 2])})
  features = {"inputs": seqio.Feature(seqio.PassThroughVocabulary(20), add_eos=True),
              "targets": seqio.Feature(seqio.PassThroughVocabulary(20), add_eos=True)}
  (ex,) = list(preprocessors.trim_inputs_left(ds, {"inputs": 5, "targets": 4}, features))
  assert ex["inputs"].numpy().tolist() == [6, 7, 8, 9]
  assert ex["targets"].numpy().tolist() == [1, 2]
  (same,) = list(preprocessors.trim_inputs_left(ds, None, features))
  assert same["inputs"].numpy().tolist() == list(range(10))
