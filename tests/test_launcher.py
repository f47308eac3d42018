"""The training launcher's settings and their mapping onto each trainer (no trainer needed:
the commands are checked as data; test_train_t5x.py and test_train_mtf.py run them)."""
import json
import os
import re
import subprocess


import pytest

from code_t5.train import launcher
from conftest import command

ENV = {"RESTORE_FROM": "latest", "LEARNING_RATE": "0.02", "SAVE_EVERY": "300",
       "VAL_EVERY": "200", "VAL_BATCH": "7", "VAL_DATASET": "flcc_dev_python_full_line:test"}


def _flags(command: list[str]) -> dict[str, str]:
  return dict(flag[2:].split("=", 1) for flag in command if flag.startswith("--") and "=" in flag)


def test_environment_variables_map_onto_t5x_settings(tmp_path):
  settings, extra = launcher.parse([f"--model_dir={tmp_path}", "--trainer=t5x",
                                    "--gin.RANDOM_SEED=3"], ENV)
  assert extra == ["--gin.RANDOM_SEED=3"]  # passed through to the trainer
  flags = _flags(launcher.t5x_command(settings))
  assert flags["gin.utils.create_learning_rate_scheduler.base_learning_rate"] == "0.02"
  assert flags["gin.utils.SaveCheckpointConfig.period"] == "300"
  assert flags["gin.train.eval_period"] == "200"
  assert flags["gin.train.eval_steps"] == "7"
  assert flags["gin.train_eval/utils.DatasetConfig.mixture_or_task_name"] == \
      "'flcc_dev_python_full_line'"
  assert flags["gin.train_eval/utils.DatasetConfig.split"] == "'test'"
  assert flags["gin.MODEL_DIR"] == repr(str(tmp_path))
  assert "gin.utils.RestoreCheckpointConfig.path" not in flags  # latest: T5X's own resume
  for gin_file in [v for k, v in flags.items() if k == "gin_file"]:
    assert os.path.exists(gin_file)


def test_flags_override_the_environment_and_restore_from_a_checkpoint(tmp_path):
  checkpoint = tmp_path / "pretrained" / "checkpoint_5000"
  checkpoint.mkdir(parents=True)
  settings, _ = launcher.parse([f"--model_dir={tmp_path / 'run'}", "--trainer=t5x",
                                "--learning_rate=0.5", f"--restore_from={checkpoint}"], ENV)
  flags = _flags(launcher.t5x_command(settings))
  assert flags["gin.utils.create_learning_rate_scheduler.base_learning_rate"] == "0.5"
  assert flags["gin.utils.RestoreCheckpointConfig.path"] == repr(str(checkpoint))
  assert flags["gin.utils.RestoreCheckpointConfig.mode"] == "'specific'"


def test_mesh_tf_validates_between_training_segments_and_resumes(tmp_path, monkeypatch):
  env = {**ENV, "VAL_DATASET": "", "SAVE_EVERY": "10", "VAL_EVERY": "10"}
  settings, _ = launcher.parse([f"--model_dir={tmp_path}", "--trainer=mtf",
                                "--train_steps=25"], env)
  assert settings.task == "flcc_dev_python_prefix_lm" and settings.validation() == (
      "flcc_dev_python_prefix_lm", "validation")
  train = _flags(launcher.mtf_command(settings, 20, evaluate=False))
  evaluate = _flags(launcher.mtf_command(settings, 20, evaluate=True))
  params = [f for f in launcher.mtf_command(settings, 20, False) if "gin_param" in f]
  assert "--gin_param=utils.run.train_steps=20" in params
  assert "--gin_param=utils.run.save_checkpoints_steps=10" in params
  assert "--gin_param=constant_learning_rate.learning_rate=0.02" in params
  assert train["model_dir"] == evaluate["model_dir"] == str(tmp_path)
  eval_params = [f for f in launcher.mtf_command(settings, 20, True) if "gin_param" in f]
  assert "--gin_param=eval_checkpoint_step=20" in eval_params
  assert "--gin_param=utils.run.perplexity_eval_steps=7" in eval_params

  # Segments end at 10, 20 and 25; a run that stopped after step 10 redoes only 20 and 25.
  (tmp_path / "model.ckpt-10.index").write_text("")
  ran = []
  monkeypatch.setattr(launcher, "_run", ran.append)
  launcher.launch(settings, [])
  steps = [next(f for f in cmd if re.search(r"train_steps=|eval_checkpoint_step=", f))
           for cmd in ran]
  assert [s.rsplit("=", 1)[1] for s in steps] == ["20", "20", "25", "25"]
  recorded = json.load(open(tmp_path / "launch.json"))
  assert recorded["settings"]["val_batch"] == 7 and len(recorded["commands"]) == 4


