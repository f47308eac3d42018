"""`import code_t5.tasks` registers every task (t5's `t5.data.tasks` habit): each config of
code_t5.data.task_configs once per vocabulary of vocabularies.BY_SUFFIX: `<name>` (bytes),
`<name>_spm`, `<name>_t5` and `<name>_hf` (the tokenizer of a converted HF checkpoint).

  flcc[_dev]_<language>_{span_corruption,prefix_lm,lm,full_line}   all 103 FLCC languages
  wikitext_span_corruption
  conala_{rewrite_intent,mined_rewrite_intent,code_generation,mined_code_generation}
  csn_<language>_{code_to_docstring,docstring_to_code,query_code}

The registry does not depend on the data dir; a task without data fails when its dataset is
built, naming the command that prepares it. Mixtures: `import code_t5.mixtures`.
"""
import seqio

from code_t5.data import task_configs
from code_t5.data import vocabularies


def register() -> None:
  """Adds every task not yet registered (importing this module calls it)."""
  names = set(seqio.TaskRegistry.names())
  for config in task_configs.all_configs():
    for suffix, vocab in vocabularies.BY_SUFFIX.items():
      if config.name + suffix in names:
        continue
      seqio.TaskRegistry.add(
          config.name + suffix, source=config.source, preprocessors=config.preprocessors,
          output_features=config.output_features(vocab), metric_fns=config.metric_fns,
          postprocess_fn=config.postprocess_fn)


register()
