"""Looks inside a task: decoded examples and token counts, as a newcomer would inspect one."""
import difflib
import itertools
from typing import Mapping, Optional

import seqio

# Lengths for inspecting tasks locally; training lengths come from the gin configs.
DEFAULT_LENGTHS = {"inputs": 256, "targets": 64}


def registered(name: str):
  """The registered task or mixture `name`; for an unknown name, a UsageError with the closest
  registered names (import code_t5.tasks / code_t5.mixtures first)."""
  from code_t5 import errors  # pylint: disable=g-import-not-at-top
  names = {*seqio.TaskRegistry.names(), *seqio.MixtureRegistry.names()}
  if name not in names:
    close = difflib.get_close_matches(name, names, n=3, cutoff=0.6)
    hint = (f"did you mean {', '.join(close)}?" if close else
            "names start with flcc_, wikitext_, conala_, csn_ or code_and_text_, e.g. "
            "flcc_dev_python_span_corruption")
    raise errors.UsageError(f"{name}: no task or mixture of that name is registered; {hint} "
                            "(code-t5-show-task --task=NAME shows one)")
  return seqio.get_mixture_or_task(name)


def lengths_for(task: seqio.Task, lengths: Optional[Mapping[str, int]] = None) -> dict:
  lengths = dict(lengths or DEFAULT_LENGTHS)
  if "inputs" not in task.output_features:  # decoder-only: one longer sequence
    lengths = {"targets": lengths.get("inputs", 0) + lengths["targets"]}
  return lengths


def decode(vocab: seqio.Vocabulary, ids) -> str:
  """Decodes ids, showing span-corruption sentinels as <extra_id_N> (plain decode drops them)."""
  first_extra = vocab.vocab_size - vocab.extra_ids
  pieces, run = [], []
  for i in list(ids) + [None]:
    if i is None or i >= first_extra:
      pieces.append(vocab.decode(run))
      run = []
      if i is not None:
        pieces.append(f"<extra_id_{vocab.vocab_size - 1 - i}>")
    else:
      run.append(i)
  return "".join(pieces)


def examples(task_name: str, split: str = "validation", num: int = 2,
             lengths: Optional[Mapping[str, int]] = None, seed: int = 0) -> list[dict]:
  """The first `num` examples of a task's split, each feature decoded to text."""
  task = registered(task_name)
  ds = task.get_dataset(lengths_for(task, lengths), split=split, shuffle=False, seed=seed)
  out = []
  for ex in itertools.islice(ds.as_numpy_iterator(), num):
    out.append({k: decode(f.vocabulary, ex[k].tolist()) for k, f in task.output_features.items()
                if k in ex})
  return out


def count_tokens(task_name: str, split: str = "validation",
                 lengths: Optional[Mapping[str, int]] = None, seed: int = 0) -> dict:
  """Examples and tokens per feature over one pass of a task's split."""
  task = seqio.get_mixture_or_task(task_name)
  ds = task.get_dataset(lengths_for(task, lengths), split=split, shuffle=False, seed=seed)
  counts = {"examples": 0, **{k: 0 for k in task.output_features}}
  for ex in ds.as_numpy_iterator():
    counts["examples"] += 1
    for k in task.output_features:
      counts[k] += len(ex.get(k, ()))
  return counts
