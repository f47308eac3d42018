"""Small tf.data preprocessors for code tasks (the objectives themselves come from t5)."""
from typing import Mapping, Optional

import seqio
import tensorflow as tf

from code_t5.data import full_line_cut


# Python's str.isspace() set (RE2's \s lacks \v, \x1c-\x1f, \x85 and Unicode spaces), so
# "blank" means the same here as in the metrics and tests.
_SPACE = r"[\t\n\x0b\x0c\r\x1c-\x1f \x{85}\p{Z}]"


@seqio.map_over_dataset
def _cut_inside_line(features: Mapping[str, tf.Tensor]) -> dict:
  """Cuts after the indentation of a non-blank line, where `full_line_cut.cut` says.

  The line and the point depend only on a hash of the text, not on the run's seed, so every
  run (eval, infer, the replay) scores the same examples. inputs = all text before that point;
  targets = the rest of the line without the newline or trailing whitespace. Positions count
  UTF-8 characters, so a cut never splits one. A text without a non-blank line gets empty
  targets (dropped by `full_line`).
  """
  text = features["text"]
  lines = tf.strings.split(text, "\n")
  num_chars = tf.strings.length(lines, unit="UTF8_CHAR")
  indent = num_chars - tf.strings.length(
      tf.strings.regex_replace(lines, f"^{_SPACE}+", ""), unit="UTF8_CHAR")
  content_end = tf.strings.length(tf.strings.regex_replace(lines, f"{_SPACE}+$", ""),
                                  unit="UTF8_CHAR")
  candidates = tf.where(content_end > indent)[:, 0]
  num_candidates = tf.size(candidates, out_type=tf.int64)
  candidates = tf.concat([candidates, [0]], 0)  # a valid index even when there is no candidate
  h = tf.strings.to_hash_bucket_strong(text, full_line_cut.BUCKETS, key=list(full_line_cut.KEY))
  per_line = tf.maximum(num_candidates, 1)
  line = tf.cast(tf.gather(candidates, h % per_line), tf.int32)
  line_start = tf.reduce_sum(num_chars[:line] + 1)
  start, end = tf.gather(indent, line), tf.gather(content_end, line)
  width = tf.cast(tf.maximum(end - start, 1), tf.int64)
  cut = start + tf.cast((h // per_line) % width, tf.int32)
  has_line = num_candidates > 0
  out = {k: v for k, v in features.items() if k != "text"}  # the file lives on in `inputs`
  out["inputs"] = tf.strings.substr(text, 0, line_start + cut, unit="UTF8_CHAR")
  out["targets"] = tf.where(has_line,
                            tf.strings.substr(text, line_start + cut, end - cut,
                                              unit="UTF8_CHAR"), "")
  return out


def full_line(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Full-line completion: text before a cut inside a line -> the rest of that line."""
  return _cut_inside_line(dataset).filter(lambda x: tf.strings.length(x["targets"]) > 0)


def trim_inputs_left(dataset: tf.data.Dataset,
                     sequence_length: Optional[Mapping[str, int]],
                     output_features: Mapping[str, seqio.Feature]) -> tf.data.Dataset:
  """Keeps the end of tokenized `inputs` (the context nearest the cut), leaving room for EOS."""
  if not sequence_length or sequence_length.get("inputs") is None:
    return dataset
  keep = sequence_length["inputs"] - int(output_features["inputs"].add_eos)
  if keep <= 0:
    raise ValueError(f"inputs length {sequence_length['inputs']} leaves no room for context.")

  def _trim(features):
    features = dict(features)
    features["inputs"] = features["inputs"][-keep:]
    return features

  return dataset.map(_trim, num_parallel_calls=tf.data.AUTOTUNE)


def rebuild_pretokenized(dataset: tf.data.Dataset,
                         output_features: Mapping[str, seqio.Feature]) -> tf.data.Dataset:
  """Sets `<feature>_pretokenized` to the decoded tokens after an unsupervised objective.

  t5's objectives drop the raw text (select_random_chunk keeps only tokens), and evaluation
  (Mesh TF `eval` mode, seqio's evaluator) reads `targets_pretokenized` for a task with
  metrics. Decoding every sequence is costly, so only such tasks use it.
  """

  def _rebuild(features):
    features = dict(features)
    for key, feature in output_features.items():
      if key in features:
        features[f"{key}_pretokenized"] = feature.vocabulary.decode_tf(features[key])
    return features

  return dataset.map(_rebuild, num_parallel_calls=tf.data.AUTOTUNE)


@seqio.map_over_dataset
def conala_rewrite_intent(features: Mapping[str, tf.Tensor]) -> dict:
  """inputs = intent + "\\n" + snippet, targets = rewritten_intent ("" for mined pairs)."""
  out = dict(features)
  out["inputs"] = tf.strings.join([features["intent"], "\n", features["snippet"]])
  out["targets"] = features.get("rewritten_intent", tf.constant(""))
  return out


@seqio.map_over_dataset
def conala_code_generation(features: Mapping[str, tf.Tensor]) -> dict:
  """inputs = rewritten_intent (the intent where there is none), targets = snippet."""
  rewritten = features.get("rewritten_intent", tf.constant(""))
  out = dict(features)
  out["inputs"] = tf.where(tf.strings.length(tf.strings.strip(rewritten)) > 0, rewritten,
                           features["intent"])
  out["targets"] = features["snippet"]
  return out


def drop_empty_targets(dataset: tf.data.Dataset) -> tf.data.Dataset:
  """Drops examples whose targets are blank (CoNaLa rows without a rewritten intent; the
  export counts them)."""
  return dataset.filter(lambda x: tf.strings.length(tf.strings.strip(x["targets"])) > 0)


def require_sentinels(dataset: tf.data.Dataset,
                      output_features: Mapping[str, seqio.Feature]) -> tf.data.Dataset:
  """Fails when the pipeline is built if a vocabulary has no place for span corruption's
  sentinels (a Hugging Face tokenizer without T5's `<extra_id_N>` tokens at the last ids):
  training would otherwise teach ordinary tokens as sentinels. Vocabularies that may lack them
  say why through `sentinel_problem()` (code_t5.data.hf_vocabulary); the others always have
  them (seqio's extra ids, or the checked public T5 model)."""
  for name, feature in output_features.items():
    check = getattr(feature.vocabulary, "sentinel_problem", None)
    problem = check() if check else None
    if problem:
      raise ValueError(f"span corruption ({name!r}): {problem}")
  return dataset
