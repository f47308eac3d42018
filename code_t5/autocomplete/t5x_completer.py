"""Completion straight from a T5X decoder-only checkpoint, in JAX (`--model=t5x:DIR`).

Unlike a SavedModel export, decoding is picked per request: temperature 0 runs beam search
(`t5x.decoding.beam_search`, which TF cannot load from an export), above 0 samples at that
temperature (`temperature_sample`). Either way the line break is passed to T5X as the
end-of-sequence id, so a completion stops at the end of its line instead of decoding past it.

A text that ends in spaces or tabs (the cursor after `x = ` or after an indentation) is
prompted without them, and only continuations that start with them are kept, minus them: a
SentencePiece vocabulary joins a space or an indentation with the word after it (`▁b`,
`▁▁▁▁return`), so a prompt that ends in a lone space piece is one the model has rarely seen
(token healing, restricted to whitespace). When none does, the text is continued as it is.

JAX compiles once per shape: prompts are cut to their last `max_prompt_tokens` tokens and
padded to a few bucket lengths, and the number of decodes and of decode steps are bucketed too.
"""
import dataclasses
import functools
import itertools
import os
import re
from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from t5x import decoding
from t5x import models

from code_t5.data import fim
from code_t5.train import t5x_restore

# Bucket sizes: a request compiles at most once per (prompt bucket, decodes, steps, kind).
PROMPT_BUCKETS = (32, 64, 128, 256, 512, 1024)
NUM_DECODES = (4, 8, 12, 16, 24, 32, 40)
DECODE_STEPS = (16, 32, 64, 128)
# A request's k suggestions come from this many times k decodes: beams (or samples) that
# differ only past the end of the line or past max_length collapse into one suggestion.
DECODES_PER_SUGGESTION = 2
# Prompt + completion, where the run's config.gin names no targets length.
DEFAULT_CONTEXT_TOKENS = 256
# Only the text's tail is tokenised: no token spans more characters than this (SentencePiece's
# default longest piece; a byte is one character or less).
MAX_CHARS_PER_TOKEN = 16


def _bucket(options, n: int) -> int:
  return next((x for x in options if x >= n), options[-1])


@dataclasses.dataclass
class Candidate:
  """One decoded continuation: its tokens (up to and without the line break), its score (the
  decoder's: a log-probability, divided by T5X's brevity penalty for beam search) and whether
  it ended the line (False: it ran out of decode steps)."""
  tokens: list[int]
  score: float
  ended: bool


