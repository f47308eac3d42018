"""T5X on 8 emulated CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=8).

Each mesh file with more than one device (tpu_v4_32 through gpu_8, whose settings it has)
trains the tiny encoder-decoder and decoder-only models for a few steps through `python -m t5x.train`; a probe trainer records the shardings of
the live parameters and batches, which must be what the mesh file says, and the loss must match
the one-device run on the same data within LOSS_RTOL. The dual encoder trains data-parallel;
t5x.infer and the CoNaLa mined rewriting predict on 8 devices as on one.

Two JAX processes (code-t5-multiprocess) train each model family to the one-process loss,
restore each other's checkpoints, and eval and infer each example once.
"""
import glob
import json
import os
import re
import subprocess
import sys

import pytest

from code_t5.train import trainer_runs
from code_t5.train import checkpoint_files
from conftest import REPO_ROOT, command, run_command

pytestmark = pytest.mark.skipif(
    trainer_runs.installed_trainer() != "t5x",
    reason="T5X is not importable: it is not on PyPI (README, 'Training with T5X')")
GIN = "code_t5/gin_configs/t5x"
TESTS = os.path.dirname(os.path.abspath(__file__))
STEPS = 4
# Float32 sums over 8 shards come in another order than on one device; over 4 Adafactor steps
# of the tiny models that moves the loss by ~1e-6 relative (measured); 1e-4 leaves room.
LOSS_RTOL = 1e-4
# (mesh file, devices on the data axis, on the model axis) for 8 devices. tpu_v4_32's
# partitioner settings are gpu_8's (a test below), so on CPU devices it is the same run.
MESHES = [("gpu_8", 4, 2), ("tpu_v3_8", 8, 1)]
# The encoder-decoder and the decoder-only model (as a prefix LM) learn CodeXGLUE code-to-text,
# the dual encoder CodeSearchNet's (query, code) pairs: one exported corpus (JSON lines dealt in
# turn to 4 files) of 16 distinct train rows. Unshuffled and unpacked, 2 processes reading 2 of
# the files each make up the global batches one process makes up from all 4.
CODE_TO_TEXT = ["MIXTURE_OR_TASK_NAME='csn_python_code_to_docstring'",
                "TASK_FEATURE_LENGTHS={'inputs': 128, 'targets': 32}"]
MODELS = {  # model file -> (task file, gin bindings that make it another task, batch size)
    "t5_1_1_tiny": ("conala_code_generation", CODE_TO_TEXT, 8),
    "decoder_only_tiny": ("conala_code_generation", CODE_TO_TEXT, 8),
    "dual_encoder_tiny": ("csn_python_query_code", [
        "TASK_FEATURE_LENGTHS={'queries': 32, 'passages': 128}"], 8),
}
TRAIN_FLAGS = [f"--gin.TRAIN_STEPS={STEPS}", f"--gin.train.eval_period={STEPS}",
               "--gin.train.train_eval_dataset_cfg=None",
               "--gin.train.infer_eval_dataset_cfg=None",
               "--gin.train/utils.DatasetConfig.shuffle=False",
               "--gin.train/utils.DatasetConfig.pack=False",
               "--gin.utils.create_learning_rate_scheduler.factors='constant'",
               "--gin.utils.create_learning_rate_scheduler.base_learning_rate=0.01"]


def _task_flags(model: str) -> list[str]:
  task, bindings, batch = MODELS[model]
  return [f"--gin_file={GIN}/tasks/{task}.gin", *(f"--gin.{b}" for b in bindings),
          f"--gin.BATCH_SIZE={batch}"]


# Imported, t5x_sharding_probe maps num_partitions onto CPU devices as T5X does on GPUs.
EMULATE_GIN = """from __gin__ import dynamic_registration
import t5x_sharding_probe
"""
PROBE_GIN = EMULATE_GIN + """import __main__ as train_script
from t5x import utils
train_script.train.trainer_cls = @t5x_sharding_probe.ShardingProbeTrainer
t5x_sharding_probe.ShardingProbeTrainer:
  num_microbatches = None
  learning_rate_fn = @utils.create_learning_rate_scheduler()
"""


