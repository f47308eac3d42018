"""Metrics as seqio metric functions: (targets, predictions) -> {name: value}."""
import collections
import math
import re
import sys
import xml.sax.saxutils
from typing import Sequence

from rapidfuzz import fuzz


# CodeXGLUE Code-Code/CodeCompletion-line/evaluator/evaluator.py, per example: the prediction is
# stripped, both sides get `post_process`, exact match compares whitespace tokens, and edit
# similarity is fuzzywuzzy's fuzz.ratio: an integer (round half to even) of 100 x the indel
# similarity (python-Levenshtein's ratio, which rapidfuzz's fuzz.ratio computes), 100 for two
# equal strings and 0 when one is empty. The evaluator prints each mean rounded to 2 decimals.
_LITERAL = re.compile(r"<(STR|NUM|CHAR)_LIT:(.*?)>", re.S)


def codexglue_post_process(code: str) -> str:
  """The evaluator's `post_process`: literal placeholders back to code. <NUM_LIT> -> 0,
  <STR_LIT> and <CHAR_LIT> -> nothing, <STR_LIT:abc> (or NUM, CHAR) -> abc."""
  code = code.replace("<NUM_LIT>", "0").replace("<STR_LIT>", "").replace("<CHAR_LIT>", "")
  for kind, value in _LITERAL.findall(code):
    code = code.replace(f"<{kind}_LIT:{value}>", value)
  return code


def codexglue_line_scores(target: str, prediction: str) -> tuple[bool, int]:
  """(exact match, edit similarity 0-100) of one example, as CodeXGLUE's evaluator counts it."""
  prediction = codexglue_post_process(prediction.strip())
  target = codexglue_post_process(target)
  return prediction.split() == target.split(), round(fuzz.ratio(prediction, target))


