"""The command-line front ends, run in subprocesses as a user runs them."""
import glob
import os
from importlib import metadata
import re

import pytest

import flcc_fixtures
from conftest import REPO_ROOT, run_command

# Every console script the install declared (setup.py): the one front door of each command.
COMMANDS = sorted(e.name[len("code-t5-"):] for e in metadata.entry_points(group="console_scripts")
                  if e.name.startswith("code-t5-"))


@pytest.fixture
def source_tree(tmp_path):
  """A small local source tree: a package, a module, a non-source file, a latin-1 file."""
  src = tmp_path / "mysrc"
  (src / "pkg" / "sub").mkdir(parents=True)
  for i in range(6):
    (src / "pkg" / f"m{i}.py").write_text(flcc_fixtures.python_file(i))
  (src / "pkg" / "sub" / "deep.py").write_text("x = 1\n")
  (src / "tool.py").write_text(flcc_fixtures.python_file(99))
  (src / "README.txt").write_text("not source")
  (src / "pkg" / "old.py").write_bytes("s = 'caf\xe9'\n".encode("latin-1"))
  return src


def test_every_command_is_installed():
  assert len(COMMANDS) >= 20 and "quickstart" in COMMANDS, COMMANDS


@pytest.mark.stack_independent  # argparse's help text
@pytest.mark.parametrize("name", COMMANDS)
def test_help_explains_every_flag(name):
  result = run_command(name, "--help")
  assert result.returncode == 0, result.stderr
  assert "usage:" in result.stdout and "--" in result.stdout


def test_make_dev_dataset_from_a_local_tree(tmp_path, source_tree):
  result = run_command("make-dev-dataset", f"--source_dir={source_tree}",
                      env={"CODE_T5_DATA_DIR": str(tmp_path / "data")})
  assert result.returncode == 0, result.stderr
  assert '"repositories": 2' in result.stdout and '"not_source": 1' in result.stdout
  assert "kept 8 files; skipped: {'not_utf8': 1}" in result.stdout
  v3 = tmp_path / "data" / "flcc_dev_source" / "v3"
  assert sorted(os.listdir(v3 / "languages" / "Python" / ".py" / "mysrc")) == ["pkg", "tool"]
  assert os.path.exists(v3 / "repositories" / "mysrc" / "pkg" / "master" / "paths.json")
  assert glob.glob(str(tmp_path / "data" / "flcc_dev" / "python" / "train.tfrecord-*"))


def test_make_dev_dataset_cuts_an_flcc_root_by_glob(tmp_path, code_tree):
  out = tmp_path / "cut"
  result = run_command("make-dev-dataset", f"--flcc_root={code_tree}", "--pattern=owner1/*",
                      f"--out_root={out}", "--no_prepare")
  assert result.returncode == 0, result.stderr
  assert sorted(os.listdir(out / "v3" / "languages" / "Python" / ".py")) == ["owner1"]
  assert len(os.listdir(out / "v3" / "languages" / "Python" / ".py" / "owner1")) == 4
  # Nested metadata (repositories/repositories/) is copied to the plain layout.
  assert os.path.exists(out / "v3" / "repositories" / "owner1" / "repo1" / "master" / "paths.json")
  result = run_command("make-dev-dataset", f"--flcc_root={code_tree}", "--pattern=nobody*",
                      f"--out_root={out}", "--no_prepare")
  assert result.returncode == 2 and "no repository matches 'nobody*'" in result.stderr


def test_prepare_flcc_reports_bad_input_without_a_traceback(tmp_path):
  result = run_command("prepare-flcc", f"--flcc_root={tmp_path / 'missing'}",
                      f"--out_dir={tmp_path / 'out'}")
  assert result.returncode == 2
  assert f"{tmp_path / 'missing'}: no FLCC tree found" in result.stderr
  assert "Traceback" not in result.stderr
  result = run_command("prepare-flcc", f"--flcc_root={tmp_path}", "--splits=train=2")
  assert result.returncode == 2 and "--splits" in result.stderr


def test_prepare_flcc_summary(tmp_path, code_tree):
  result = run_command("prepare-flcc", f"--flcc_root={code_tree}", f"--out_dir={tmp_path}")
  assert result.returncode == 0, result.stderr
  assert "kept 51 files; skipped: none" in result.stdout
  assert "python" in result.stdout and "java" in result.stdout


@pytest.mark.stack_independent  # sentencepiece over TFRecord shards: no TF API that changed
def test_train_vocab_on_prepared_shards(tmp_path, data_dir):
  model = tmp_path / "v.model"
  result = run_command("train-vocab", f"--prepared_dir={data_dir}/flcc", f"--model_path={model}",
                      "--vocab_size=512")
  assert result.returncode == 2 and "Vocabulary size too high" in result.stderr  # tiny corpus
  # This package's own sources as the corpus: real code, enough for 412 pieces.
  env = {"CODE_T5_DATA_DIR": str(tmp_path / "d")}
  result = run_command("make-dev-dataset", f"--source_dir={REPO_ROOT}", "--splits=train=1,"
                      "validation=0,test=0", env=env)
  assert result.returncode == 0, result.stderr
  result = run_command("train-vocab", "--vocab_size=512", env=env)
  assert result.returncode == 0, result.stderr
  assert "Trained" in result.stdout and (tmp_path / "d" / "vocab" / "code_spm.model").exists()
  result = run_command("train-vocab", f"--prepared_dir={tmp_path}", "--vocab_size=512")
  assert result.returncode == 2 and "no train shards" in result.stderr


