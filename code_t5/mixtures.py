"""Mixtures over languages: `flcc[_dev]_all_<objective>[_spm]`, rated by training files."""
import functools

import seqio

from code_t5 import paths
from code_t5 import vocabularies
from code_t5.corpora import prepare
from code_t5.tasks import flcc


def rate_by_train_files(unused_task: seqio.Task, language_slug: str, dev: bool) -> float:
  """Mixing rate = the language's training files in the manifest, read when the mixture is used."""
  languages = prepare.read_manifest(paths.flcc_dir(dev))["languages"]
  return float(languages.get(language_slug, {}).get("train", {}).get("files", 0))


def register() -> None:
  for dev in (False, True):
    # Languages with prepared data; before any preparation, every registered language.
    slugs = flcc.prepared_languages(dev) or flcc.languages()
    for objective in flcc.OBJECTIVES:
      for suffix in vocabularies.BY_SUFFIX:
        name = f"flcc_{'dev_' if dev else ''}all_{objective}{suffix}"
        if name not in seqio.MixtureRegistry.names():
          seqio.MixtureRegistry.add(name, [
              (flcc.task_name(s, objective, dev, suffix),
               functools.partial(rate_by_train_files, language_slug=s, dev=dev))
              for s in slugs])


register()
