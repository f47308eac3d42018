"""The code-search dual encoder: its loss by hand (JAX), and the T5X model end to end (where
T5X imports): trains on an exported CodeSearchNet split, embeds, initialises from T5."""
import importlib.util
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import run_command

HAS_T5X = importlib.util.find_spec("t5x") is not None
needs_t5x = pytest.mark.skipif(not HAS_T5X, reason="T5X is not importable: it is not on PyPI "
                               "(install the `t5x` extra as README.md says, with network access)")
GIN = "code_t5/gin_configs/t5x"


@pytest.mark.parametrize("passages,symmetric,loss,accuracy", [
    # Own passage scores 1, the other 0, temperature 1: -log(e / (e + 1)) per row.
    ([[1.0, 0.0], [0.0, 1.0]], True, math.log(1 + math.exp(-1)), 1.0),
    # Passages swapped: the positive scores 0 and the negative 1: -log(1 / (1 + e)).
    ([[0.0, 1.0], [1.0, 0.0]], True, math.log(1 + math.e), 0.0),
    # Three rows, one direction: row 0 [1, .6, 0] -> -log(e / (e + e^.6 + 1)); rows 1, 2 alike.
    ([[1.0, 0.0], [0.6, 0.8], [0.0, 1.0]], False, None, 1.0),
])
def test_info_nce_matches_the_hand_computed_loss(passages, symmetric, loss, accuracy):
  from code_t5.models.contrastive_loss import info_nce
  queries = np.array(passages if len(passages) == 3 else [[1.0, 0.0], [0.0, 1.0]], np.float32)
  got_loss, got_accuracy = info_nce(queries, np.array(passages, np.float32), 1.0, symmetric)
  if loss is None:  # logits = P P^T; the mean over rows of -log softmax(row)[i]
    logits = np.array(passages) @ np.array(passages).T
    loss = np.mean([-(logits[i, i] - np.log(np.exp(logits[i]).sum())) for i in range(3)])
  assert float(got_loss) == pytest.approx(loss, rel=1e-5)
  assert float(got_accuracy) == accuracy


def test_lower_temperature_sharpens_the_loss():
  from code_t5.models.contrastive_loss import info_nce
  q = np.eye(4, dtype=np.float32)
  assert float(info_nce(q, q, 0.05)[0]) < float(info_nce(q, q, 1.0)[0])


@needs_t5x
def test_a_config_gin_written_before_the_move_to_models_still_loads():
  """Runs trained before the dual encoder moved to code_t5/models/ name its old module in their
  config.gin; that import still gives the same class."""
  import gin  # pylint: disable=g-import-not-at-top
  from code_t5.models import dual_encoder  # pylint: disable=g-import-not-at-top
  gin.clear_config()
  try:
    gin.parse_config("from __gin__ import dynamic_registration\n"
                     "from code_t5.train import dual_encoder\n"
                     "dual_encoder.DualEncoderModel.temperature = 0.25\n")
    with gin.config_scope(None):
      configured = gin.get_configurable(dual_encoder.DualEncoderModel)
    model = configured(module=None, vocabulary=None, optimizer_def=None)
    assert isinstance(model, dual_encoder.DualEncoderModel) and model.temperature == 0.25
  finally:
    gin.clear_config()


@pytest.fixture(scope="module")
def csn_env(tmp_path_factory):
  sys.path.insert(0, os.path.dirname(__file__))
  import csn_fixtures  # pylint: disable=g-import-not-at-top
  root = tmp_path_factory.mktemp("csn")
  env = {**os.environ, "CODE_T5_DATA_DIR": str(root / "data")}
  corpus = csn_fixtures.write_corpus(str(root / "corpus"))
  result = run_command("export-codesearchnet", f"--from_disk={corpus}", env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  return env


def _train(env, *flags):
  result = subprocess.run([sys.executable, "-m", "t5x.train", *flags], capture_output=True,
                          text=True, env=env)
  assert result.returncode == 0, result.stderr[-4000:]
  return result


@needs_t5x
def test_dual_encoder_trains_and_embeds_with_the_search_loader(csn_env, tmp_path):
  model_dir = tmp_path / "model"
  _train(csn_env, f"--gin_file={GIN}/dual_encoder_dev.gin", f"--gin.MODEL_DIR='{model_dir}'",
         "--gin.TRAIN_STEPS=4", "--gin.BATCH_SIZE=4", "--gin.train.eval_period=4",
         "--gin.train.eval_steps=1")
  from code_t5.models import dual_encoder  # pylint: disable=g-import-not-at-top
  encoder = dual_encoder.load_encoder(str(model_dir))
  queries = encoder.embed_queries(["read a json file", "sort a list", "x"])
  code = encoder.embed_code(["def f(path):\n  return json.load(open(path))"])
  assert queries.shape == (3, 256) and code.shape == (1, 256)
  np.testing.assert_allclose(np.linalg.norm(queries, axis=1), 1.0, rtol=1e-4)
  again = dual_encoder.Encoder(str(model_dir / "checkpoint_4")).embed_queries(["sort a list"])
  np.testing.assert_allclose(again[0], queries[1], atol=1e-5)  # batch padding changes nothing


@needs_t5x
def test_dual_encoder_starts_from_a_t5_encoder_decoder_checkpoint(csn_env, tmp_path):
  t5_dir, search_dir = tmp_path / "t5", tmp_path / "search"
  _train(csn_env, f"--gin_file={GIN}/models/t5_1_1_tiny.gin", f"--gin_file={GIN}/runs/pretrain.gin",
         f"--gin_file={GIN}/mesh/cpu.gin", f"--gin_file={GIN}/tasks/flcc_dev_python_lm.gin",
         "--gin.MIXTURE_OR_TASK_NAME='csn_python_code_to_docstring'",
         "--gin.TASK_FEATURE_LENGTHS={'inputs': 64, 'targets': 16}",
         f"--gin.MODEL_DIR='{t5_dir}'", "--gin.TRAIN_STEPS=2", "--gin.BATCH_SIZE=2",
         "--gin.utils.SaveCheckpointConfig.period=2", "--gin.train.eval_period=2",
         "--gin.train.eval_steps=1")
  result = _train(csn_env, f"--gin_file={GIN}/models/dual_encoder_tiny.gin",
         f"--gin_file={GIN}/runs/dual_encoder_from_t5.gin", f"--gin_file={GIN}/mesh/cpu.gin",
         f"--gin_file={GIN}/tasks/csn_python_query_code.gin",
         f"--gin.INITIAL_CHECKPOINT_PATH='{t5_dir}/checkpoint_2'",
         f"--gin.MODEL_DIR='{search_dir}'", "--gin.TRAIN_STEPS=3", "--gin.BATCH_SIZE=2",
         "--gin.utils.SaveCheckpointConfig.period=3",
         "--gin.train.eval_period=3", "--gin.train.eval_steps=1")
  assert (search_dir / "checkpoint_3").is_dir()
  # T5X's own account of the restore: the encoder from the T5 checkpoint, decoder not read.
  assert f"Initializing parameters from specific T5X checkpoint {t5_dir}/checkpoint_2" in \
      result.stderr
