"""Every runs/*.gin with every task file whose features its model can take, for 1-2 steps
(finetune and finetune_lora: one task file per model family, as pretrain composes them all).

One tiny model per (run, task) pair: the encoder-decoder where the task has inputs and targets,
the decoder-only model for `lm` tasks, the dual encoder for `*_query_code`. Each other model
family must refuse the task with our one-line message naming both. The compositions run in
tests/t5x_compose.py (one process per run file, as t5x.train/eval/infer would run each).
"""
import glob
import json
import os
import re
import shutil
import subprocess
import sys

import pytest

from code_t5.train import trainer_runs
from conftest import REPO_ROOT, run_command

pytestmark = pytest.mark.skipif(
    trainer_runs.installed_trainer() != "t5x",
    reason="T5X is not importable: it is not on PyPI (README, 'Training with T5X')")
GIN = "code_t5/gin_configs/t5x"
TASK_FILES = sorted(os.path.splitext(os.path.basename(p))[0]
                    for p in glob.glob(os.path.join(REPO_ROOT, GIN, "tasks", "*.gin")))
MODELS = {  # family -> (model file, class the error names)
    "encoder_decoder": ("t5_1_1_tiny", "EncoderDecoderModel"),
    "decoder_only": ("decoder_only_tiny", "DecoderOnlyModel"),
    "dual_encoder": ("dual_encoder_tiny", "DualEncoderModel"),
}


def family_for(task: str) -> str:
  """The model family a task file is for, from its name (independently of the checks)."""
  if task.endswith("_query_code"):
    return "dual_encoder"
  return "decoder_only" if task.endswith(("_lm", "_fim")) and not task.endswith("prefix_lm") \
      else "encoder_decoder"


def takes(family: str, task: str) -> bool:
  own = family_for(task)
  # A decoder-only model also takes inputs + targets, as a prefix LM.
  return family == own or (family == "decoder_only" and own == "encoder_decoder")


def task_name(task_file: str) -> str:
  with open(os.path.join(REPO_ROOT, GIN, "tasks", f"{task_file}.gin")) as f:
    return re.search(r"MIXTURE_OR_TASK_NAME = '([^']+)'", f.read()).group(1)


def has_metrics(task_file: str) -> bool:
  import seqio  # pylint: disable=g-import-not-at-top
  import code_t5.mixtures  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  task = seqio.get_mixture_or_task(task_name(task_file))
  # Every member (a mixture's `tasks` keeps only those with data, read from the data dir).
  return any(t.metric_fns for t in getattr(task, "members", None) or seqio.get_subtasks(task))


def infer_has_examples(task_file: str) -> bool:
  """Whether every member of the task file's task has validation examples in the test data
  (T5X's infer runs each member; the fixture tree has languages with training files only)."""
  import seqio  # pylint: disable=g-import-not-at-top
  import code_t5.mixtures  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  members = seqio.get_subtasks(seqio.get_mixture_or_task(task_name(task_file)))
  return all("validation" in t.splits and t.num_input_examples("validation") != 0
             for t in members)


def can_run(run: str, family: str, task: str) -> bool:
  """Whether `run` can take `task` with a model of `family`: the features fit, eval has
  metrics to compute, infer has inputs to continue and text to decode (a dual encoder only
  embeds) and examples in every member."""
  if run == "dual_encoder_from_t5":
    return family == "dual_encoder" == family_for(task)
  if run == "infer" and (family == "dual_encoder" or family_for(task) != "encoder_decoder"
                         or not infer_has_examples(task)):
    return False
  return takes(family, task) and not (run == "eval" and not has_metrics(task))


@pytest.fixture(scope="module")
def data(tmp_path_factory, data_dir):
  """Every corpus the task files read, exported from fixtures in their upstream formats."""
  import conala_fixtures  # pylint: disable=g-import-not-at-top
  import csn_fixtures  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("all_data")
  data = str(root / "data")
  shutil.copytree(data_dir, data)
  env = {"CODE_T5_DATA_DIR": data}
  wiki = root / "wikitext-103-raw-v1"
  wiki.mkdir()
  line = "The quick brown fox jumps over the lazy dog near the river bank, where fishermen mend nets . "
  for split, n in (("train", 12), ("validation", 4), ("test", 4)):
    (wiki / f"{split}.jsonl").write_text(
        "".join(json.dumps({"text": f" {line * 2}{i} \n"}) + "\n" for i in range(n)))
  exports = [("export-wikitext", f"--from_disk={wiki}"),
             ("export-conala", f"--from_disk={conala_fixtures.write_corpus(str(root / 'c'))}"),
             ("export-codesearchnet",
              f"--from_disk={csn_fixtures.write_corpus(str(root / 'csn'))}")]
  for script, flag in exports:
    result = run_command(script, flag, env=env)
    assert result.returncode == 0, (script, result.stderr[-2000:])
  return data


