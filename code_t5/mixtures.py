"""Mixtures, rated by example counts (seqio.mixing_rate_num_examples):

- `flcc[_dev]_all_<objective>[_spm]`: every prepared language of FLCC (or of the dev dataset);
- `code_and_text[_dev]_span_corruption[_spm]`: wikitext plus those FLCC languages;
- `csn_all_{code_to_docstring,docstring_to_code,query_code}[_spm]`: every exported
  CodeSearchNet language.
"""
import seqio

from code_t5 import vocabularies
from code_t5.tasks import codesearchnet
from code_t5.tasks import flcc


def _add(name: str, tasks: list[str]) -> None:
  if name not in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.add(name, tasks, default_rate=seqio.mixing_rate_num_examples)


def register() -> None:
  for dev in (False, True):
    # Languages with prepared data; before any preparation, every registered language.
    slugs = flcc.prepared_languages(dev) or flcc.languages()
    prefix = "dev_" if dev else ""
    for suffix in vocabularies.BY_SUFFIX:
      for objective in flcc.OBJECTIVES:
        _add(f"flcc_{prefix}all_{objective}{suffix}",
             [flcc.task_name(s, objective, dev, suffix) for s in slugs])
      _add(f"code_and_text_{prefix}span_corruption{suffix}",
           [f"wikitext_span_corruption{suffix}"] +
           [flcc.task_name(s, "span_corruption", dev, suffix) for s in slugs])
  # Exported languages; before any export, all of them.
  languages = codesearchnet.exported_languages() or codesearchnet.LANGUAGES
  for suffix in vocabularies.BY_SUFFIX:
    for objective in codesearchnet.OBJECTIVES:
      _add(f"csn_all_{objective}{suffix}",
           [codesearchnet.task_name(lang, objective, suffix) for lang in languages])


register()