class T5XCompleter:
  """A decoder-only T5X model restored from `model_dir_or_checkpoint`: a t5x.train model dir
  (its newest checkpoint_<step>) or one checkpoint_<step> folder, with the run's config.gin
  beside it.

  `alpha`: beam search's brevity penalty (T5X's default 0.6 ranks longer lines higher; 0 ranks
  by log-probability alone). `top_k`: sampling draws among the k likeliest tokens (0: all).
  """

  name = "t5x"

  def __init__(self, model_dir_or_checkpoint: str, max_prompt_tokens: Optional[int] = None,
               max_decode_tokens: int = 64, alpha: float = 0.6, top_k: int = 40,
               seed: int = 0, warm_up: bool = True):
    checkpoint, config_path = t5x_restore.checkpoint_and_config(model_dir_or_checkpoint)
    with open(config_path) as f:
      config = t5x_restore.without_train_script(f.read())
    # T5X picks its decoding function from gin: one model object per decoding, same params.
    bindings = ["from t5x import decoding", "from t5x import models"]
    self._models = {kind: t5x_restore.build_model(gin_text=config, bindings=[
        *bindings, f"models.DecoderOnlyModel.decode_fn = @decoding.{fn}"])
                    for kind, fn in (("beam", "beam_search"), ("sample", "temperature_sample"))}
    model = self.model = self._models["sample"]  # also for callers that score text
    if not isinstance(model, models.DecoderOnlyModel):
      raise ValueError(f"{checkpoint}: its model is {type(model).__name__}, not "
                       "DecoderOnlyModel; completion needs a decoder-only language model.")
    self.vocabulary = model.output_vocabulary
    newline = self.vocabulary.encode("\n")
    if len(newline) != 1:
      raise ValueError(f"{checkpoint}: the vocabulary encodes a line break as {len(newline)} "
                       "ids; completion stops at one id (retrain the vocabulary with '\\n' as "
                       "a user-defined symbol, as code-t5-train-vocab does).")
    self.newline_id = newline[0]
    # Trained with fill-in-the-middle (a task or mixture named *fim*): it also takes a suffix.
    task = re.search(r"MIXTURE_OR_TASK_NAME = '([^']*)'", config)
    self.fim = bool(task) and "fim" in task.group(1)
    self.fim_ids = fim.sentinel_ids(self.vocabulary) if self.fim else None
    self.checkpoint = checkpoint
    # Prompt and completion fit in the length the model trained on (its run's targets length):
    # a quarter of it for the completion at most, the rest for the prompt.
    trained = re.search(r"TASK_FEATURE_LENGTHS = \{'targets': (\d+)", config)
    context = int(trained.group(1)) if trained else DEFAULT_CONTEXT_TOKENS
    self.max_decode_tokens = max_decode_tokens = min(max_decode_tokens, max(1, context // 4))
    self.max_prompt_tokens = max_prompt_tokens or context - max_decode_tokens
    if self.max_prompt_tokens < 1 or max_decode_tokens < 1:
      raise ValueError(f"max_prompt_tokens={self.max_prompt_tokens}, max_decode_tokens="
                       f"{max_decode_tokens}: both must be positive.")
    self._prompt_buckets = tuple(
        b for b in PROMPT_BUCKETS if b < self.max_prompt_tokens) + (self.max_prompt_tokens,)
    self._decode_steps = tuple(
        s for s in DECODE_STEPS if s < max_decode_tokens) + (max_decode_tokens,)
    self._alpha = alpha
    self._top_k = top_k
    length = self._prompt_buckets[-1] + self._decode_steps[-1]
    shapes = {"decoder_input_tokens": (1, length), "decoder_target_tokens": (1, length)}
    self.params = t5x_restore.restore(
        model, checkpoint, shapes, {k: jnp.int32 for k in shapes}).state.params
    self._rng = jax.random.PRNGKey(seed)
    self._calls = itertools.count()
    self._decoders: dict = {}
    if warm_up:  # the server's defaults on a long prompt: the shape most requests take
      self._decode([self.newline_id] * self.max_prompt_tokens, self._num_decodes(5),
                   min(64, max_decode_tokens), 0.0)

  def _decoder(self, kind: str, num_decodes: int, steps: int):
    """A jitted (params, tokens, causal mask, rng, temperature) -> (sequences, scores); jit
    keeps one compiled program per prompt bucket."""
    key = (kind, num_decodes, steps)
    if key not in self._decoders:
      self._decoders[key] = self._jit_decoder(*key)
    return self._decoders[key]

  def _jit_decoder(self, kind: str, num_decodes: int, steps: int):
    model = self._models[kind]

    def run(params, tokens, causal, rng, temperature):
      decoder_params = {"eos_id": self.newline_id}
      if kind == "beam":
        decoder_params.update(alpha=self._alpha, max_decode_step=steps)
      else:  # raw log-probabilities rank the samples, not the tempered ones
        decoder_params.update(temperature=temperature, topk=self._top_k, decode_rng=rng,
                              max_decode_steps=steps, rescale_log_probs=False)
      sequences, aux = model.predict_batch_with_aux(
          params, {"decoder_input_tokens": tokens, "decoder_causal_attention": causal},
          return_all_decodes=True, num_decodes=num_decodes, decoder_params=decoder_params)
      return sequences[0], aux["scores"][0]

    return jax.jit(run)

  def prompt_tokens(self, text: str, suffix: Optional[str] = None) -> list[int]:
    """The ids the model is prompted with: the text's last `max_prompt_tokens` tokens; with a
    suffix, fill-in-the-middle's PSM form, <fim_prefix> prefix <fim_suffix> suffix <fim_middle>,
    with up to a quarter of the room for the suffix's first tokens."""
    if suffix is None:
      tail = text[-MAX_CHARS_PER_TOKEN * self.max_prompt_tokens:]
      return self.vocabulary.encode(tail)[-self.max_prompt_tokens:]
    prefix_id, middle_id, suffix_id = self.fim_ids
    room = self.max_prompt_tokens - 3
    after = self.vocabulary.encode(suffix[:MAX_CHARS_PER_TOKEN * room])[:room // 4]
    before_room = room - len(after)
    before = self.vocabulary.encode(text[-MAX_CHARS_PER_TOKEN * before_room:])
    before = before[len(before) - before_room:] if len(before) > before_room else before
    return [prefix_id, *before, suffix_id, *after, middle_id]

  def decode(self, text: str, num_decodes: int, max_tokens: int, temperature: float = 0.0,
             kind: Optional[str] = None) -> list[Candidate]:
    """`num_decodes` continuations of `text`, best first, each cut at its line break:
    beam search at temperature 0, else sampling (`kind` forces either; sampling at 0 is
    greedy decoding)."""
    return self._decode(self.prompt_tokens(text), num_decodes, max_tokens, temperature, kind)

  def _num_decodes(self, k: int) -> int:
    return _bucket(NUM_DECODES, DECODES_PER_SUGGESTION * k)

  def _decode(self, prompt: list[int], num_decodes: int, max_tokens: int, temperature: float,
              kind: Optional[str] = None) -> list[Candidate]:
    if not 0 <= temperature < float("inf"):
      raise ValueError(f"temperature={temperature}: expected a finite number >= 0.")
    kind = kind or ("beam" if temperature == 0 else "sample")
    steps = _bucket(self._decode_steps, max_tokens)
    length = _bucket(self._prompt_buckets, len(prompt)) + steps
    # T5X's decoder-only layout: position 0 is BOS (id 0), the prompt follows, then the
    # completion; the causal-attention mask covers BOS and the prompt.
    tokens = np.zeros((1, length), np.int32)
    tokens[0, 1:len(prompt) + 1] = prompt
    causal = np.zeros((1, length), np.int32)
    causal[0, :len(prompt) + 1] = 1
    rng = jax.random.fold_in(self._rng, next(self._calls))
    sequences, scores = self._decoder(kind, num_decodes, steps)(
        self.params, tokens, causal, rng, jnp.float32(temperature))
    sequences, scores = np.asarray(sequences), np.asarray(scores)
    candidates = []
    for row, score in zip(sequences[::-1], scores[::-1]):  # T5X sorts worst first
      if score <= decoding.NEG_INF / 2:  # an empty beam slot: fewer lines ended than beams
        continue
      ids = row.tolist()[:max_tokens]
      stops = [i for i, t in enumerate(ids) if t in (0, self.vocabulary.eos_id,
                                                     self.newline_id)]
      # A stop at padding (0) follows a stop token; no stop: out of decode steps.
      ended = bool(stops) and ids[stops[0]] != 0
      candidates.append(Candidate(ids[:stops[0]] if stops else ids, float(score), ended))
    return candidates

  def complete(self, text: str, k: int = 5, max_length: int = 64,
               temperature: float = 0.0, suffix: Optional[str] = None) -> list[str]:
    if suffix is not None and not self.fim:
      raise ValueError(self.suffix_error())
    if k < 1:
      return []
    head = text.rstrip(" \t")
    tail = text[len(head):]  # healed: the model writes it again, then it is cut off
    suggestions = self._suggestions(head, tail, k, max_length, temperature, suffix)
    if not suggestions and tail:  # no continuation wrote the whitespace again: take it as is
      suggestions = self._suggestions(text, "", k, max_length, temperature, suffix)
    return suggestions

  def suffix_error(self) -> Optional[str]:
    if self.fim:
      return None
    return (f"{self.checkpoint} was not trained with fill-in-the-middle (its run's task has no "
            "`fim` in its name); it completes the text before the cursor only")

  def _suggestions(self, text: str, tail: str, k: int, max_length: int,
                   temperature: float, suffix: Optional[str] = None) -> list[str]:
    """Up to k distinct lines continuing `text` (before `suffix`) that start with `tail`,
    without it."""
    prompt = self.prompt_tokens(text, suffix)
    candidates = self._decode(prompt, self._num_decodes(k),
                              min(max_length + len(tail), self.max_decode_tokens), temperature)
    # Decoded after the prompt, so that a piece's leading space or a byte sequence split at
    # the boundary comes out as it does in the full text.
    prefix = self.vocabulary.decode(prompt)
    suggestions: list[str] = []
    for candidate in candidates:
      full = self.vocabulary.decode(prompt + candidate.tokens)
      rest = (full[len(prefix):] if full.startswith(prefix)
              else self.vocabulary.decode(candidate.tokens))
      if not rest.startswith(tail):
        continue
      suggestion = rest[len(tail):].split("\n", 1)[0][:max_length]
      if suggestion.strip() and suggestion not in suggestions:
        suggestions.append(suggestion)
    return suggestions[:k]

  def log_likelihoods(self, text: str, continuations: list[str]) -> list[float]:
    """log P(continuation, then the line break | text) under the model, for each continuation
    (the text's trailing spaces are scored as part of it, as `complete` heals them)."""
    if not continuations:
      return []
    most = NUM_DECODES[-1]  # rows of one compiled batch
    if len(continuations) > most:
      return (self.log_likelihoods(text, continuations[:most])
              + self.log_likelihoods(text, continuations[most:]))
    head = text.rstrip(" \t")
    tail = text[len(head):]
    prompt = self.prompt_tokens(head)
    prefix = self.vocabulary.decode(prompt)
    rows = []
    for continuation in continuations:
      full = self.vocabulary.encode(prefix + tail + continuation + "\n")
      # Tokenised together, so pieces join across the cursor as they do in a file; the
      # continuation's ids are what follows the prompt's (or, where the join moved a boundary,
      # the continuation tokenised alone).
      rest = (full[len(prompt):] if full[:len(prompt)] == prompt
              else self.vocabulary.encode(tail + continuation + "\n"))
      rows.append(rest[:self.max_decode_tokens])
    length = _bucket(self._prompt_buckets, len(prompt)) + _bucket(
        self._decode_steps, max(len(r) for r in rows))
    batch = _bucket(NUM_DECODES, len(rows))
    targets = np.zeros((batch, length), np.int32)
    weights = np.zeros((batch, length), np.float32)
    causal = np.zeros((batch, length), np.int32)
    for i, rest in enumerate(rows):
      ids = prompt + rest
      targets[i, :len(ids)] = ids
      weights[i, len(prompt):len(ids)] = 1
      causal[i, :len(prompt) + 1] = 1
    inputs = np.concatenate([np.zeros((batch, 1), np.int32), targets[:, :-1]], axis=1)
    scores = self._scorer(self.params, {
        "decoder_target_tokens": targets, "decoder_input_tokens": inputs,
        "decoder_loss_weights": weights, "decoder_causal_attention": causal})
    return [float(x) for x in np.asarray(scores)[:len(rows)]]

  @functools.cached_property
  def _scorer(self):
    return jax.jit(self.model.score_batch)

  def temperature_error(self, temperature: float) -> Optional[str]:
    del temperature  # any temperature the request schema allows
    return None
