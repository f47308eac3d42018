"""End to end with T5X: train, eval, infer on the dev dataset (runs where T5X imports)."""
import json
import os
import subprocess
import sys

import pytest

from code_t5.train import trainer_runs
from code_t5.train import checkpoint_files
from conftest import run_command

pytestmark = pytest.mark.skipif(
    trainer_runs.installed_trainer() != "t5x",
    reason="T5X is not importable: it is not on PyPI (install the `t5x` extra as README.md "
           "says, with network access)")
GIN = "code_t5/gin_configs/t5x"


@pytest.fixture(scope="module")
def env(tmp_path_factory):
  data = tmp_path_factory.mktemp("data")
  env = {**os.environ, "CODE_T5_DATA_DIR": str(data)}
  result = run_command("make-dev-dataset", env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  return env


def _t5x(binary, env, *flags):
  result = subprocess.run([sys.executable, "-m", f"t5x.{binary}", *flags], capture_output=True,
                          text=True, env=env)
  assert result.returncode == 0, result.stderr[-4000:]
  return result


@pytest.mark.parametrize("config,task", [
    ("dev.gin", "flcc_dev_python_span_corruption"),
    ("dev.gin", "flcc_dev_python_full_line"),
    ("dev_decoder_only.gin", "flcc_dev_python_lm"),
    ("dev_decoder_only.gin", "flcc_dev_python_full_line"),
])
def test_dev_model_trains_20_steps_and_improves(env, tmp_path, config, task):
  model_dir = str(tmp_path / "model")
  _t5x("train", env, f"--gin_file={GIN}/{config}", f"--gin_file={GIN}/tasks/{task}.gin",
       f"--gin.MODEL_DIR='{model_dir}'", "--gin.TRAIN_STEPS=20", "--gin.train.eval_period=20")
  assert os.path.isdir(os.path.join(model_dir, "checkpoint_20"))
  loss = checkpoint_files.read_scalars(os.path.join(model_dir, "training_eval"),
                               "loss_per_all_target_tokens")
  assert sorted(loss) == [0, 20] and loss[20] < 0.8 * loss[0], loss


def test_full_line_eval_and_infer_score_with_our_metrics(env, tmp_path):
  model_dir = str(tmp_path / "model")
  model = f"--gin_file={GIN}/models/t5_1_1_tiny.gin"
  task = f"--gin_file={GIN}/tasks/flcc_dev_python_full_line.gin"
  mesh = f"--gin_file={GIN}/mesh/cpu.gin"
  _t5x("train", env, f"--gin_file={GIN}/dev.gin", task, f"--gin.MODEL_DIR='{model_dir}'",
       "--gin.TRAIN_STEPS=20", "--gin.train.eval_period=20")
  checkpoint = f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_20'"
  result = _t5x("eval", env, model, f"--gin_file={GIN}/runs/eval.gin", mesh, task, checkpoint,
                f"--gin.EVAL_OUTPUT_DIR='{tmp_path / 'eval'}'")
  assert "flcc_dev_python_full_line/codexglue_edit_similarity at step 20" in result.stderr
  with open(tmp_path / "eval" / "inference_eval" /
            "flcc_dev_python_full_line-metrics.jsonl") as f:
    evaluated = json.loads(f.readlines()[-1])

  _t5x("infer", env, model, f"--gin_file={GIN}/runs/infer.gin", mesh, task, checkpoint,
       f"--gin.INFER_OUTPUT_DIR='{tmp_path / 'infer'}'")
  result = run_command("score-full-line",
                      f"--predictions={tmp_path / 'infer'}/flcc_dev_python_full_line-predict*")
  assert result.returncode == 0, result.stderr[-2000:]
  scores = json.loads(result.stdout)
  # The cut is a function of the file: infer scored offline gives what t5x.eval computed.
  assert scores["examples"] > 50
  for metric in ("codexglue_exact_match", "codexglue_edit_similarity", "exact_match",
                 "edit_similarity"):
    assert scores[metric] == pytest.approx(evaluated[metric], abs=1e-6), metric

  # What a user gets wrong fails in one line inside t5x.eval itself, no traceback.
  out = f"--gin.EVAL_OUTPUT_DIR='{tmp_path / 'eval2'}'"
  wrong_size = f"--gin_file={GIN}/models/t5_1_1_small.gin"
  for flags, expected in [
      ((model, f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_2000'"),
       f"error: checkpoint {model_dir}/checkpoint_2000 does not exist; checkpoints in "
       f"{model_dir}: checkpoint_0, checkpoint_20."),
      ((wrong_size, checkpoint),
       f"error: checkpoint {model_dir}/checkpoint_20 does not fit the model "
       "(EncoderDecoderModel): decoder: 2 layers in the checkpoint, 8 in the model; encoder: 2 "
       "layers in the checkpoint, 8 in the model;"),
      ((model, checkpoint, "--gin.MIXTURE_OR_TASK_NAME='flcc_dev_pyton_full_line'"),
       "error: flcc_dev_pyton_full_line: no task or mixture of that name is registered; did "
       "you mean flcc_dev_python_full_line,"),
  ]:
    result = subprocess.run([sys.executable, "-m", "t5x.eval", flags[0],
                             f"--gin_file={GIN}/runs/eval.gin", mesh, task, *flags[1:], out],
                            capture_output=True, text=True, env=env)
    last = result.stderr.strip().splitlines()[-1]
    assert result.returncode != 0 and last.startswith(expected), result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]


def test_conala_rewrite_model_trains_then_rewrites_mined_pairs(tmp_path):
  sys.path.insert(0, os.path.dirname(__file__))
  import conala_fixtures  # pylint: disable=g-import-not-at-top
  env = {**os.environ, "CODE_T5_DATA_DIR": str(tmp_path / "data")}
  corpus = conala_fixtures.write_corpus(str(tmp_path / "corpus"), num_mined=20)
  assert run_command("export-conala", f"--from_disk={corpus}", env=env).returncode == 0
  model_dir = tmp_path / "model"
  _t5x("train", env, f"--gin_file={GIN}/conala_rewrite_dev.gin", f"--gin.MODEL_DIR='{model_dir}'",
       "--gin.TRAIN_STEPS=10", "--gin.train.eval_period=10")
  out = tmp_path / "rewritten.jsonl"
  rewritten = {}
  for decoding in ("greedy", "beam", "temperature", "greedy"):
    result = run_command("rewrite-conala-mined", f"--out={out}", f"--decoding={decoding}",
                        f"--checkpoint={model_dir}/checkpoint_10", "--batch_size=8",
                        f"--model_gin={GIN}/models/t5_1_1_tiny.gin", "--inputs_length=256",
                        "--targets_length=16", env=env)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    assert [x["id"] for x in lines] == [conala_fixtures.mined_row(i)["id"] for i in range(20)]
    intents = [x["rewritten_intent"] for x in lines]
    # Greedy decoding is deterministic: the second greedy run rewrites exactly as the first.
    assert rewritten.setdefault(decoding, intents) == intents, decoding
    out.unlink()
  assert rewritten["temperature"] != rewritten["greedy"]


def test_lm_launcher_trains_resumes_exports_and_completes(env, tmp_path):
  """The autocomplete recipe: launcher (env settings) -> resume -> t5x.export -> completer."""
  model_dir = tmp_path / "lm"
  settings = {**env, "RESTORE_FROM": "latest", "LEARNING_RATE": "0.01", "SAVE_EVERY": "10",
              "VAL_EVERY": "10", "VAL_BATCH": "2"}
  for steps in (10, 20):  # the second run resumes from checkpoint_10
    result = run_command("train-lm", f"--model_dir={model_dir}", f"--train_steps={steps}",
                        env=settings)
    assert result.returncode == 0, result.stderr[-3000:]
  assert "step       20  val_loss" in result.stdout
  config = (model_dir / "config.gin").read_text()
  assert "utils.SaveCheckpointConfig.period = 10" in config
  assert "base_learning_rate = 0.01" in config

  export = tmp_path / "export"
  _t5x("export", env, f"--gin_file={GIN}/models/decoder_only_tiny.gin",
       f"--gin_file={GIN}/runs/export_lm.gin", f"--gin.CHECKPOINT_PATH='{model_dir}/checkpoint_20'",
       f"--gin.MODEL_OUTPUT_DIR={{'cpu': '{export}/1'}}")
  from code_t5.autocomplete import completers  # pylint: disable=g-import-not-at-top
  completer = completers.SavedModelCompleter(str(export))
  prompt = "import os\ndef "
  # The export samples BEAM_SIZE (4) completions and generates text, not padding only.
  raw = [output.decode("utf-8", "replace") for output in completer.raw_outputs(prompt)]
  assert len(raw) == 4 and any(text.strip() for text in raw), raw
  # Suggestions are their first lines, distinct and non-blank, cut to max_length, best first
  # (a 20-step model may well answer a line break first: then there are fewer, or none).
  expected = []
  for text in raw:
    line = text.split("\n", 1)[0][:10]
    if line.strip() and line not in expected:
      expected.append(line)
  assert completer.complete(prompt, k=3, max_length=10) == expected[:3]
