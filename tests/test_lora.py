"""LoRA fine-tuning (runs/finetune_lora.gin) and its merge (code-t5-merge-lora), through
`python -m t5x.train` / `t5x.infer` as a user runs them, on the tiny encoder-decoder.

The decoder-only model and the dual encoder compose with finetune_lora.gin in
test_t5x_compositions.py; 8 devices in test_t5x_multidevice.py."""
import os
import subprocess
import sys

import numpy as np
import pytest

from code_t5.train import checkpoint_files
from code_t5.train import trainer_runs
from conftest import REPO_ROOT, run_command

pytestmark = pytest.mark.skipif(
    trainer_runs.installed_trainer() != "t5x",
    reason="T5X is not importable: it is not on PyPI (README, 'Training with T5X')")
GIN = "code_t5/gin_configs/t5x"
MODEL = [f"--gin_file={GIN}/models/t5_1_1_tiny.gin"]
TASK = [f"--gin_file={GIN}/mesh/cpu.gin", f"--gin_file={GIN}/tasks/flcc_dev_python_full_line.gin",
        "--gin.BATCH_SIZE=8", "--gin.train.eval_steps=2"]
BASE_STEPS, LORA_STEPS = 2, 30
EVAL = "training_eval/flcc_dev_python_full_line"


def _t5x(binary: str, data_dir: str, *flags: str) -> subprocess.CompletedProcess:
  return subprocess.run([sys.executable, "-m", f"t5x.{binary}", *flags], capture_output=True,
                        text=True, cwd=REPO_ROOT, env={**os.environ, "CODE_T5_DATA_DIR": data_dir})


def _lora(data_dir: str, model_dir: str, base: str, steps: int, *flags: str):
  return _t5x("train", data_dir, *MODEL, f"--gin_file={GIN}/runs/finetune_lora.gin", *TASK,
              f"--gin.MODEL_DIR='{model_dir}'", f"--gin.INITIAL_CHECKPOINT_PATH='{base}'",
              f"--gin.TRAIN_STEPS={steps}", f"--gin.train.eval_period={steps - BASE_STEPS}",
              f"--gin.utils.SaveCheckpointConfig.period={steps - BASE_STEPS}", *flags)


@pytest.fixture(scope="module")
def runs(tmp_path_factory, data_dir):
  """A base checkpoint (BASE_STEPS of pre-training) and a LoRA run on it (rank 8 on every
  attention and MLP kernel)."""
  root = tmp_path_factory.mktemp("lora")
  base_dir, lora_dir = str(root / "base"), str(root / "lora")
  result = _t5x("train", data_dir, *MODEL, f"--gin_file={GIN}/runs/pretrain.gin", *TASK,
                f"--gin.MODEL_DIR='{base_dir}'", f"--gin.TRAIN_STEPS={BASE_STEPS}",
                f"--gin.train.eval_period={BASE_STEPS}")
  assert result.returncode == 0, result.stderr[-4000:]
  base = os.path.join(base_dir, f"checkpoint_{BASE_STEPS}")
  result = _lora(data_dir, lora_dir, base, BASE_STEPS + LORA_STEPS,
                 "--gin.LORA_TARGETS='.*(attention/(query|key|value|out)|mlp/(wi_0|wi_1|wo))'")
  assert result.returncode == 0, result.stderr[-4000:]
  return {"data": data_dir, "root": root, "base": base, "base_dir": base_dir,
          "lora_dir": lora_dir,
          "lora": os.path.join(lora_dir, f"checkpoint_{BASE_STEPS + LORA_STEPS}")}


def _flat(path: str) -> dict:
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  from code_t5.train import checkpoint_checks  # pylint: disable=g-import-not-at-top
  return {k: np.asarray(v) for k, v in traverse_util.flatten_dict(
      checkpoint_checks.checkpoint_params(path), sep="/").items()}


def test_only_adapters_train_the_base_is_bit_identical_and_the_loss_falls(runs):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  base, tuned = _flat(runs["base"]), _flat(runs["lora"])
  adapters = sorted(set(tuned) - set(base))
  assert set(base) <= set(tuned)
  assert all(k.endswith(("_lora_a", "_lora_b")) for k in adapters)
  # Every attention (q, k, v, o) and MLP (wi_0, wi_1, wo) kernel of both stacks: 2 + 2 layers.
  assert len(adapters) == 2 * (2 * 7 + 2 * 11), len(adapters)
  changed = [k for k in base if base[k].tobytes() != tuned[k].tobytes()]
  assert not changed, changed
  assert all(np.abs(tuned[k]).max() > 0 for k in adapters if k.endswith("_lora_b"))  # from 0
  query = "encoder/layers_0/attention/query/kernel"
  assert tuned[query + "_lora_a"].shape == (64, 8) and tuned[query + "_lora_b"].shape == (8, 64)
  # The frozen base carries no optimizer state; the adapters carry Adafactor's.
  state = traverse_util.flatten_dict(ocp.PyTreeCheckpointer().restore(
      os.path.join(runs["lora"], "state"))["state"]["param_states"], sep="/")
  assert all(v is None for k, v in state.items() if "_lora_" not in k)
  assert any(v is not None for k, v in state.items() if "_lora_" in k)
  before = checkpoint_files.read_scalars(os.path.join(runs["base_dir"], EVAL), "loss")
  after = checkpoint_files.read_scalars(os.path.join(runs["lora_dir"], EVAL), "loss")
  print(f"held-out loss: base {before}, LoRA {after}")
  assert after[BASE_STEPS + LORA_STEPS] < 0.9 * before[BASE_STEPS], (before, after)


