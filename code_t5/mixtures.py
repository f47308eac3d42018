"""`import code_t5.mixtures` registers the mixtures (and the tasks they mix), each once per
vocabulary suffix as the tasks (`[_spm]` below stands for `_spm`, `_t5` and `_hf` too):

- `flcc[_dev]_all_<objective>[_spm]`: every FLCC language (of the dataset, or of the dev one);
- `flcc[_dev]_<language>_lm_fim[_spm]`: the `lm` and `fim` tasks of one language, half each
  (the decoder-only FIM recipe: a quarter of its examples reordered; the `fim` task alone
  reorders half, StarCoder's share);
- `flcc[_dev]_<language>_ul2[_spm]`: UL2's R, X and S denoisers (`_ul2_r`, `_ul2_x`,
  `_ul2_s`, data/ul2.py) of one language, a third each;
- `code_and_text[_dev]_span_corruption[_spm]`: wikitext plus those FLCC languages;
- `csn_all_{code_to_docstring,docstring_to_code,query_code}[_spm]`: every CodeSearchNet
  language;
- `conala_code_generation_with_mined[_spm]`: curated plus mined CoNaLa code generation.

Members are fixed (the same whatever is on disk). Rates are example counts, read from the
manifests and export summaries when a mixture is built, not at import; members without data
(a language not prepared) get rate 0 and are left out of the dataset then.
"""
from typing import Sequence

import seqio

from code_t5 import tasks  # noqa: F401  (registers the tasks mixed here)
from code_t5.data import task_configs
from code_t5.data import ul2
from code_t5.data import vocabularies


def examples_rate(task: seqio.Task, split: str = "train") -> float:
  """seqio.mixing_rate_num_examples, with 0 (not an error) for a task whose data is absent."""
  if task.cache_dir:
    return float(task.get_cached_stats(split)["examples"])
  return float(task.num_input_examples(split) or 0)


class PreparedMembersMixture(seqio.Mixture):
  """A mixture whose `tasks` are, once registered, only the members with data: a mixture over
  every language then trains and evaluates on the prepared ones."""

  def __init__(self, name: str, tasks: Sequence[str], **kwargs):
    self._registered = False  # seqio's __init__ checks self.tasks: all members until then
    self._building = None  # while get_dataset runs: {task name: rate}, computed once
    super().__init__(name, tasks, **kwargs)
    self._registered = True

  def get_rate(self, task: seqio.Task) -> float:
    if self._building is not None:
      return self._building[task.name]
    return super().get_rate(task)

  def get_dataset(self, *args, **kwargs):
    """seqio's, with each member's rate computed once for the whole build (seqio asks for
    `tasks` and each rate several times while it builds)."""
    self._building = {t.name: super(PreparedMembersMixture, self).get_rate(t)
                      for t in self.members}
    try:
      return super().get_dataset(*args, **kwargs)
    finally:
      self._building = None

  @property
  def members(self) -> list[seqio.Task]:
    return super().tasks

  @property
  def tasks(self) -> list[seqio.Task]:
    members = self.members
    if not self._registered:
      return members
    kept = [t for t in members if self.get_rate(t) > 0]
    if not kept:
      try:  # the first member's own error names the command that prepares its data
        members[0].source.list_shards("train")
      except FileNotFoundError as e:
        raise FileNotFoundError(f"mixture {self.name}: none of its {len(members)} tasks has "
                                f"data. {e}") from None
      raise FileNotFoundError(f"mixture {self.name}: none of its {len(members)} tasks has "
                              "examples; prepare or export its data first.")
    return kept

  @property
  def output_features(self):
    return self.members[0].output_features  # the same for all members (checked by seqio)


def _add(name: str, members: list[str]) -> None:
  if name not in seqio.MixtureRegistry.names():
    seqio.MixtureRegistry.add(name, members, default_rate=examples_rate,
                              mixture_cls=PreparedMembersMixture)


def register() -> None:
  """Adds every mixture not yet registered (importing this module calls it)."""
  for suffix in vocabularies.BY_SUFFIX:
    for dev in (False, True):
      prefix = "dev_" if dev else ""
      for objective in task_configs.FLCC_OBJECTIVES:
        _add(f"flcc_{prefix}all_{objective}{suffix}",
             [task_configs.flcc_task_name(s, objective, dev, suffix)
              for s in task_configs.FLCC_LANGUAGES])
      for s in task_configs.FLCC_LANGUAGES:
        _add(task_configs.flcc_task_name(s, "lm_fim", dev, suffix),
             [task_configs.flcc_task_name(s, objective, dev, suffix) for objective in ("lm", "fim")])
        _add(task_configs.flcc_task_name(s, "ul2", dev, suffix),
             [task_configs.flcc_task_name(s, f"ul2_{p}", dev, suffix) for p in ul2.MODE_TOKENS])
      _add(f"code_and_text_{prefix}span_corruption{suffix}",
           [f"wikitext_span_corruption{suffix}"] +
           [task_configs.flcc_task_name(s, "span_corruption", dev, suffix)
            for s in task_configs.FLCC_LANGUAGES])
    for objective in task_configs.CSN_OBJECTIVES:
      _add(f"csn_all_{objective}{suffix}",
           [task_configs.csn_task_name(lang, objective, suffix)
            for lang in task_configs.CSN_LANGUAGES])
    _add(f"conala_code_generation_with_mined{suffix}",
         [f"conala_code_generation{suffix}", f"conala_mined_code_generation{suffix}"])


register()
