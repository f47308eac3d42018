"""UL2's mixture of denoisers (Tay et al. 2022, "UL2: Unifying Language Learning Paradigms"),
built from t5's own objectives with UL2's mode tokens before the inputs:

- R (regular, `[NLU]`): span corruption, mean span 3, 15 % noise (T5's);
- X (extreme, `[NLG]`): span corruption, mean span 64, 50 % noise;
- S (sequential, `[S2S]`): prefix LM, the continuation of a prefix.

UL2 mixes seven settings (R: 3/15 %, 8/15 %; X: 3/50 %, 8/50 %, 64/15 %, 64/50 %; S); this
package keeps one per paradigm, mixed in equal shares (mixtures.py: `flcc[_dev]_<lang>_ul2`).
The mode token is text, encoded by the task's vocabulary; the objective is given an inputs
length shorter by its ids, so nothing of the inputs is trimmed to make room for it. Where the
targets length is too short for a paradigm's noise (X at 50 %), its inputs are shortened to fit.
"""
import seqio
import tensorflow as tf

from code_t5.data.t5_compat import t5_preprocessors

MODE_TOKENS = {"r": "[NLU]", "x": "[NLG]", "s": "[S2S]"}
# Span corruption's (mean span length, noise density) per paradigm; S is t5's prefix LM.
SPANS = {"r": (3.0, 0.15), "x": (64.0, 0.5)}


def fitting_inputs_length(inputs: int, targets: int, mean: float, density: float) -> int:
  """The longest inputs length up to `inputs` whose span-corruption targets (t5's own count)
  fit in `targets`: X masks half the inputs, so with short targets it takes shorter inputs
  instead of failing (t5 refuses targets longer than their feature)."""
  for length in range(inputs, 1, -1):
    _, needed = t5_preprocessors.random_spans_helper(
        inputs_length=length, noise_density=density, mean_noise_span_length=mean,
        extra_tokens_per_span_inputs=1, extra_tokens_per_span_targets=1)
    if needed <= targets:
      return length
  raise ValueError(f"targets length {targets} is too short for span corruption with mean "
                   f"span {mean} and noise density {density}.")


def denoiser(paradigm: str):
  """The seqio preprocessor of one UL2 paradigm ('r', 'x' or 's'): its objective, then its
  mode token's ids before the inputs."""
  token = MODE_TOKENS[paradigm]

  def preprocess(dataset: tf.data.Dataset, sequence_length, output_features):
    ids = list(output_features["inputs"].vocabulary.encode(token))
    inputs = sequence_length["inputs"] - len(ids)
    if paradigm == "s":
      dataset = t5_preprocessors.prefix_lm(dataset, {**sequence_length, "inputs": inputs},
                                           output_features)
    else:
      mean, density = SPANS[paradigm]
      inputs = fitting_inputs_length(inputs, sequence_length["targets"], mean, density)
      dataset = t5_preprocessors.span_corruption(
          dataset, {**sequence_length, "inputs": inputs}, output_features,
          mean_noise_span_length=mean, noise_density=density)
    prefix = tf.constant(ids, tf.int32)

    def prepend(ex):
      return {**ex, "inputs": tf.concat([prefix, tf.cast(ex["inputs"], tf.int32)], axis=0)}
    return dataset.map(prepend, num_parallel_calls=tf.data.AUTOTUNE)

  preprocess.__name__ = f"ul2_{paradigm}_denoiser"
  return preprocess


def chain(paradigm: str, tokenize_text: list, require_sentinels) -> list:
  """The task's preprocessors: text tokenized, the denoiser, EOS after the trim (span
  corruption needs the vocabulary's sentinels; prefix LM does not)."""
  return tokenize_text + ([require_sentinels] if paradigm != "s" else []) + [
      denoiser(paradigm), seqio.preprocessors.append_eos_after_trim]
