"""FLCC preparation as an Apache Beam pipeline equals the local preparation byte for byte (the
`cache` extra: CI's wheel lane runs this file; apache-beam's protobuf cap keeps it out of the
T5X lane's environment)."""
import importlib.util
import os
import subprocess
import sys

import pytest

import flcc_fixtures

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("apache_beam") is None,
    reason="apache-beam is not installed (pip install '.[cache]'; CI's wheel lane has it)")
SPLITS = (("train", 0.5), ("validation", 0.25), ("test", 0.25))
# Beam's Python runner with worker processes (its default DirectRunner may fetch Prism).
MULTI_PROCESS = ["--runner=DirectRunner", "--direct_running_mode=multi_processing",
                 "--direct_num_workers=2"]


def _odd_tree(root: str) -> str:
  """The fixture corpus plus a duplicate, a file name that is not UTF-8, a stray file and a
  symlinked repository: every kind of skip the local path counts."""
  flcc_fixtures.build_code_tree(root, num_repos=10, files_per_repo=4)
  flcc_fixtures.add_repo(root, "copy", "cat", {"dup.py": flcc_fixtures.python_file(0)})
  flcc_fixtures.add_repo(root, "odd", "paths", {"a.py": "a = 1\n"})
  with open(os.path.join(flcc_fixtures.repo_dir(root, "odd", "paths").encode(),
                         b"e\xfe_1569435301125374618.py"), "wb") as f:
    f.write(b"e = 5\n")
  ext_dir = os.path.join(root, "v3", "languages", "Python", ".py")
  os.symlink(os.path.join(ext_dir, "odd", "paths"), os.path.join(ext_dir, "odd", "linked"))
  with open(os.path.join(ext_dir, "odd", "stray.py"), "w") as f:
    f.write("f = 6\n")
  return root


def _tree(folder) -> dict:
  return {os.path.relpath(os.path.join(d, n), folder): open(os.path.join(d, n), "rb").read()
          for d, _, names in os.walk(folder) for n in names}


@pytest.mark.parametrize("min_shards", [1, 8])
def test_beam_pipeline_writes_what_the_local_preparation_writes(tmp_path, min_shards):
  from code_t5.corpora import beam_prepare, prepare  # pylint: disable=g-import-not-at-top
  root = _odd_tree(str(tmp_path / "src"))
  local = prepare.prepare(root, str(tmp_path / "local"), SPLITS, shard_bytes=400,
                          min_shards=min_shards)
  beam = beam_prepare.prepare_with_beam(root, str(tmp_path / "beam"), SPLITS, shard_bytes=400,
                                        beam_args=MULTI_PROCESS, min_shards=min_shards)
  if min_shards > 1:  # every language and split in at least that many shards
    per_split = {}
    for shard in beam["shards"]:
      key = shard.split(".tfrecord-")[0]
      per_split[key] = per_split.get(key, 0) + 1
    assert min(per_split.values()) >= min_shards, per_split
  assert local["skipped"] == beam["skipped"] and beam["skipped"]["duplicate"] == 1
  assert set(beam["skipped"]) >= {"duplicate", "misplaced", "name_not_utf8", "symlink"}
  assert len(beam["shards"]) > 6  # several shards per split, so the writes spread
  assert _tree(tmp_path / "beam") == _tree(tmp_path / "local")  # manifest included


def test_command_runs_the_pipeline_and_prints_the_same_summary(tmp_path):
  root = _odd_tree(str(tmp_path / "src"))
  outputs = {}
  for name, extra in (("local", []), ("beam", ["--runner=DirectRunner",
                                               "--direct_running_mode=multi_processing",
                                               "--direct_num_workers=2"])):
    result = subprocess.run(
        [os.path.join(os.path.dirname(sys.executable), "code-t5-prepare-flcc"),
         f"--flcc_root={root}", f"--out_dir={tmp_path / name}", "--shard_bytes=400",
         "--splits=train=0.5,validation=0.25,test=0.25", *extra],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    outputs[name] = result.stdout
  assert "skipped: {" in outputs["beam"]
  summary = lambda text: [l for l in text.splitlines() if "skipped" in l or "kept" in l]
  assert summary(outputs["beam"]) == summary(outputs["local"])
  assert _tree(tmp_path / "beam") == _tree(tmp_path / "local")


def test_wrong_root_is_one_line_error_before_the_pipeline_starts(tmp_path):
  result = subprocess.run(
      [os.path.join(os.path.dirname(sys.executable), "code-t5-prepare-flcc"),
       f"--flcc_root={tmp_path}", f"--out_dir={tmp_path / 'out'}", *MULTI_PROCESS],
      capture_output=True, text=True, timeout=300)
  assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
  assert result.stderr.strip().splitlines()[-1].startswith(f"error: {tmp_path}: no FLCC tree")
  assert not (tmp_path / "out").exists()