def _env(data_dir: str, devices: int, probe: str = "") -> dict:
  env = {**os.environ, "CODE_T5_DATA_DIR": data_dir, "CODE_T5_SHARDING_PROBE": probe,
         "PYTHONPATH": os.pathsep.join(filter(None, [TESTS, os.environ.get("PYTHONPATH")])),
         "JAX_PLATFORMS": "cpu"}
  env.pop("XLA_FLAGS", None)
  if devices > 1:
    env["XLA_FLAGS"] = f"--xla_force_host_platform_device_count={devices}"
  return env


def _run(module: str, env: dict, *flags: str) -> subprocess.CompletedProcess:
  result = subprocess.run([sys.executable, "-m", module, *flags], capture_output=True, text=True,
                          env=env, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-4000:]
  return result


@pytest.fixture(scope="module")
def data(tmp_path_factory, data_dir):
  """The shared fixture data dir plus an exported CodeSearchNet of 16 Python train rows."""
  import csn_fixtures  # pylint: disable=g-import-not-at-top
  corpus = csn_fixtures.write_python_train_corpus(str(tmp_path_factory.mktemp("csn")), copies=2)
  result = run_command("export-codesearchnet", f"--from_disk={corpus}",
                      env={"CODE_T5_DATA_DIR": data_dir})
  assert result.returncode == 0, result.stderr[-3000:]
  return data_dir


def _train(data_dir: str, model_dir: str, model: str, mesh: str, devices: int,
           probe_gin: str = "", probe: str = "") -> float:
  flags = [f"--gin_file={GIN}/models/{model}.gin", f"--gin_file={GIN}/runs/pretrain.gin",
           f"--gin_file={GIN}/mesh/{mesh}.gin", *_task_flags(model)]
  if probe_gin:
    flags.append(f"--gin_file={probe_gin}")
  _run("t5x.train", _env(data_dir, devices, probe), *flags, f"--gin.MODEL_DIR='{model_dir}'",
       *TRAIN_FLAGS)
  return checkpoint_files.read_scalars(os.path.join(model_dir, "train"), "loss")[STEPS]


@pytest.fixture(scope="module")
def one_device(data, tmp_path_factory):
  """Model -> (model dir, loss after STEPS) of the single-device run (mesh/cpu.gin)."""
  cache = {}

  def get(model):
    if model not in cache:
      model_dir = str(tmp_path_factory.mktemp(f"one_{model}"))
      cache[model] = model_dir, _train(data, model_dir, model, "cpu", 1)
    return cache[model]
  return get


def _expected_spec(name: str, model_axis: int) -> tuple[list, list]:
  """(partition spec, shard divisor per dim) that T5X's standard logical rules give `name`."""
  if name.endswith("embedding"):  # (vocab, embed): vocab -> model
    return ["model", None], [model_axis, 1]
  return [None, "model"], [1, model_axis]  # mlp (embed, mlp), attention (embed, joined_kv)