def codexglue_exact_match(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """CodeXGLUE line-level exact match (its stripping and literal post-processing), 0-100."""
  hits = sum(codexglue_line_scores(t, p)[0] for t, p in zip(targets, predictions, strict=True))
  return {"codexglue_exact_match": 100.0 * hits / max(len(targets), 1)}


def codexglue_edit_similarity(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """CodeXGLUE line-level edit similarity: the mean of per-example integer fuzz.ratio, 0-100."""
  total = sum(codexglue_line_scores(t, p)[1] for t, p in zip(targets, predictions, strict=True))
  return {"codexglue_edit_similarity": total / max(len(targets), 1)}


def exact_match(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """Ours: equal whitespace-separated tokens, as a percentage; unlike `codexglue_exact_match`,
  no literal post-processing."""
  hits = sum(t.split() == p.split() for t, p in zip(targets, predictions, strict=True))
  return {"exact_match": 100.0 * hits / max(len(targets), 1)}


def edit_similarity(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """Ours: mean Levenshtein (indel) ratio, 0-100, on the raw strings; unlike
  `codexglue_edit_similarity`, no stripping, no literal post-processing, no rounding."""
  total = sum(fuzz.ratio(p, t) for t, p in zip(targets, predictions, strict=True))
  return {"edit_similarity": total / max(len(targets), 1)}


def conala_tokenize(code: str) -> list[str]:
  """conala-baseline's `tokenize_for_bleu_eval`: split punctuation and camelCase, quotes -> `."""
  code = re.sub(r"([^A-Za-z0-9_])", r" \1 ", code)
  code = re.sub(r"([a-z])([A-Z])", r"\1 \2", code)
  code = re.sub(r"\s+", " ", code)
  code = code.replace('"', "`").replace("'", "`")
  return [t for t in code.split(" ") if t]


def _ngrams(tokens: list[str], max_order: int) -> collections.Counter:
  return collections.Counter(tuple(tokens[i:i + n]) for n in range(1, max_order + 1)
                             for i in range(len(tokens) - n + 1))


def corpus_bleu(references: Sequence[list[str]], translations: Sequence[list[str]],
                max_order: int = 4) -> float:
  """Corpus BLEU as conala-baseline's bleu_score.compute_bleu (smooth=False), in [0, 1]:
  clipped n-gram precisions pooled over the corpus, their geometric mean (0 if any is 0),
  times the brevity penalty exp(1 - 1/ratio) when the translations are not longer."""
  matches, possible = [0] * max_order, [0] * max_order
  reference_length = translation_length = 0
  for reference, translation in zip(references, translations, strict=True):
    reference_length += len(reference)
    translation_length += len(translation)
    overlap = _ngrams(translation, max_order) & _ngrams(reference, max_order)
    for ngram, count in overlap.items():
      matches[len(ngram) - 1] += count
    for n in range(1, max_order + 1):
      possible[n - 1] += max(len(translation) - n + 1, 0)
  precisions = [m / p if p else 0.0 for m, p in zip(matches, possible)]
  if min(precisions) == 0 or reference_length == 0:
    return 0.0
  geo_mean = math.exp(sum(math.log(p) for p in precisions) / max_order)
  ratio = translation_length / reference_length
  return geo_mean * (1.0 if ratio > 1.0 else math.exp(1 - 1 / ratio))


def conala_bleu(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """The official CoNaLa metrics (x100): corpus BLEU-4 and exact match on conala tokens, plus
  sacrebleu's BLEU for reference (its own tokenizer, so not comparable to published CoNaLa)."""
  import sacrebleu  # pylint: disable=g-import-not-at-top
  refs = [conala_tokenize(t) for t in targets]
  hyps = [conala_tokenize(p) for p in predictions]
  hits = sum(r == h for r, h in zip(refs, hyps))
  return {"conala_bleu": 100 * corpus_bleu(refs, hyps),
          "conala_exact_match": 100.0 * hits / max(len(refs), 1),
          "sacrebleu": sacrebleu.corpus_bleu(list(predictions), [list(targets)]).score}


# CodeXGLUE code-to-text / CodeT5 evaluator/smooth_bleu.py (after MOSES' bleu.py by hieuhoang1972).
_NORMALIZE = [(re.compile(p), r) for p, r in (
    (r"<skipped>", ""), (r"-\n", ""), (r"\n", " "))]
_TOKENIZE = [(re.compile(p), r) for p, r in (
    (r"([\{-\~\[-\` -\&\(-\+\:-\@\/])", r" \1 "), (r"([^0-9])([\.,])", r"\1 \2 "),
    (r"([\.,])([^0-9])", r" \1 \2"), (r"([0-9])(-)", r"\1 \2 "))]
_QUOT = {"&quot;": '"'}


def _smooth_bleu_words(text: str) -> list[str]:
  """splitPuncts(text.strip().lower()), then the script's NIST-style `normalize`."""
  text = " ".join(re.findall(r"[\w]+|[^\s\w]", text.strip().lower()))
  for pattern, replace in _NORMALIZE:
    text = pattern.sub(replace, text)
  text = f" {xml.sax.saxutils.unescape(text, _QUOT)} ".lower()
  for pattern, replace in _TOKENIZE:
    text = pattern.sub(replace, text)
  return text.split()


def sentence_smooth_bleu(reference: str, prediction: str, max_order: int = 4) -> float:
  """The script's bleu([reference], prediction), in [0, 1]: +1 on the counts of n > 1 (Lin &
  Och), brevity penalty exp(min(0, 1 - (ref_len + 1) / (pred_len + 1)))."""
  ref, hyp = _smooth_bleu_words(reference), _smooth_bleu_words(prediction)
  overlap = _ngrams(hyp, max_order) & _ngrams(ref, max_order)
  log_bleu = 0.0
  for n in range(1, max_order + 1):
    correct = sum(c for g, c in overlap.items() if len(g) == n)
    guess = max(len(hyp) - n + 1, 0)
    add = 1 if n > 1 else 0
    tiny = sys.float_info.min
    log_bleu += math.log(correct + add + tiny) - math.log(guess + add + tiny)
  brevity = min(0.0, 1 - (len(ref) + 1) / (len(hyp) + 1))
  return math.exp(log_bleu / max_order + brevity)


def smoothed_bleu(targets: Sequence[str], predictions: Sequence[str]) -> dict:
  """CodeXGLUE/CodeT5 code-to-text BLEU-4: sentence smoothed BLEU averaged over examples, x100
  (bleuFromMaps(...)[0])."""
  scores = [sentence_smooth_bleu(t, p) for t, p in zip(targets, predictions, strict=True)]
  return {"smoothed_bleu": 100.0 * sum(scores) / max(len(scores), 1)}
