"""Model-free baselines for `conala_rewrite_intent`, scored beside the model on the same examples.

The task's postprocessor keeps each target's inputs (`with_inputs`), so its metric function
(`conala_bleu_with_baselines`) scores the model and every baseline against the same references:

- `copy_intent`: the intent unchanged; a model that does not beat it has learnt nothing useful;
- `copy_snippet`: the code unchanged, a sanity check (it shares the names and literals that
  rewritten intents quote, so it is not near zero);
- `intent_and_literals`: the intent without its question words ("How can I ...?", "in
  python"), then the snippet's variable names in backticks and its string literals, as
  rewritten intents quote them. The rule was chosen on curated train only.
"""
import builtins
import keyword
import re
from typing import Any, Callable, Mapping, Optional, Sequence

from code_t5.data import metrics

_QUESTION = re.compile(
    r"^\s*(?:python\s*[23]?\s*[-:]\s*)?(?:how\s+(?:to|do\s+(?:i|you|we)|can\s+(?:i|you|we)|"
    r"would\s+(?:i|you))\s+|what\s+is\s+the\s+(?:best|easiest|simplest|fastest|pythonic|"
    r"most\s+\w+)\s+way\s+to\s+|is\s+there\s+an?\s+(?:\w+\s+)?way\s+to\s+)?", re.I)
_TAIL = re.compile(r"\s*(?:(?:in|with|using)\s+python\s*[23]?(?:\.\d+)?)?\s*[?.!]*\s*$", re.I)
_STRING = re.compile(r"""'(?:\\.|[^'\\])*'|"(?:\\.|[^"\\])*\"""")
# A name that is neither an attribute, a call, an object with attributes, nor a keyword argument.
_VARIABLE = re.compile(r"(?<![\w.])[A-Za-z_]\w*(?![\w(.])(?!\s*=[^=])")
_NOT_VARIABLES = frozenset(keyword.kwlist) | frozenset(dir(builtins))


def split_inputs(inputs: str) -> tuple[str, str]:
  """(intent, snippet) from the task's inputs, `intent + "\\n" + snippet`."""
  intent, _, snippet = inputs.partition("\n")
  return intent, snippet


def copy_intent(intent: str, snippet: str) -> str:
  del snippet
  return intent


def copy_snippet(intent: str, snippet: str) -> str:
  del intent
  return snippet


def intent_and_literals(intent: str, snippet: str) -> str:
  cleaned = _TAIL.sub("", _QUESTION.sub("", intent, count=1)) or intent
  cleaned = cleaned[:1].lower() + cleaned[1:]
  strings = list(dict.fromkeys(_STRING.findall(snippet)))
  names = list(dict.fromkeys(n for n in _VARIABLE.findall(_STRING.sub(" ", snippet))
                             if n not in _NOT_VARIABLES))
  return " ".join([cleaned] + [f"`{n}`" for n in names] + strings)


BASELINES: dict[str, Callable[[str, str], str]] = {
    "copy_intent": copy_intent, "copy_snippet": copy_snippet,
    "intent_and_literals": intent_and_literals}


def with_inputs(output: str, example: Optional[Mapping[str, Any]] = None,
                is_target: bool = False) -> Any:
  """seqio postprocess_fn: a target becomes {"target", "inputs"} (the example's pretokenized
  inputs), so the metric can run the baselines on them; predictions pass unchanged."""
  if not is_target:
    return output
  inputs = example["inputs_pretokenized"]
  return {"target": output, "inputs": inputs.decode("utf-8") if isinstance(inputs, bytes)
          else inputs}


def conala_bleu_with_baselines(targets: Sequence[Mapping[str, str]],
                               predictions: Sequence[str]) -> dict:
  """`metrics.conala_bleu` of the predictions, and CoNaLa BLEU / exact match of each baseline
  on the same examples (`conala_bleu_baseline_<name>`, ...), and the model's BLEU minus the
  best baseline's (`conala_bleu_minus_best_baseline`: below 0, the model is not useful)."""
  references = [t["target"] for t in targets]
  scores = metrics.conala_bleu(references, predictions)
  for name, baseline in BASELINES.items():
    outputs = [baseline(*split_inputs(t["inputs"])) for t in targets]
    baseline_scores = metrics.conala_bleu(references, outputs)
    for metric in ("conala_bleu", "conala_exact_match"):
      scores[f"{metric}_baseline_{name}"] = baseline_scores[metric]
  scores["conala_bleu_minus_best_baseline"] = scores["conala_bleu"] - max(
      scores[f"conala_bleu_baseline_{name}"] for name in BASELINES)
  return scores