def _launch(tmp_path, env, *flags):
  return subprocess.run([*command("train-lm"), f"--model_dir={tmp_path}",
                         *flags], capture_output=True, text=True,
                        env={**os.environ, **env})


@pytest.mark.parametrize("env,message", [
    ({"LEARNING_RATE": "-1"}, "LEARNING_RATE=-1.0: must be a positive number"),
    ({"VAL_EVERY": "0"}, "VAL_EVERY=0: must be a positive integer"),
    ({"RESTORE_FROM": "/no/such/checkpoint"}, "RESTORE_FROM='/no/such/checkpoint'"),
    ({"TRAINER": "keras"}, "TRAINER='keras'"),
])
def test_bad_settings_fail_early_with_the_variable_named(tmp_path, monkeypatch, capsys, env,
                                                         message):
  for name, value in env.items():
    monkeypatch.setenv(name, value)
  assert launcher.main([f"--model_dir={tmp_path}"]) == 2
  assert message in capsys.readouterr().err


def test_a_value_that_is_not_a_number_names_flag_and_variable(tmp_path):
  result = _launch(tmp_path, {"LEARNING_RATE": "fast"})
  assert result.returncode == 2 and "(flag --learning_rate or env LEARNING_RATE)" in \
      result.stderr, result.stderr[-2000:]
  assert "Traceback" not in result.stderr


def test_restore_no_refuses_a_model_dir_with_checkpoints(tmp_path):
  (tmp_path / "checkpoint_100").mkdir()
  result = _launch(tmp_path, {"RESTORE_FROM": "no", "TRAINER": "t5x"})
  assert result.returncode == 2
  assert "already holds checkpoints (latest: step 100)" in result.stderr


def test_validation_loss_is_cross_entropy_per_non_padding_token(tmp_path):
  import tensorflow as tf
  from tensorflow.core.util import event_pb2
  (tmp_path / "training_eval" / "task").mkdir(parents=True)
  path = str(tmp_path / "training_eval" / "task" / "events.out.tfevents.1")
  with tf.io.TFRecordWriter(path) as writer:  # as T5X writes them; half the targets padding
    for tag, value in (("cross_ent_loss_per_all_target_tokens", 1.5),
                       ("non_padding_fraction/loss_weights", 0.5)):
      event = event_pb2.Event(step=100, summary=tf.compat.v1.Summary(
          value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=value)]))
      writer.write(event.SerializeToString())
  settings = launcher.Settings(model_dir=str(tmp_path), trainer="t5x")
  assert launcher.validation_losses(settings) == pytest.approx({100: 3.0})


def test_docker_image_runs_the_launcher_with_volumes_for_data_and_checkpoints():
  dockerfile = open("Dockerfile").read()
  assert 'ENTRYPOINT ["code_t5-entrypoint"]' in dockerfile  # docker/entrypoint.sh, which ends:
  assert 'exec code-t5-train-lm "$@"' in open("docker/entrypoint.sh").read()
  assert 'VOLUME ["/data", "/checkpoints"]' in dockerfile
  env = dict(re.findall(r"(\w+)=(\S+)", dockerfile.split("ENV", 1)[1].split("VOLUME")[0]))
  assert env["CODE_T5_DATA_DIR"] == "/data" and env["MODEL_DIR"] == "/checkpoints"
  settings, _ = launcher.parse(["--trainer=mtf"], {**env, **ENV})  # what the container sees
  assert settings.model_dir == "/checkpoints" and settings.restore_from == "latest"


def test_local_processes_share_the_cores_and_what_the_user_set_wins(monkeypatch):
  from code_t5.train import multiprocess  # pylint: disable=g-import-not-at-top
  monkeypatch.setattr(os, "cpu_count", lambda: 8)
  got = multiprocess.local_thread_settings(4, 2, {"XLA_FLAGS": "--xla_dump_to=/tmp/d"})
  assert got == {"XLA_FLAGS": "--xla_dump_to=/tmp/d --xla_cpu_multi_thread_eigen=false",
                 "TF_NUM_INTRAOP_THREADS": "2", "TF_NUM_INTEROP_THREADS": "2"}
  # Fewer devices than cores: XLA keeps its threads; the user's settings stay as they are.
  assert multiprocess.local_thread_settings(2, 1, {"TF_NUM_INTRAOP_THREADS": "3"}) == {
      "TF_NUM_INTEROP_THREADS": "4"}
  assert "XLA_FLAGS" not in multiprocess.local_thread_settings(
      2, 4, {"XLA_FLAGS": "--xla_cpu_multi_thread_eigen=true"})
