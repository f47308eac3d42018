"""Scores full-line predictions written by `t5x.infer` (JSON lines) or as plain text files."""
import glob
import json

from code_t5.data import metrics


class PredictionsError(ValueError):
  """A predictions file that cannot be scored, with the file and line."""


def read_t5x_predictions(pattern: str) -> tuple[list[str], list[str]]:
  """(targets, predictions) from t5x.infer's `<task>-predict.jsonl-*` files."""
  files = sorted(p for p in glob.glob(pattern) if not p.endswith(".COMPLETED"))
  if not files:
    raise PredictionsError(f"{pattern}: no predictions file; run t5x.infer with "
                           "code_t5/gin_configs/t5x/runs/infer.gin first.")
  targets, predictions = [], []
  for path in files:
    with open(path, encoding="utf-8") as f:
      for number, line in enumerate(f, 1):
        try:
          record = json.loads(line)
          targets.append(record["inputs"]["targets_pretokenized"])
          predictions.append(record["prediction"])
        except (ValueError, KeyError, TypeError) as e:
          raise PredictionsError(
              f"{path}:{number}: not a t5x.infer prediction ({e!r}); expected "
              '{"inputs": {"targets_pretokenized": ...}, "prediction": ...} per line.') from None
  return targets, predictions


def _read_lines(path: str) -> list[str]:
  """The lines of a text file split on "\\n" only: a form feed or U+2028 inside a completion
  stays in it (str.splitlines would start a new example there). One trailing "\\n" ends the
  last line; a "\\r" before each "\\n" (CRLF files) is dropped."""
  with open(path, encoding="utf-8", newline="") as f:
    text = f.read()
  if not text:
    return []
  lines = text[:-1].split("\n") if text.endswith("\n") else text.split("\n")
  return [line[:-1] if line.endswith("\r") else line for line in lines]


def read_text_pairs(targets_path: str, predictions_path: str) -> tuple[list[str], list[str]]:
  """One target and one prediction per line (e.g. Mesh TF's decode_from_file output)."""
  targets, predictions = _read_lines(targets_path), _read_lines(predictions_path)
  if len(targets) != len(predictions):
    raise PredictionsError(f"{predictions_path}: {len(predictions)} lines, but {targets_path} "
                           f"has {len(targets)}; the files must pair line by line.")
  return targets, predictions


def score(targets: list[str], predictions: list[str]) -> dict:
  """CodeXGLUE line-level exact match and edit similarity (its evaluator's definitions), then
  ours (raw strings, no rounding), all 0-100."""
  return {"examples": len(targets), **metrics.codexglue_exact_match(targets, predictions),
          **metrics.codexglue_edit_similarity(targets, predictions),
          **metrics.exact_match(targets, predictions),
          **metrics.edit_similarity(targets, predictions)}
