"""seqio's in-memory checks (`seqio.test_utils`): each preprocessor's exact output on a few
examples, and a whole task's pipeline on an in-memory source, without any file on disk."""
import seqio
from seqio import test_utils
import tensorflow as tf

from code_t5.data import preprocessors

ROWS = [
    {"intent": "zip lists", "rewritten_intent": "zip `a` and `b`", "snippet": "zip(a, b)"},
    {"intent": "reverse a list", "rewritten_intent": "", "snippet": "l[::-1]"},
    {"intent": "sort a dict", "rewritten_intent": "  ", "snippet": "sorted(d.items())"},
]


def _ds(rows):
  return tf.data.Dataset.from_tensor_slices({k: [r[k] for r in rows] for k in rows[0]})


def test_conala_rewrite_intent_then_drop_empty_targets():
  out = preprocessors.drop_empty_targets(preprocessors.conala_rewrite_intent(_ds(ROWS)))
  test_utils.assert_dataset(out, [{**ROWS[0], "inputs": "zip lists\nzip(a, b)",
                                   "targets": "zip `a` and `b`"}])


def test_conala_code_generation_falls_back_to_the_intent():
  out = preprocessors.conala_code_generation(_ds(ROWS))
  test_utils.assert_dataset(out, [
      {**ROWS[0], "inputs": "zip `a` and `b`", "targets": "zip(a, b)"},
      {**ROWS[1], "inputs": "reverse a list", "targets": "l[::-1]"},
      {**ROWS[2], "inputs": "sort a dict", "targets": "sorted(d.items())"},
  ])


def test_trim_inputs_left_keeps_the_end_of_the_prefix_and_room_for_eos():
  ds = tf.data.Dataset.from_tensors({"inputs": tf.range(10), "targets": tf.constant([7, 8])})
  features = {k: seqio.Feature(seqio.PassThroughVocabulary(100)) for k in ("inputs", "targets")}
  out = preprocessors.trim_inputs_left(ds, {"inputs": 4, "targets": 8}, features)
  test_utils.assert_dataset(out, [{"inputs": [7, 8, 9], "targets": [7, 8]}])


def test_a_task_pipeline_on_an_in_memory_source():
  """The CoNaLa rewrite chain (rewrite -> drop empty -> tokenize -> append EOS) as a seqio task
  on a FunctionDataSource: the exact token ids, with the byte vocabulary."""
  vocab = seqio.ByteVocabulary()
  name = "code_t5_test_conala_in_memory"
  seqio.TaskRegistry.remove(name)
  task = seqio.TaskRegistry.add(
      name, source=seqio.FunctionDataSource(lambda split, shuffle_files: _ds(ROWS),
                                            splits=["train"]),
      preprocessors=[preprocessors.conala_rewrite_intent, preprocessors.drop_empty_targets,
                     seqio.preprocessors.tokenize, seqio.preprocessors.append_eos_after_trim],
      output_features={"inputs": seqio.Feature(vocab), "targets": seqio.Feature(vocab)})
  try:
    test_utils.assert_dataset(
        task.get_dataset({"inputs": 64, "targets": 8}, split="train", shuffle=False),
        [{**{k: v.encode() for k, v in ROWS[0].items()},
          "inputs_pretokenized": b"zip lists\nzip(a, b)",
          "targets_pretokenized": b"zip `a` and `b`",
          "inputs": vocab.encode("zip lists\nzip(a, b)") + [1],
          "targets": vocab.encode("zip `a` and `b`")[:7] + [1]}])
  finally:
    seqio.TaskRegistry.remove(name)
