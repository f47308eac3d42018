"""CodeSearchNet tasks over the exported JSON lines (scripts/export_codesearchnet.py), per
language (python, java, javascript, go, php, ruby), on the space-joined token lists:

- `csn_<lang>_code_to_docstring`: code_tokens -> docstring_tokens (CodeXGLUE code-to-text;
  smoothed BLEU-4 and exact match);
- `csn_<lang>_docstring_to_code`: docstring_tokens -> code_tokens;
- `csn_<lang>_query_code`: pairs for contrastive (dual-encoder) training, features `queries`
  (docstring_tokens) and `passages` (code_tokens); evaluate with code_t5.retrieval.

`url` is kept beside the features to join predictions back to functions. Mixtures over the
languages are in code_t5/mixtures.py.
"""
import functools
from typing import Optional

import seqio

from code_t5 import metrics
from code_t5 import paths
from code_t5 import sources
from code_t5 import vocabularies
from code_t5.corpora import codesearchnet

HINT = ("Export it first: python scripts/export_codesearchnet.py --from_disk=<folder of "
        "*.jsonl[.gz] in the Hugging Face code_search_net schema> (or without it, from the hub).")
LANGUAGES = codesearchnet.LANGUAGES
FIELDS = ("url", "code_tokens", "docstring_tokens")
# objective -> {output feature: exported field}.
OBJECTIVES = {
    "code_to_docstring": {"inputs": "code_tokens", "targets": "docstring_tokens"},
    "docstring_to_code": {"inputs": "docstring_tokens", "targets": "code_tokens"},
    "query_code": {"queries": "docstring_tokens", "passages": "code_tokens"},
}
METRICS = {"code_to_docstring": [metrics.smoothed_bleu, metrics.exact_match],
           "docstring_to_code": [metrics.exact_match], "query_code": []}


def task_name(language: str, objective: str, suffix: str = "") -> str:
  return f"csn_{language}_{objective}{suffix}"


def exported_rows(language: str, split: str) -> Optional[int]:
  """Rows of an exported split, from the export summary (None before any export; 0 for a
  language it left out, so mixtures over every language give it no weight)."""
  try:
    summary = codesearchnet.read_summary(paths.codesearchnet_dir())
  except FileNotFoundError:
    return None
  return summary["languages"].get(language, {}).get(split, 0)


def exported_languages() -> list[str]:
  """Languages of the last export (empty before any)."""
  try:
    return list(codesearchnet.read_summary(paths.codesearchnet_dir())["languages"])
  except FileNotFoundError:
    return []


def _source(language: str) -> sources.JsonLinesSource:
  return sources.JsonLinesSource(
      path_fn=lambda split: codesearchnet.output_path(paths.codesearchnet_dir(), language,
                                                      split),
      fields=FIELDS, count_fn=lambda split: exported_rows(language, split),
      missing_hint=HINT, splits=codesearchnet.SPLITS)


for language in LANGUAGES:
  for suffix, vocab in vocabularies.BY_SUFFIX.items():
    for objective, key_map in OBJECTIVES.items():
      seqio.TaskRegistry.add(
          task_name(language, objective, suffix), source=_source(language),
          output_features={k: seqio.Feature(vocab, add_eos=True) for k in key_map},
          preprocessors=[
              functools.partial(seqio.preprocessors.rekey, key_map={**key_map, "url": "url"}),
              seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(),
              seqio.preprocessors.append_eos_after_trim],
          metric_fns=METRICS[objective])