# Start-up lines of TensorFlow, XLA, CUDA and absl that no command may print by default.
STARTUP_NOISE = re.compile(r"^[IWEF]\d{4} |absl::InitializeLog|cuInit|cuda|oneDNN|"
                           r"CPU instructions|WARNING:tensorflow|tf_record_iterator|"
                           r"cache_dataset_ops|falls back to heuristics|Not restoring param",
                           re.MULTILINE)


def test_quickstart_main_job(tmp_path):
  """The README's main job on its default tree (the standard library), with fewer steps: trains
  (where T5X is installed), completes held-out lines beside the n-gram, answers a search
  question; not one line of start-up noise."""
  import subprocess
  from code_t5.train import trainer_runs
  from conftest import command  # pylint: disable=g-import-not-at-top
  result = subprocess.run([*command("quickstart"), "--examples=1",
                           "--train_steps=30"],
                          capture_output=True, text=True, cwd=str(tmp_path),
                          # As after `import jax` in the caller (CI's pytest): jax sets
                          # TF_CPP_MIN_LOG_LEVEL=1, which lets TF's cuInit error through.
                          env={**os.environ, "CODE_T5_DATA_DIR": str(tmp_path / "d"),
                               "TF_CPP_MIN_LOG_LEVEL": "1"})
  assert result.returncode == 0, result.stderr
  for objective in ("span_corruption", "prefix_lm", "lm", "full_line"):
    assert f"-- flcc_dev_python_{objective}: {{'examples': " in result.stdout
  assert "<extra_id_" in result.stdout
  assert not STARTUP_NOISE.search(result.stdout + result.stderr), STARTUP_NOISE.findall(
      result.stdout + result.stderr)
  if trainer_runs.installed_trainer() == "t5x":
    # Evaluated at steps 0, 10, 20 and 30 (a third of the run apart).
    losses = re.search(r"held-out loss per token \(validation repositories\): step 0: "
                       r"([\d.]+), .*step 30: ([\d.]+)", result.stdout)
    assert losses and float(losses.group(2)) < float(losses.group(1)), result.stdout
    assert re.search(r"training loss per token: .*step 30: [\d.]+", result.stdout)
    assert result.stdout.count("t5x.train: Training for 10 steps") == 3, result.stdout
    assert "== 5. completing held-out lines" in result.stdout
    assert re.search(r"     truth : .*\n     model : .*\n     n-gram: ", result.stdout)
  elif trainer_runs.installed_trainer() == "mtf":  # the Mesh TF lane trains its own model
    assert re.search(r"validation log-perplexity per token: step 0: [\d.]+, step 30: ",
                     result.stdout), result.stdout
    assert "== 5. completion: skipped (it needs the T5X model of step 4)" in result.stdout
  else:
    assert "== 4. training: skipped. T5X is not installed (./install.sh adds it" in result.stdout
  answers = re.findall(r"^ +[\d.]+  (\S+\.py):\d+  (\S+)", result.stdout, re.MULTILINE)
  assert len(answers) == 3, result.stdout


def test_score_full_line_reads_t5x_predictions_and_names_bad_lines(tmp_path):
  import json
  good = [{"inputs": {"inputs_pretokenized": "x = ", "targets_pretokenized": "foo(a, b)"},
           "prediction": "foo(a,  b)"},
          {"inputs": {"inputs_pretokenized": "y = ", "targets_pretokenized": "abcd"},
           "prediction": "abed"}]
  path = tmp_path / "task-predict.jsonl-00000-of-00001"
  path.write_text("".join(json.dumps(r) + "\n" for r in good))
  (tmp_path / "task-predict.jsonl-00000-of-00001.COMPLETED").write_text("")
  result = run_command("score-full-line", f"--predictions={tmp_path}/task-predict*")
  assert result.returncode == 0, result.stderr
  scores = json.loads(result.stdout)
  assert scores["examples"] == 2 and scores["exact_match"] == 50.0
  assert 75 < scores["edit_similarity"] < 100

  path.write_text(json.dumps(good[0]) + "\n{broken\n")
  result = run_command("score-full-line", f"--predictions={path}")
  assert result.returncode == 2 and f"{path}:2: not a t5x.infer prediction" in result.stderr

  targets, predictions = tmp_path / "t.txt", tmp_path / "p.txt"
  targets.write_text("a\nb\n")
  predictions.write_text("a\n")
  result = run_command("score-full-line", f"--predictions={predictions}", f"--targets={targets}")
  assert result.returncode == 2 and "must pair line by line" in result.stderr


@pytest.mark.parametrize("script", ["export-conala", "export-wikitext",
                                    "export-codesearchnet"])
def test_hub_download_without_network_fails_at_once_naming_from_disk(tmp_path, script):
  # A hub that refuses connections (a closed local port) stands for no network.
  env = {"CODE_T5_DATA_DIR": str(tmp_path), "HF_ENDPOINT": "http://127.0.0.1:9",
         "HF_HUB_OFFLINE": "0", "HF_DATASETS_OFFLINE": "0"}
  result = run_command(script, env=env)
  assert result.returncode == 2, result.stderr[-2000:]
  last = result.stderr.strip().splitlines()[-1]
  assert last.startswith("error: cannot reach the Hugging Face hub for ") and "--from_disk" in last
