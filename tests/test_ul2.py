"""UL2's denoisers (code_t5/data/ul2.py) over the prepared fixture tree, at the lengths of
tasks/flcc_dev_python_ul2.gin: each paradigm's mode token leads the inputs, nothing is trimmed,
the span-corruption paradigms mask what their settings say, and the mixture draws all three."""
import collections

import pytest
import seqio

from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
from code_t5.data import ul2

LENGTHS = {"inputs": 256, "targets": 256}  # tasks/flcc_dev_python_ul2.gin


def _examples(name: str, n: int = 40, **kwargs) -> list[dict]:
  task = seqio.get_mixture_or_task(name)
  options = {"split": "train", "shuffle": False, **kwargs}
  return [{k: v.numpy() for k, v in ex.items()}
          for ex in task.get_dataset(LENGTHS, **options).take(n)]


@pytest.mark.parametrize("paradigm", sorted(ul2.MODE_TOKENS))
def test_each_denoiser_puts_its_mode_token_first_and_trims_nothing(use_data_dir, paradigm):
  task = seqio.get_mixture_or_task(f"flcc_dev_python_ul2_{paradigm}")
  vocab = task.output_features["inputs"].vocabulary
  mode = list(vocab.encode(ul2.MODE_TOKENS[paradigm]))
  examples = _examples(task.name)
  assert len(examples) >= 2
  first_extra = vocab.vocab_size - vocab.extra_ids  # the sentinels count down from the top
  noise = []
  for ex in examples:
    inputs, targets = ex["inputs"].tolist(), ex["targets"].tolist()
    assert inputs[:len(mode)] == mode
    assert len(inputs) <= LENGTHS["inputs"] and targets[-1] == vocab.eos_id  # not trimmed
    sentinels = sum(1 for i in inputs[len(mode):] if i >= first_extra)
    if paradigm == "s":
      assert sentinels == 0  # a prefix, continued by the targets
    else:
      assert sentinels >= 1
      noise.append((len(targets) - sentinels - 1) / (len(targets) - sentinels - 1 +
                                                       len(inputs) - len(mode) - sentinels))
  if noise:  # the share of masked tokens the paradigm asks for (R 15 %, X 50 %)
    want = {"r": 0.15, "x": 0.5}[paradigm]
    assert abs(sum(noise) / len(noise) - want) < 0.06, (paradigm, sum(noise) / len(noise))


def test_the_mixture_draws_every_paradigm(use_data_dir):
  task = seqio.get_mixture_or_task("flcc_dev_python_ul2_r")
  vocab = task.output_features["inputs"].vocabulary
  modes = {tuple(vocab.encode(t)): p for p, t in ul2.MODE_TOKENS.items()}
  drawn = collections.Counter()
  for ex in _examples("flcc_dev_python_ul2", n=60, shuffle=True, seed=0):
    inputs = tuple(ex["inputs"].tolist())
    drawn.update(p for ids, p in modes.items() if inputs[:len(ids)] == ids)
  assert sum(drawn.values()) == 60 and set(drawn) == set(ul2.MODE_TOKENS), drawn


def test_x_takes_shorter_inputs_where_the_targets_are_short(use_data_dir):
  """At show-task's default lengths (256 + 64) X's 50 % noise cannot fill 256 inputs: it takes
  the longest inputs whose targets fit, and no target is trimmed."""
  task = seqio.get_mixture_or_task("flcc_dev_python_ul2_x")
  vocab = task.output_features["targets"].vocabulary
  fit = ul2.fitting_inputs_length(256 - len(vocab.encode("[NLG]")), 64, *ul2.SPANS["x"])
  assert 40 < fit < 100
  examples = [ex for ex in task.get_dataset({"inputs": 256, "targets": 64}, split="train",
                                            shuffle=False).take(10)]
  assert examples and all(int(ex["targets"][-1]) == vocab.eos_id for ex in examples)
  assert all(len(ex["inputs"]) <= fit + len(vocab.encode("[NLG]")) for ex in examples)
