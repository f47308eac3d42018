"""FLCC tasks: `flcc[_dev]_<language>_<objective>[_spm]`, registered on import.

The data location is resolved when a dataset is read (CODE_T5_DATA_DIR or the gin-bound
`code_t5.paths.data_dir.root`), so tasks can be registered before it is known.
"""
import functools
import json
import os

import seqio

from code_t5 import metrics
from code_t5 import paths
from code_t5 import preprocessors
from code_t5 import sources
from code_t5 import vocabularies
from code_t5.corpora import prepare
from code_t5.t5_compat import t5_preprocessors

# Registered even before any data is prepared; languages found in a prepared manifest join them.
DEFAULT_LANGUAGES = ("python", "java", "kotlin", "javascript", "typescript", "go", "c", "cpp",
                     "csharp", "rust", "ruby", "php", "scala", "shell")
OBJECTIVES = ("span_corruption", "prefix_lm", "lm", "full_line")


def _output_features(vocab, objective: str) -> dict:
  targets = seqio.Feature(vocabulary=vocab, add_eos=True)
  if objective == "lm":
    return {"targets": targets}
  return {"inputs": seqio.Feature(vocabulary=vocab, add_eos=True, required=False),
          "targets": targets}


_TEXT_TO_TARGETS = functools.partial(seqio.preprocessors.rekey,
                                     key_map={"inputs": None, "targets": "text"})
_TOKENIZE_TEXT_TO_TARGETS = [_TEXT_TO_TARGETS, seqio.preprocessors.tokenize,
                             seqio.CacheDatasetPlaceholder()]
PREPROCESSORS = {
    "span_corruption": _TOKENIZE_TEXT_TO_TARGETS + [
        t5_preprocessors.span_corruption, seqio.preprocessors.append_eos_after_trim],
    # t5's ordering: inputs = the prefix, targets = its continuation. Its metric reads
    # targets_pretokenized, which the objective drops: rebuilt (only here: it costs ~3x).
    "prefix_lm": _TOKENIZE_TEXT_TO_TARGETS + [
        t5_preprocessors.prefix_lm, preprocessors.rebuild_pretokenized,
        seqio.preprocessors.append_eos_after_trim],
    "lm": _TOKENIZE_TEXT_TO_TARGETS + [t5_preprocessors.full_lm],
    "full_line": [seqio.CacheDatasetPlaceholder(), preprocessors.full_line,
                  seqio.preprocessors.tokenize, preprocessors.trim_inputs_left,
                  seqio.preprocessors.append_eos_after_trim],
}
# prefix_lm: how close the predicted continuation is (its targets are rebuilt after the objective).
# full_line: CodeXGLUE's line-level metrics, then ours (raw strings, unrounded) beside them.
METRICS = {"full_line": [metrics.codexglue_exact_match, metrics.codexglue_edit_similarity,
                         metrics.exact_match, metrics.edit_similarity],
           "prefix_lm": [metrics.edit_similarity]}


def task_name(language_slug: str, objective: str, dev: bool = False,
              vocab_suffix: str = "") -> str:
  return f"flcc_{'dev_' if dev else ''}{language_slug}_{objective}{vocab_suffix}"


def prepared_languages(dev: bool) -> list[str]:
  """Language slugs in the manifest of the prepared data under the current data dir."""
  manifest = os.path.join(paths.flcc_dir(dev), prepare.MANIFEST)
  if not os.path.exists(manifest):
    return []
  with open(manifest) as f:
    return sorted(json.load(f).get("languages", {}))


def languages() -> list[str]:
  return sorted(set(DEFAULT_LANGUAGES).union(prepared_languages(False), prepared_languages(True)))


def register() -> None:
  for slug in languages():
    for dev in (False, True):
      source = sources.PreparedFlccSource(slug, dev=dev)
      for objective in OBJECTIVES:
        for suffix, vocab in vocabularies.BY_SUFFIX.items():
          name = task_name(slug, objective, dev, suffix)
          if name in seqio.TaskRegistry.names():
            continue
          seqio.TaskRegistry.add(
              name, source=source, preprocessors=PREPROCESSORS[objective],
              output_features=_output_features(vocab, objective),
              metric_fns=METRICS.get(objective, []))


register()
