import collections
import subprocess
import sys

import pytest
import seqio

from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
from code_t5.data import task_configs

LENGTHS = {"inputs": 64, "targets": 32}


def test_every_flcc_task_and_mixture_is_registered():
  tasks = set(seqio.TaskRegistry.names())
  for lang in ("python", "java", "kotlin", "go", "cpp", "csharp"):
    for objective in task_configs.FLCC_OBJECTIVES:
      for prefix in ("flcc_", "flcc_dev_"):
        for suffix in ("", "_spm"):
          assert f"{prefix}{lang}_{objective}{suffix}" in tasks
  mixtures = set(seqio.MixtureRegistry.names())
  for objective in task_configs.FLCC_OBJECTIVES:
    assert {f"flcc_all_{objective}", f"flcc_dev_all_{objective}"} <= mixtures


@pytest.mark.parametrize("objective", task_configs.FLCC_OBJECTIVES)
@pytest.mark.parametrize("dev", [False, True])
def test_tasks_yield_shaped_features_from_prepared_files(use_data_dir, objective, dev):
  task = seqio.get_mixture_or_task(task_configs.flcc_task_name("python", objective, dev))
  lengths = LENGTHS  # UL2's X denoiser then takes inputs as short as its 32 targets allow
  examples = list(task.get_dataset(lengths, split="train", shuffle=False, seed=0))
  assert len(examples) >= 5
  features = ["targets"] if objective in task_configs.DECODER_ONLY else ["inputs", "targets"]
  vocab = task.output_features["targets"].vocabulary
  for ex in examples:
    for k in features:
      assert ex[k].dtype.name == "int32" and ex[k].shape.rank == 1
      assert 0 < ex[k].shape[0] <= lengths[k]
      assert int(ex[k][-1]) == vocab.eos_id or ex[k].shape[0] == lengths[k]
  if objective == "full_line":
    ex = examples[0]
    text = ex["inputs_pretokenized"].numpy().decode() + ex["targets_pretokenized"].numpy().decode()
    assert "\n" not in ex["targets_pretokenized"].numpy().decode()
    assert text.startswith('"""Module')


def test_newlines_tabs_and_non_ascii_survive_the_lm_pipeline(use_data_dir):
  task = seqio.get_mixture_or_task("flcc_python_lm")
  ex = next(iter(task.get_dataset({"targets": 4096}, split="train", shuffle=False, seed=0)))
  decoded = task.output_features["targets"].vocabulary.decode(ex["targets"].numpy().tolist())
  assert '\n\tif x > ' in decoded and '"héllo ' in decoded and '  \n\n    return' in decoded


def test_mixture_rates_follow_training_files(use_data_dir):
  # Counted from the training shards themselves, not from the manifest the mixture reads.
  python = seqio.get_mixture_or_task("flcc_python_lm")
  files = sum(1 for _ in python.source.get_dataset("train", shuffle=False))
  mixture = seqio.get_mixture_or_task("flcc_all_lm")
  rates = {t.name: mixture.get_rate(t) for t in mixture.members}
  assert files > 0 and rates["flcc_python_lm"] == files
  assert rates["flcc_kotlin_lm"] == 0
  # Members are every language; the dataset is built from the prepared ones only.
  assert len(mixture.members) == len(task_configs.FLCC_LANGUAGES) == 103
  assert [t.name for t in mixture.tasks] == ["flcc_java_lm", "flcc_python_lm"]


def test_a_mixture_build_computes_each_rate_once(use_data_dir, monkeypatch):
  from code_t5.data import sources
  calls = []
  real = sources.PreparedFlccSource.num_input_examples
  monkeypatch.setattr(sources.PreparedFlccSource, "num_input_examples",
                      lambda self, split: calls.append(self._slug) or real(self, split))
  mixture = seqio.get_mixture_or_task("flcc_all_lm")
  ds = mixture.get_dataset({"targets": 32}, split="train", shuffle=False)
  assert next(iter(ds))["targets"].shape[0] <= 32
  # One rate per member (103 languages), however often seqio asks for `tasks` and the rates
  # during the build; the two prepared members' own datasets may count their files again.
  counts = collections.Counter(calls)
  assert len(counts) == len(mixture.members) == 103
  assert {slug for slug, n in counts.items() if n > 1} <= {"java", "python"}, counts


def test_missing_data_says_what_to_run(tmp_path, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  task = seqio.get_mixture_or_task("flcc_kotlin_span_corruption")
  with pytest.raises(FileNotFoundError, match="code-t5-prepare-flcc"):
    task.get_dataset({"inputs": 64, "targets": 16}, split="train")


def test_a_mixture_without_any_prepared_member_names_the_command(tmp_path, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  mixture = seqio.get_mixture_or_task("flcc_all_span_corruption")
  with pytest.raises(FileNotFoundError, match="none of its 103 tasks has data.*code-t5-prepare-flcc"):
    mixture.get_dataset({"inputs": 64, "targets": 16}, split="train")


def test_every_language_of_the_dataset_is_registered_whatever_is_on_disk(use_data_dir):
  # This process registered with no data dir set; a fresh one over prepared data (python and
  # java only) registers exactly the same tasks and mixtures.
  code = ("import code_t5.mixtures, seqio\n"
          "print(sorted(seqio.TaskRegistry.names()))\n"
          "print(sorted(seqio.MixtureRegistry.names()))")
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=300)
  assert result.returncode == 0, result.stderr[-3000:]
  ours = ("flcc_", "wikitext_", "conala_", "csn_", "code_and_text_", "humaneval")
  here = [sorted(n for n in r.names() if n.startswith(ours))
          for r in (seqio.TaskRegistry, seqio.MixtureRegistry)]
  assert result.stdout.splitlines() == [repr(here[0]), repr(here[1])]
  for slug in ("python", "cpp", "csharp", "objective_cpp", "fsharp", "1c_enterprise", "vim_script"):
    assert f"flcc_{slug}_lm" in here[0] and f"flcc_dev_{slug}_full_line_spm" in here[0]
  assert sum(n.startswith("flcc_") and n.endswith("_full_line") and "_dev_" not in n
             for n in here[0]) == 103