def _logits(path: str, params: dict, adapted: bool):
  """The tiny model's logits on a fixed batch, jitted as T5X runs it (qwix needs a trace)."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  from code_t5.train import lora, t5x_restore  # pylint: disable=g-import-not-at-top
  with open(os.path.join(path, "config.gin")) as f:
    config = f.read()
  model = t5x_restore.build_model(gin_text=t5x_restore.without_train_script(
      config, adapters=adapted))
  if adapted:
    model = lora.adapt(model, **lora.settings_of(config))
  tokens = jnp.asarray(np.random.default_rng(0).integers(3, 200, (2, 16)), jnp.int32)
  return np.asarray(jax.jit(lambda p: model.module.apply(
      {"params": traverse_util.unflatten_dict(p, sep="/")}, tokens, tokens, tokens,
      enable_dropout=False))(params))


def test_merged_checkpoint_gives_the_unmerged_logits_and_loads_in_t5x_infer(runs, tmp_path):
  merged_dir = str(tmp_path / "merged")
  result = run_command("merge-lora", f"--checkpoint={runs['lora_dir']}",
                       f"--output_dir={merged_dir}")
  assert result.returncode == 0, result.stderr[-3000:]
  assert "Merged 36 adapted kernels (rank 8, alpha 16.0" in result.stdout, result.stdout
  merged = os.path.join(merged_dir, f"checkpoint_{BASE_STEPS + LORA_STEPS}")
  params = _flat(merged)
  assert set(params) == set(_flat(runs["base"]))  # a standard checkpoint of the base model
  unmerged = _logits(runs["lora_dir"], _flat(runs["lora"]), adapted=True)
  merged_logits = _logits(merged_dir, params, adapted=False)
  base_logits = _logits(runs["base_dir"], _flat(runs["base"]), adapted=False)
  assert np.abs(unmerged - base_logits).max() > 1e-2  # the adapters change the model
  np.testing.assert_allclose(merged_logits, unmerged, rtol=1e-4, atol=1e-4)

  # Loaded unchanged by t5x.infer (the model's own gin files, the merged checkpoint).
  result = _t5x("infer", runs["data"], *MODEL, f"--gin_file={GIN}/runs/infer.gin",
                *TASK[:2], f"--gin.CHECKPOINT_PATH='{merged}'",
                f"--gin.INFER_OUTPUT_DIR='{tmp_path / 'infer'}'")
  assert result.returncode == 0, result.stderr[-3000:]
  assert any(name.startswith("flcc_dev_python_full_line-predict")
             for name in os.listdir(tmp_path / "infer"))


def test_adapters_alone_are_small_and_a_lora_checkpoint_is_refused_where_merged_is_needed(
    runs, tmp_path):
  result = run_command("merge-lora", f"--checkpoint={runs['lora']}",
                       f"--output_dir={tmp_path / 'adapters'}", "--adapters_only")
  assert result.returncode == 0, result.stderr[-3000:]
  with np.load(tmp_path / "adapters" / "adapters.npz") as saved:
    tuned = _flat(runs["lora"])
    assert sorted(saved.files) == sorted(k for k in tuned if "_lora_" in k)
    assert all(np.array_equal(saved[k], tuned[k]) for k in saved.files)
  size = os.path.getsize(tmp_path / "adapters" / "adapters.npz")
  full = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(runs["lora"])
             for f in fs)
  print(f"adapters {size} bytes, the LoRA run's checkpoint {full} bytes")
  assert size < full / 3
  # The completer (the server's) would rebuild the base model and drop the adapters: refused.
  from code_t5 import errors  # pylint: disable=g-import-not-at-top
  from code_t5.autocomplete import t5x_completer  # pylint: disable=g-import-not-at-top
  with pytest.raises(errors.UsageError, match="merge its adapters"):
    t5x_completer.T5XCompleter(runs["lora_dir"], warm_up=False)


@pytest.mark.parametrize("flag,message", [
    ("--gin.LORA_RANK=0", r"error: lora.adapt.rank = 0: the adapters' rank must be"),
    ("--gin.LORA_TARGETS='.*no_such_module'",
     r"error: lora.adapt.targets = '.\*no_such_module' matches no module with a kernel"),
])
def test_a_bad_setting_fails_in_one_line_naming_it(runs, tmp_path, flag, message):
  import re  # pylint: disable=g-import-not-at-top
  result = _lora(runs["data"], str(tmp_path / "m"), runs["base"], BASE_STEPS + 2, flag)
  assert result.returncode != 0
  assert re.search(message, result.stderr), result.stderr[-3000:]
  assert "Traceback" not in result.stderr, result.stderr[-3000:]


def test_adapters_of_another_model_fail_in_one_line(runs, tmp_path):
  """A config.gin whose model has other widths than the checkpoint the adapters were
  trained on: the merge names the mismatch instead of writing a broken checkpoint."""
  import shutil  # pylint: disable=g-import-not-at-top
  other = tmp_path / "other"
  shutil.copytree(runs["lora"], other / os.path.basename(runs["lora"]))
  config = open(os.path.join(runs["lora_dir"], "config.gin")).read()
  (other / "config.gin").write_text(config.replace("network.T5Config.mlp_dim = 128",
                                                   "network.T5Config.mlp_dim = 256"))
  result = run_command("merge-lora", f"--checkpoint={other}", f"--output_dir={tmp_path / 'o'}")
  assert result.returncode != 0
  lines = result.stderr.strip().splitlines()
  assert len(lines) == 1 and "adapters of another model" in lines[0], result.stderr[-3000:]
