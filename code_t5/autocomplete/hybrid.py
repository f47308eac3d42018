"""The hybrid completer (`--model=hybrid:ngram:DIR,t5x:DIR[,weight=W]`): the word n-gram's and
the T5X model's candidates for the rest of the line, pooled and ranked by a linear
interpolation, weight * n-gram score + (1 - weight) * P_model(candidate and the line break).

The n-gram recalls whole lines it has seen; the model scores every candidate in the file's
context (beyond the n-gram's two words) and adds lines the n-gram never saw. The weight is fit
on held-out queries that are not the test files (`fit_weight`, over the validation split in
benchmarks/autocomplete.py); the scores of each query's candidates are computed once, so the
fit is a grid search over stored numbers.
"""
import dataclasses
import math
from typing import Iterable, Optional, Sequence

from code_t5.autocomplete import completers
from code_t5.autocomplete import replay

WEIGHTS = tuple(round(0.1 * i, 1) for i in range(11))


@dataclasses.dataclass
class Candidate:
  text: str
  ngram: float  # the n-gram's backoff score, 0 when it did not propose the text
  log_p_model: float  # the model's log-probability of the text, then the line break


def interpolated(candidate: Candidate, weight: float) -> float:
  return weight * candidate.ngram + (1 - weight) * math.exp(candidate.log_p_model)


def ranked(candidates: Sequence[Candidate], weight: float) -> list[str]:
  """Candidate texts, best first (ties keep the pooled order: the n-gram's first)."""
  order = sorted(range(len(candidates)),
                 key=lambda i: (-interpolated(candidates[i], weight), i))
  return [candidates[i].text for i in order]


class HybridCompleter:
  """`ngram`: an NGramCompleter; `model`: a T5XCompleter (anything with `complete` and
  `log_likelihoods`). Each request pools the n-gram's `ngram_candidates` likeliest rests and
  the model's beam-search lines for k."""

  name = "hybrid"

  def __init__(self, ngram: completers.NGramCompleter, model, weight: float = 0.5,
               ngram_candidates: int = 16):
    if not 0 <= weight <= 1:
      raise ValueError(f"weight={weight}: the n-gram's share must be between 0 and 1")
    self.ngram, self.model, self.weight = ngram, model, weight
    self.ngram_candidates = ngram_candidates

  def candidates(self, text: str, k: int = 4, max_length: int = 64,
                 model_lines: Optional[list[str]] = None) -> list[Candidate]:
    """The pooled candidates of `text`, each scored by both sides (`model_lines`: the model's
    own suggestions, when the caller has them already)."""
    pooled = dict(self.ngram.scored(text, self.ngram_candidates, max_length))
    if model_lines is None:
      model_lines = self.model.complete(text, k=k, max_length=max_length)
    for line in model_lines:
      pooled.setdefault(line, 0.0)
    texts = list(pooled)
    log_ps = self.model.log_likelihoods(text, texts)
    return [Candidate(t, pooled[t], lp) for t, lp in zip(texts, log_ps)]

  def complete(self, text: str, k: int = 5, max_length: int = 64,
               temperature: float = 0.0) -> list[str]:
    del temperature
    return ranked(self.candidates(text, k, max_length), self.weight)[:k]

  def temperature_error(self, temperature: float) -> Optional[str]:
    if temperature == 0:
      return None
    return "the hybrid ranks the n-gram's and the model's lines; send 0 or leave it out"


def scores(queries: Sequence[replay.Query], suggestions: Sequence[list[str]]) -> dict:
  """The strict protocol's exact next word, EM and edit similarity of these answers."""
  return replay.strict_scores(list(zip(queries, suggestions)))


def fit_weight(queries: Sequence[replay.Query], candidates: Sequence[list[Candidate]],
               weights: Iterable[float] = WEIGHTS) -> tuple[float, list[dict]]:
  """The weight with the best exact next word (then EM) on these queries, and every weight's
  scores."""
  table = [{"weight": w, **scores(queries, [ranked(c, w) for c in candidates])}
           for w in weights]
  best = max(table, key=lambda r: (r["exact_next_word"], r["full_line_exact_match"],
                                   -abs(r["weight"] - 0.5)))
  return best["weight"], table
