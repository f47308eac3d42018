"""Code completers behind the /autocomplete server.

A completer maps the text before the cursor to k suggestions, each the continuation up to the
end of the line. `NGramCompleter` is a deterministic word n-gram model built from source files:
the baseline a trained model has to beat, and the stand-in the server is tested with.
`T5XCompleter` (code_t5.autocomplete.t5x_completer, needs T5X) decodes a checkpoint in JAX.

Each completer says whether it honours a request's temperature: `temperature_error` gives the
one-line reason it cannot (the server answers 422 with it), or None.
"""
import collections
import re
from typing import Iterable, Optional, Protocol

_WORD = re.compile(r"\S+")
BACKOFF = 0.4  # the n-gram's score for a shorter context (Brants et al. 2007)


class Completer(Protocol):
  name: str

  def complete(self, text: str, k: int, max_length: int, temperature: float) -> list[str]:
    ...

  def temperature_error(self, temperature: float) -> Optional[str]:
    """Asked only for requests that set temperature: None when this completer decodes at
    `temperature` as asked, else why not, in one line."""


def suffix_error(completer) -> Optional[str]:
  """None when `completer` completes between a prefix and a suffix (fill-in-the-middle), else
  why not, in one line."""
  check = getattr(completer, "suffix_error", None)
  if check is None:
    return (f"the {getattr(completer, 'name', 'model')} completer continues the text before "
            "the cursor only; fill-in-the-middle needs a t5x model trained with FIM "
            "(dev_decoder_only_fim.gin)")
  return check()


class NGramCompleter:
  """Counts, for each run of up to `order - 1` words, the rest of the line that followed it.

  Suggestions back off from the longest context to shorter ones; ties are broken by text, so
  the output is deterministic (a temperature above 0 is refused). Only the `keep` likeliest
  rests per context and first character are kept, so a request costs the same on any corpus
  size.
  """

  name = "ngram"

  def __init__(self, texts: Iterable[str], order: int = 3, max_words: int = 8, keep: int = 32):
    self._order = order
    counts = collections.defaultdict(collections.Counter)
    for text in texts:
      for line in text.splitlines():
        words = line.split()
        for i in range(len(words)):
          rest = " ".join(words[i:i + max_words])
          for n in range(0, order):
            if i - n >= 0:
              counts[tuple(words[i - n:i])][rest] += 1
    # context -> first character of the rest ("" for any) -> likeliest (rest, count), best
    # first; and context -> how often it was seen (the denominator of a rest's frequency).
    self._next: dict = {}
    self._seen: dict = {}
    for context, rests in counts.items():
      by_char = collections.defaultdict(list)
      for rest, count in sorted(rests.items(), key=lambda kv: (-kv[1], kv[0])):
        for key in ("", rest[0]):
          if len(by_char[key]) < keep:
            by_char[key].append((rest, count))
      self._next[context] = dict(by_char)
      self._seen[context] = sum(rests.values())

  def complete(self, text: str, k: int = 5, max_length: int = 64,
               temperature: float = 0.0) -> list[str]:
    del temperature
    return [suggestion for suggestion, _ in self.scored(text, k, max_length)]

  def scored(self, text: str, k: int = 5, max_length: int = 64) -> list[tuple[str, float]]:
    """Up to k suggestions, best first, each with its score: the rest's frequency after the
    longest context that proposes it, times BACKOFF for each word of context dropped ("stupid
    backoff", Brants et al. 2007; a score, not a normalised probability)."""
    line = text.rsplit("\n", 1)[-1]
    words = _WORD.findall(line)
    at_word_start = not line or line[-1].isspace()
    if not at_word_start and words:  # complete the word being typed: use it as a prefix
      partial, words = words[-1], words[:-1]
    else:
      partial = ""
    longest = min(self._order - 1, len(words))
    suggestions: dict[str, float] = {}
    for n in range(longest, -1, -1):
      context = tuple(words[len(words) - n:])
      rests = self._next.get(context, {}).get(partial[:1], [])
      for rest, count in rests:
        if rest.startswith(partial) and rest != partial:
          suggestion = rest[len(partial):][:max_length]
          if suggestion not in suggestions:
            suggestions[suggestion] = count / self._seen[context] * BACKOFF ** (longest - n)
        if len(suggestions) == k:
          return list(suggestions.items())
    return list(suggestions.items())

  def temperature_error(self, temperature: float) -> Optional[str]:
    if temperature == 0:
      return None
    return "the ngram model is deterministic; send 0 or leave it out"


class SavedModelCompleter:
  """A model exported as a TF SavedModel, run from Python (no TF Serving needed):

  - T5X (`python -m t5x.export` with runs/export_lm.gin): signature `serving_default`,
    `text_batch` -> `output_0` (BEAM_SIZE completions) and `output_1` (their scores, worst
    first), so k > 1 gives up to BEAM_SIZE distinct suggestions, best first.
  - Mesh TF (`utils.run.mode='export_infer'`): `inputs` -> `outputs`, one continuation.

  Decoding settings (temperature, number of completions) are fixed at export time, so a
  request that sets temperature is refused; each suggestion is cut at the end of its first
  line and at `max_length` characters.
  """

  name = "savedmodel"

  def __init__(self, export_dir: str):
    import glob  # pylint: disable=g-import-not-at-top
    import os  # pylint: disable=g-import-not-at-top
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    # Both trainers write <export dir>/<version or timestamp>/saved_model.pb: take the newest.
    candidates = sorted(glob.glob(os.path.join(export_dir, "*", "saved_model.pb")),
                        key=lambda p: (len(p), p))
    path = os.path.dirname(candidates[-1]) if candidates else export_dir
    if not os.path.exists(os.path.join(path, "saved_model.pb")):
      raise FileNotFoundError(f"{export_dir}: no saved_model.pb (export one as README.md, "
                              "'Autocomplete', shows).")
    self._tf = tf
    self._predict = tf.saved_model.load(path).signatures["serving_default"]
    self._input = next(iter(self._predict.structured_input_signature[1]))

  def raw_outputs(self, text: str) -> list[bytes]:
    """The export's completions for `text`, best first, before any cut."""
    outputs = self._predict(**{self._input: self._tf.constant([text])})
    if "outputs" in outputs:  # Mesh TF
      return [outputs["outputs"].numpy()[0]]
    order = self._tf.argsort(outputs["output_1"][0], direction="DESCENDING").numpy()
    return [outputs["output_0"].numpy()[0][i] for i in order]

  def complete(self, text: str, k: int = 5, max_length: int = 64,
               temperature: float = 0.0) -> list[str]:
    del temperature  # fixed by the export
    suggestions: list[str] = []
    for output in self.raw_outputs(text):
      suggestion = output.decode("utf-8", "replace").split("\n", 1)[0][:max_length]
      if suggestion.strip() and suggestion not in suggestions:
        suggestions.append(suggestion)
    return suggestions[:k]

  def temperature_error(self, temperature: float) -> Optional[str]:
    del temperature  # even 0: the export samples at the temperature it was exported with
    return ("an export fixes its decoding when exported; leave it out, re-export at another "
            "one (T5X: --gin.TEMPERATURE=<t>) or serve the checkpoint with --model=t5x:<dir>")