@pytest.mark.parametrize("model", ["t5_1_1_tiny", "decoder_only_tiny"])
@pytest.mark.parametrize("mesh,data_axis,model_axis", MESHES)
def test_model_trains_sharded_as_the_mesh_says_and_matches_one_device(
    data, one_device, tmp_path, model, mesh, data_axis, model_axis):
  probe_gin = tmp_path / "probe.gin"
  probe_gin.write_text(PROBE_GIN)
  probe = tmp_path / "probe.json"
  loss = _train(data, str(tmp_path / "m"), model, mesh, 8, str(probe_gin), str(probe))
  record = json.loads(probe.read_text())
  assert record["devices"] == 8 and record["mesh"] == {"data": data_axis, "model": model_axis}
  assert len(record["params"]) >= 3, record["params"].keys()
  for name, got in record["params"].items():
    spec, factors = _expected_spec(name, model_axis)
    assert got["spec"] == spec, (name, got)
    assert got["shard_shape"] == [n // f for n, f in zip(got["shape"], factors)], (name, got)
  batch = MODELS[model][2]
  for feature, got in record["batch"].items():
    assert got["spec"][0] == "data" and got["shape"][0] == batch, (feature, got)
    assert got["shard_shape"] == [batch // data_axis] + got["shape"][1:], (feature, got)
  _, reference = one_device(model)
  print(f"{model} on {mesh}: loss {loss} vs one device {reference}, "
        f"relative difference {abs(loss - reference) / reference:.2e}")
  assert loss == pytest.approx(reference, rel=LOSS_RTOL), (loss, reference)


def _partitioner_bindings(mesh: str) -> list[str]:
  with open(os.path.join(REPO_ROOT, GIN, "mesh", f"{mesh}.gin")) as f:
    return sorted(line.strip() for line in f if re.match(r"\s+\w+ = ", line))


def test_tpu_v4_32_partitions_as_gpu_8_so_the_gpu_8_runs_stand_for_it_on_cpu():
  """TPU meshes come from device coordinates, which CPU devices lack: emulated, a mesh file is
  its partitioner settings, and tpu_v4_32's are gpu_8's (4 data x 2 model on 8 devices)."""
  assert _partitioner_bindings("tpu_v4_32") == _partitioner_bindings("gpu_8")
  assert "num_partitions = 2" in _partitioner_bindings("gpu_8")


def test_lora_adapters_are_sharded_as_their_kernels(data, one_device, tmp_path):
  """runs/finetune_lora.gin on gpu_8 (4 data x 2 model): A follows its kernel's input axis and
  B its output axis (the rank axis is replicated), so no adapter needs a gather its kernel
  does not."""
  base_dir, _ = one_device("t5_1_1_tiny")
  probe_gin = tmp_path / "probe.gin"
  probe_gin.write_text(PROBE_GIN)
  probe = tmp_path / "probe.json"
  _run("t5x.train", _env(data, 8, str(probe)), f"--gin_file={GIN}/models/t5_1_1_tiny.gin",
       f"--gin_file={GIN}/runs/finetune_lora.gin", f"--gin_file={GIN}/mesh/gpu_8.gin",
       *_task_flags("t5_1_1_tiny"), f"--gin_file={probe_gin}",
       f"--gin.MODEL_DIR='{tmp_path / 'm'}'", f"--gin.TRAIN_STEPS={STEPS + 2}",
       f"--gin.INITIAL_CHECKPOINT_PATH='{base_dir}/checkpoint_{STEPS}'",
       "--gin.train.eval_period=2",
       "--gin.train.train_eval_dataset_cfg=None", "--gin.train.infer_eval_dataset_cfg=None",
       "--gin.LORA_TARGETS='.*(attention/query|mlp/wo)'")
  params = json.loads(probe.read_text())["params"]
  query, wo = "encoder/layers_0/attention/query/kernel", "decoder/layers_0/mlp/wo/kernel"
  expected = {query: [None, "model"], query + "_lora_a": [None, None],
              query + "_lora_b": [None, "model"],
              wo + "_lora_a": ["model", None], wo + "_lora_b": [None, None]}
  assert {k: params[k]["spec"] for k in expected} == expected, params
  assert params[query + "_lora_b"]["shard_shape"] == [8, 32]  # (rank, 64 / 2 model shards)
  assert params[wo + "_lora_a"]["shard_shape"] == [64, 8]  # (128 / 2, rank)


def test_dual_encoder_trains_data_parallel_and_matches_one_device(data, one_device, tmp_path):
  probe_gin = tmp_path / "probe.gin"
  probe_gin.write_text(PROBE_GIN)
  probe = tmp_path / "probe.json"
  loss = _train(data, str(tmp_path / "m"), "dual_encoder_tiny", "tpu_v3_8", 8, str(probe_gin),
                str(probe))
  record = json.loads(probe.read_text())
  assert record["mesh"] == {"data": 8, "model": 1}
  for feature, got in record["batch"].items():
    assert got["spec"][0] == "data" and got["shard_shape"][0] == 1, (feature, got)
  _, reference = one_device("dual_encoder_tiny")
  print(f"dual encoder on tpu_v3_8: loss {loss} vs one device {reference}")
  assert loss == pytest.approx(reference, rel=LOSS_RTOL), (loss, reference)


def _predictions(folder) -> list[str]:
  rows = []
  for name in sorted(os.listdir(folder)):
    if "-predict.jsonl" in name:
      with open(os.path.join(folder, name)) as f:
        rows += [json.loads(line)["prediction"] for line in f]
  return rows


def test_infer_on_8_devices_predicts_what_one_device_predicts(data, one_device, tmp_path):
  model_dir, _ = one_device("t5_1_1_tiny")
  task = "flcc_dev_python_full_line"  # a task of its vocabulary (bytes) that it did not learn
  emulate = tmp_path / "emulate.gin"
  emulate.write_text(EMULATE_GIN)
  out = {}
  for devices, mesh in ((1, "cpu"), (8, "tpu_v3_8"), (8, "gpu_8")):
    folder = tmp_path / f"{mesh}_{devices}"
    _run("t5x.infer", _env(data, devices), f"--gin_file={emulate}",
         f"--gin_file={GIN}/models/t5_1_1_tiny.gin",
         f"--gin_file={GIN}/runs/infer.gin", f"--gin_file={GIN}/mesh/{mesh}.gin",
         f"--gin_file={GIN}/tasks/{task}.gin", "--gin.utils.DatasetConfig.batch_size=8",
         f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_{STEPS}'",
         f"--gin.INFER_OUTPUT_DIR='{folder}'")
    out[mesh] = _predictions(folder)
  assert len(out["cpu"]) >= 5
  assert out["tpu_v3_8"] == out["cpu"] and out["gpu_8"] == out["cpu"]


def test_conala_mined_rewriting_on_8_devices_matches_one_device(one_device, tmp_path):
  import conala_fixtures  # pylint: disable=g-import-not-at-top
  model_dir, _ = one_device("t5_1_1_tiny")
  data_dir = str(tmp_path / "data")
  corpus = conala_fixtures.write_corpus(str(tmp_path / "corpus"), num_mined=20)
  result = run_command("export-conala", f"--from_disk={corpus}",
                      env={"CODE_T5_DATA_DIR": data_dir})
  assert result.returncode == 0, result.stderr[-2000:]
  rewritten = {}
  for devices in (1, 8):
    out = tmp_path / f"rewritten_{devices}.jsonl"
    result = run_command("rewrite-conala-mined", f"--out={out}", "--decoding=greedy",
                        f"--checkpoint={model_dir}/checkpoint_{STEPS}", "--batch_size=8",
                        f"--model_gin={GIN}/models/t5_1_1_tiny.gin", "--inputs_length=128",
                        "--targets_length=16", "--gin_bindings=import t5x_sharding_probe",
                        env=_env(data_dir, devices))
    assert result.returncode == 0, result.stderr[-3000:]
    rewritten[devices] = [json.loads(x) for x in out.read_text().splitlines()]
  assert len(rewritten[1]) == 20 and rewritten[8] == rewritten[1]
  assert len({r["rewritten_intent"] for r in rewritten[1]}) >= 1


# Two JAX processes (code_t5.train.multiprocess: gloo collectives, 2 CPU devices each). T5X's
# CPU mesh is (processes, local devices): the data axis spans the processes, the model axis the
# devices within one.
def _multiprocess(data_dir: str, entry_point: str, log_dir, *flags: str) -> None:
  env = _env(data_dir, 1)
  env.pop("XLA_FLAGS", None)  # the launcher sets each process's device count
  result = subprocess.run([*command("multiprocess"), "--processes=2",
                           "--devices_per_process=2", f"--log_dir={log_dir}", "--",
                           entry_point, *flags], capture_output=True, text=True, env=env,
                          cwd=REPO_ROOT, timeout=900)
  assert result.returncode == 0, (result.stderr[-2000:], result.stdout[-4000:])
  for i in range(2):  # both joined one cluster of 4 devices
    log = (log_dir / f"process_{i}.log").read_text()
    assert f"Process ID: {i}" in log, log[-3000:]
  # Process 0's progress as it came (T5X's infer logs none), then the summary; the start-up
  # lines only in the logs.
  if entry_point != "t5x.infer":
    assert f"{entry_point}, process 0: Finished" in result.stdout, result.stdout
  assert f"2 processes of {entry_point} finished in " in result.stderr, result.stderr[-2000:]
  assert "oneDNN" not in result.stdout + result.stderr


def test_a_failing_process_stops_the_run_and_its_last_lines_are_shown(tmp_path):
  result = subprocess.run([*command("multiprocess"), "--processes=2",
                           f"--log_dir={tmp_path}", "--", "t5x.train",
                           "--gin_file=no_such_file.gin"], capture_output=True, text=True,
                          cwd=REPO_ROOT, timeout=300)
  assert result.returncode != 0
  assert "Unable to open file: no_such_file.gin" in result.stderr, result.stderr[-3000:]
  assert re.search(r"^error: process [01] of 2 exited with status \d+; its log: \S+process_[01]"
                   r"\.log$", result.stderr, re.MULTILINE), result.stderr[-3000:]


def _rows(folder, marker: str) -> list[dict]:
  rows = []
  for path in sorted(glob.glob(os.path.join(folder, "**", f"*{marker}*"), recursive=True)):
    with open(path) as f:
      rows += [json.loads(line) for line in f]
  return rows


def _inputs(rows: list[dict]) -> list[str]:
  return sorted(json.dumps(r["inputs"], sort_keys=True) for r in rows)


def test_two_processes_train_as_one_restore_across_process_counts_eval_and_infer_once(
    data, one_device, tmp_path):
  """2 processes x 2 devices (T5X's CPU mesh: data over the processes, model within one) train
  the encoder-decoder on the global batches one process trains on: the same loss. Their
  checkpoint restores in one process and one process's in two; eval and infer (of a dev FLCC
  task) in 2 processes see each example once."""
  model = "t5_1_1_tiny"
  model_dir = tmp_path / "two_processes"
  _multiprocess(data, "t5x.train", tmp_path / "train_logs",
                f"--gin_file={GIN}/models/{model}.gin", f"--gin_file={GIN}/runs/pretrain.gin",
                f"--gin_file={GIN}/mesh/cpu.gin", *_task_flags(model),
                f"--gin.MODEL_DIR='{model_dir}'", *TRAIN_FLAGS)
  loss = checkpoint_files.read_scalars(str(model_dir / "train"), "loss")[STEPS]
  one_dir, reference = one_device(model)
  print(f"2 processes x 2 devices: loss {loss} vs one device {reference}")
  assert loss == pytest.approx(reference, rel=LOSS_RTOL), (loss, reference)
  # Eval and infer on a dev FLCC task (its test split): same vocabulary, another task.
  common = [f"--gin_file={GIN}/models/{model}.gin", f"--gin_file={GIN}/mesh/cpu.gin",
            f"--gin_file={GIN}/tasks/flcc_dev_python_full_line.gin",
            "--gin.utils.DatasetConfig.batch_size=8"]
  # A checkpoint two processes wrote, restored by one; one process's, restored by two.
  one = tmp_path / "infer_one"
  _run("t5x.infer", _env(data, 1), f"--gin_file={GIN}/runs/infer.gin", *common,
       f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_{STEPS}'", f"--gin.INFER_OUTPUT_DIR='{one}'")
  two = tmp_path / "infer_two"
  _multiprocess(data, "t5x.infer", tmp_path / "infer_logs", f"--gin_file={GIN}/runs/infer.gin",
                *common, f"--gin.CHECKPOINT_PATH='{one_dir}/checkpoint_{STEPS}'",
                f"--gin.INFER_OUTPUT_DIR='{two}'")
  rows_one, rows_two = _rows(one, "-predict.jsonl"), _rows(two, "-predict.jsonl")
  assert len(rows_one) >= 5 and _inputs(rows_two) == _inputs(rows_one)  # each example once
  # Eval in 2 processes: every test example predicted and scored once.
  evaluated = tmp_path / "eval_two"
  _multiprocess(data, "t5x.eval", tmp_path / "eval_logs", f"--gin_file={GIN}/runs/eval.gin",
                *common, f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_{STEPS}'",
                f"--gin.EVAL_OUTPUT_DIR='{evaluated}'")
  scored = _rows(evaluated, f"flcc_dev_python_full_line-{STEPS:06}.jsonl")  # seqio's JSONLogger
  distinct = {json.dumps(r["input"], sort_keys=True) for r in scored}
  assert len(distinct) == len(scored) == len(rows_one), scored[:2]
  metrics = _rows(evaluated, "flcc_dev_python_full_line-metrics.jsonl")
  assert metrics and "exact_match" in json.dumps(metrics), metrics


@pytest.mark.parametrize("model", ["decoder_only_tiny", "dual_encoder_tiny"])
def test_two_processes_train_the_other_model_families_as_one(data, one_device, tmp_path, model):
  _multiprocess(data, "t5x.train", tmp_path / "logs", f"--gin_file={GIN}/models/{model}.gin",
                f"--gin_file={GIN}/runs/pretrain.gin", f"--gin_file={GIN}/mesh/cpu.gin",
                *_task_flags(model), f"--gin.MODEL_DIR='{tmp_path / 'm'}'", *TRAIN_FLAGS)
  loss = checkpoint_files.read_scalars(str(tmp_path / "m" / "train"), "loss")[STEPS]
  _, reference = one_device(model)
  print(f"{model}, 2 processes x 2 devices: loss {loss} vs one device {reference}")
  assert loss == pytest.approx(reference, rel=LOSS_RTOL), (loss, reference)