def _compose(data: str, jobs: list[dict]) -> dict[str, dict]:
  # The tiny models compile to the same programs for many task files: JAX's persistent
  # compilation cache (conftest.py's, in the environment) keeps them across runs.
  env = {**os.environ, "CODE_T5_DATA_DIR": data, "JAX_PLATFORMS": "cpu"}
  env.pop("XLA_FLAGS", None)
  result = subprocess.run([sys.executable, os.path.join(REPO_ROOT, "tests", "t5x_compose.py")],
                          input="".join(json.dumps(j) + "\n" for j in jobs), capture_output=True,
                          text=True, env=env, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  out = {r["id"]: r for r in map(json.loads, result.stdout.splitlines())}
  assert set(out) == {j["id"] for j in jobs}, result.stderr[-3000:]
  return out


def _job(entry: str, run: str, model: str, task: str, bindings: list[str]) -> dict:
  files = [f"{GIN}/models/{model}.gin", f"{GIN}/runs/{run}.gin", f"{GIN}/mesh/cpu.gin",
           f"{GIN}/tasks/{task}.gin"]
  return {"id": f"{run}:{model}:{task}", "entry": entry, "gin_files": files,
          "bindings": bindings}


# No evaluation during training: the eval run composes every task file that has metrics, and
# the training runs of test_train_t5x.py evaluate; here it would double each job's tracing.
TRAIN = ["BATCH_SIZE = 8", "train.train_eval_dataset_cfg = None",
         "train.infer_eval_dataset_cfg = None", "utils.SaveCheckpointConfig.period = 1"]


@pytest.fixture(scope="module", autouse=True)
def data_env(data):
  """The registry reads the test data too (which members have validation examples)."""
  previous = os.environ.get("CODE_T5_DATA_DIR")
  os.environ["CODE_T5_DATA_DIR"] = data
  yield
  if previous is None:
    os.environ.pop("CODE_T5_DATA_DIR")
  else:
    os.environ["CODE_T5_DATA_DIR"] = previous


@pytest.fixture(scope="module")
def checkpoints(data, tmp_path_factory):
  """A one-step checkpoint of each tiny model: what finetune, eval and infer start from."""
  root = tmp_path_factory.mktemp("checkpoints")
  first = {"encoder_decoder": "flcc_dev_python_full_line", "decoder_only": "flcc_dev_python_lm",
           "dual_encoder": "csn_python_query_code"}
  jobs = [_job("train", "pretrain", MODELS[f][0], task,
               TRAIN + ["TRAIN_STEPS = 1", f"MODEL_DIR = '{root / f}'"])
          for f, task in first.items()]
  out = _compose(data, jobs)
  assert all(r["ok"] for r in out.values()), out
  return {f: str(root / f / "checkpoint_1") for f in first}


RUNS = {  # run file -> (entry, bindings given the model dir / checkpoint)
    "pretrain": ("train", lambda d, c: TRAIN + ["TRAIN_STEPS = 1", f"MODEL_DIR = '{d}'"]),
    "finetune": ("train", lambda d, c: TRAIN + ["TRAIN_STEPS = 2", f"MODEL_DIR = '{d}'",
                                                 f"INITIAL_CHECKPOINT_PATH = '{c}'"]),
    "finetune_lora": ("train", lambda d, c: TRAIN + ["TRAIN_STEPS = 2", f"MODEL_DIR = '{d}'",
                                                      f"INITIAL_CHECKPOINT_PATH = '{c}'"]),
    "eval": ("eval", lambda d, c: ["utils.DatasetConfig.batch_size = 8",
                                   f"CHECKPOINT_PATH = '{c}'", f"EVAL_OUTPUT_DIR = '{d}'"]),
    "infer": ("infer", lambda d, c: ["utils.DatasetConfig.batch_size = 8",
                                     f"CHECKPOINT_PATH = '{c}'", f"INFER_OUTPUT_DIR = '{d}'"]),
    "dual_encoder_from_t5": ("train", lambda d, c: TRAIN + [
        "TRAIN_STEPS = 2", f"MODEL_DIR = '{d}'", f"INITIAL_CHECKPOINT_PATH = '{c}'"]),
}


def _pairs(run: str) -> list[tuple[str, str]]:
  """(family, task) of every valid pair of `run`: the first model family that can run it.

  finetune(_lora) is pretrain plus a restored checkpoint (and adapters): pretrain composes
  every task file, so these take one task per family (what the restore and the adapters depend
  on), which keeps CI's time."""
  pairs = []
  for task in TASK_FILES:
    families = [f for f in MODELS if can_run(run, f, task)]
    if families and not (run.startswith("finetune") and families[0] in dict(pairs)):
      pairs.append((families[0], task))
  return pairs


@pytest.mark.parametrize("run", sorted(RUNS))
def test_run_composes_with_every_task_its_model_takes(data, checkpoints, tmp_path, run):
  entry, bindings = RUNS[run]
  jobs = []
  for family, task in _pairs(run):
    start = checkpoints["encoder_decoder" if run == "dual_encoder_from_t5" else family]
    jobs.append(_job(entry, run, MODELS[family][0], task,
                     bindings(tmp_path / f"{family}_{task}", start)))
  out = _compose(data, jobs)
  failed = {k: v["error"] for k, v in out.items() if not v["ok"]}
  print(f"{run}: {len(out) - len(failed)} of {len(out)} pairs ran: "
        f"{sorted(k.split(':')[2] for k, v in out.items() if v['ok'])}")
  assert not failed, "\n".join(f"{k}: {v}" for k, v in sorted(failed.items()))


@pytest.mark.parametrize("run", ["pretrain", "finetune", "eval", "infer"])
def test_a_pair_that_cannot_run_fails_in_one_line_naming_model_and_task(data, checkpoints,
                                                                        tmp_path, run):
  entry, bindings = RUNS[run]
  jobs = [_job(entry, run, model, task, bindings(tmp_path / model, checkpoints[family]))
          for family, (model, _) in MODELS.items() for task in TASK_FILES
          if not can_run(run, family, task)]
  assert jobs
  out = _compose(data, jobs)
  classes = dict(MODELS.values())
  for job in jobs:
    _, model, task = job["id"].split(":")
    error = out[job["id"]]["error"]
    match = re.match(r"error: (\w+) cannot run (?:\w+ )?on (\S+): ", error)
    assert match and "\n" not in error, (job["id"], error)
    assert match.groups() == (classes[model], task_name(task)), (job["id"], error)
