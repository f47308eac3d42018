"""End to end with the Mesh TF trainer: runs on the legacy stack (requirements/mtf.txt). Training,
perplexity and decoding evals and inference of the dev model: test_intro.py (INTRO's `bash mtf`
blocks, as written)."""
import json
import math
import os
import re
import subprocess

import pytest

from code_t5.train import trainer_runs
from conftest import autocomplete_server, command, run_command

pytestmark = pytest.mark.skipif(
    trainer_runs.installed_trainer() != "mtf",
    reason="needs the Mesh TF stack (TF 2.15 with tf.estimator): requirements/mtf.txt; "
           ".ci/run builds it and runs this test there")
DEV = "code_t5/gin_configs/mtf/dev.gin"


def _mtf(model_dir, env, *flags):
  result = subprocess.run([*command("mtf"), f"--model_dir={model_dir}",
                           f"--gin_file={DEV}", *flags], capture_output=True, text=True, env=env)
  assert result.returncode == 0, result.stderr[-4000:]
  return result


def test_every_mtf_config_parses_with_mesh_tensorflow():
  import gin
  from code_t5.train import mesh_tf as mtf
  mtf.apply_tf_compat()
  import mesh_tensorflow.transformer  # noqa: F401  (registers the configurables)
  from t5.models import mesh_transformer  # noqa: F401
  t5_gin = os.path.join(os.path.dirname(mesh_transformer.__file__), "gin")
  gin.add_config_file_search_path(t5_gin)
  root = "code_t5/gin_configs/mtf"
  for size in ("tiny", "base"):
    for mesh in ("cpu", "gpu_1", "tpu_v3_8", "tpu_v4_32"):
      gin.clear_config()
      gin.parse_config_files_and_bindings(
          [f"{root}/{size}/shared-prefix_lm.gin", f"{root}/dataset.gin", f"{root}/mesh/{mesh}.gin"],
          [], finalize_config=False, skip_unknown=False)
      assert gin.query_parameter("%MIXTURE_NAME") == "flcc_all_prefix_lm"
  gin.clear_config()
  gin.parse_config_files_and_bindings([f"{root}/dev.gin"], [], finalize_config=False)
  assert gin.query_parameter("%MIXTURE_NAME") == "flcc_dev_python_prefix_lm"


def test_tiny_model_trains_exports_serves_and_replays(tmp_path):
  """Launcher -> export_infer -> /autocomplete server -> replay, all on the Mesh TF stack."""
  env = {**os.environ, "CODE_T5_DATA_DIR": str(tmp_path / "data")}
  assert run_command("make-dev-dataset", env=env).returncode == 0
  model_dir, export = str(tmp_path / "model"), str(tmp_path / "export")
  # The recipe's launcher, configured the way the Docker image is: environment variables.
  result = run_command("train-lm", f"--model_dir={model_dir}", "--train_steps=20",
                      env={**env, "RESTORE_FROM": "no", "LEARNING_RATE": "0.01",
                           "SAVE_EVERY": "10", "VAL_EVERY": "10", "VAL_BATCH": "2",
                           "VAL_DATASET": "flcc_dev_python_prefix_lm:validation"})
  assert result.returncode == 0, result.stderr[-3000:]
  val_loss = {int(step): float(loss) for step, loss in
              re.findall(r"step +(\d+) +val_loss ([\d.]+)", result.stdout)}
  assert sorted(val_loss) == [10, 20] and val_loss[20] < val_loss[10] < math.log(384)
  operative = open(os.path.join(model_dir, "operative_config.gin")).read()
  assert "learning_rate = 0.01" in operative and "save_checkpoints_steps = 10" in operative
  assert json.load(open(os.path.join(model_dir, "launch.json")))["settings"]["val_every"] == 10
  _mtf(model_dir, env, "--gin_param=utils.run.mode='export_infer'",
       f"--gin_param=utils.run.export_path='{export}'",
       "--gin_param=utils.run.batch_size=('sequences_per_batch', 1)",
       "--gin_param=Bitransformer.decode.max_decode_length=16")
  with autocomplete_server(f"savedmodel:{export}", env=env) as (url, _):
    import httpx  # pylint: disable=g-import-not-at-top
    response = httpx.post(f"{url}/autocomplete", json={"text": "import os\ndef "}, timeout=60)
    # What the server answers is what the export gives in this process with the same settings.
    from code_t5.autocomplete import completers, replay  # pylint: disable=g-import-not-at-top
    from code_t5.autocomplete import server as server_lib  # pylint: disable=g-import-not-at-top
    defaults = {name: field.default for name, field in
                server_lib.AutocompleteRequest.model_fields.items()
                if name not in ("text", "suffix")}
    completer = completers.SavedModelCompleter(str(export))
    assert response.status_code == 200
    assert response.json()["result"] == completer.complete("import os\ndef ", **defaults)
    held_out = tmp_path / "held_out"
    held_out.mkdir()
    text = "import os\nimport sys\n\ndef main():\n    return 0\n"
    (held_out / "a.py").write_text(text)
    result = run_command("eval-autocomplete", url, str(held_out), "--files=1", env=env)
    assert result.returncode == 0, result.stderr[-2000:]
    report = json.loads(result.stdout)
    expected = replay.replay(lambda prefix: completer.complete(prefix, **defaults),
                                   [(str(held_out / "a.py"), text)])
    assert report["queries"] == 7  # a query before each of the 8 words but the first
    for metric in ("exact_next_word", "full_line_exact_match", "full_line_edit_similarity",
                   "accuracy"):
      assert report[metric] == expected[metric], metric
