import seqio
import tensorflow as tf

from code_t5 import preprocessors


def _full_line(texts, seed=7):
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
  text = "def f():\n    return 'héllo wörld'  \n\nprint(f())\n"
  lines = text.split("\n")
  seen = set()
  for seed in range(40):
    (ex,) = _full_line([text], seed)
    inputs, targets = ex["inputs"], ex["targets"]
    assert text.startswith(inputs + targets)
    assert targets and "\n" not in targets and targets == targets.rstrip()
    line = lines[inputs.count("\n")]
    prefix = inputs.split("\n")[-1]
    assert line.rstrip() == prefix + targets and targets.strip()
    assert len(prefix) >= len(line) - len(line.lstrip())  # never inside the indentation
    seen.add((inputs.count("\n"), len(targets)))
  assert len(seen) > 10  # many different cut points


def test_full_line_is_deterministic_for_a_seed():
  texts = ["\n".join(f"line_{i} = {i} * 2" for i in range(50))] * 3
  assert _full_line(texts, seed=3) == _full_line(texts, seed=3)
  assert _full_line(texts, seed=3) != _full_line(texts, seed=4)


def test_trim_inputs_left_keeps_the_end_and_room_for_eos():
  ds = tf.data.Dataset.from_tensors({"inputs": tf.range(10), "targets": tf.constant([1, 2])})
  features = {"inputs": seqio.Feature(seqio.PassThroughVocabulary(20), add_eos=True),
              "targets": seqio.Feature(seqio.PassThroughVocabulary(20), add_eos=True)}
  (ex,) = list(preprocessors.trim_inputs_left(ds, {"inputs": 5, "targets": 4}, features))
  assert ex["inputs"].numpy().tolist() == [6, 7, 8, 9]
  assert ex["targets"].numpy().tolist() == [1, 2]
  (same,) = list(preprocessors.trim_inputs_left(ds, None, features))
  assert same["inputs"].numpy().tolist() == list(range(10))
