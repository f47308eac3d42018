import glob
import json
import os
import subprocess
import sys

import pytest
import tensorflow as tf

import flcc_fixtures
from code_t5.corpora import prepare
from conftest import command, kill_when

SPLITS = (("train", 0.5), ("validation", 0.25), ("test", 0.25))


def _tree_bytes(out_dir):
  return {os.path.relpath(p, out_dir): open(p, "rb").read()
          for p in sorted(glob.glob(os.path.join(out_dir, "**", "*"), recursive=True))
          if os.path.isfile(p)}


def _records(pattern):
  spec = {k: tf.io.FixedLenFeature([], tf.string) for k in prepare.FEATURES}
  return [{k: v.numpy().decode() for k, v in tf.io.parse_single_example(r, spec).items()}
          for r in tf.data.TFRecordDataset(sorted(glob.glob(pattern)))]


def test_prepared_shards_manifest_and_no_repository_in_two_splits(data_dir, code_tree):
  out = os.path.join(data_dir, "flcc")
  manifest = prepare.read_manifest(out)
  assert sorted(manifest["languages"]) == ["java", "python"]
  assert manifest["kept"] == 51 and manifest["skipped"] == {}
  repos_by_split = {}
  total = 0
  for split, _ in SPLITS:
    records = _records(prepare.shard_pattern(out, "python", split))
    total += len(records)
    assert len(records) == manifest["languages"]["python"][split]["files"]
    repos_by_split[split] = {r["repo"] for r in records}
    assert all(r["language"] == "Python" for r in records)
  assert total == 49
  assert not (repos_by_split["train"] & repos_by_split["validation"])
  assert not (repos_by_split["train"] & repos_by_split["test"])
  assert not (repos_by_split["validation"] & repos_by_split["test"])
  # Every language has every split, empty ones as an empty shard.
  assert len(glob.glob(os.path.join(out, "java", "*.tfrecord-*"))) == 3


def test_text_and_original_paths_survive_exactly(data_dir):
  records = _records(os.path.join(data_dir, "flcc", "python", "*.tfrecord-*"))
  by_path = {r["path"]: r for r in records}
  assert by_path["pkg/mod_1_2.py"]["text"] == flcc_fixtures.python_file(102)
  assert by_path["pkg/mod_1_2.py"]["repo"] == "owner1/repo1"


def test_duplicates_are_removed_across_repositories_and_languages(tmp_path):
  root = str(tmp_path / "src")
  flcc_fixtures.add_repo(root, "a", "one", {"x.py": "same = 1\n", "y.py": "other = 2\n"})
  flcc_fixtures.add_repo(root, "b", "two", {"x.py": "same = 1\n"})
  flcc_fixtures.add_repo(root, "c", "three", {"x.pyi": "same = 1\n"}, ext=".pyi")
  manifest = prepare.prepare(root, str(tmp_path / "out"))
  assert manifest["kept"] == 2 and manifest["skipped"] == {"duplicate": 2}


def test_output_is_byte_identical_across_runs_and_stale_shards_go(tmp_path, code_tree):
  first, second = str(tmp_path / "a"), str(tmp_path / "b")
  prepare.prepare(code_tree, first, SPLITS, shard_bytes=300)
  os.makedirs(os.path.join(second, "python"))
  with open(os.path.join(second, "python", "train.tfrecord-00000-of-00099"), "w") as f:
    f.write("stale")
  prepare.prepare(code_tree, second, SPLITS, shard_bytes=300)
  a, b = _tree_bytes(first), _tree_bytes(second)
  assert a == b
  assert len([p for p in a if "python/train" in p]) > 3  # several shards


@pytest.mark.stack_independent
def test_killed_run_resumes_to_identical_output_and_never_shows_partial_shards(tmp_path):
  root = str(tmp_path / "src")
  flcc_fixtures.build_code_tree(root, num_repos=30, files_per_repo=8)
  clean = str(tmp_path / "clean")
  prepare.prepare(root, clean, SPLITS, shard_bytes=200)
  expected = _tree_bytes(clean)
  out = str(tmp_path / "out")
  # One worker: then shard k+1 in place means shard k is recorded (the test's kill points).
  cmd = [*command("prepare-flcc"), f"--flcc_root={root}", f"--out_dir={out}", "--shard_bytes=200",
         "--splits=train=0.5,validation=0.25,test=0.25", "--workers=1"]
  killed_mid_run = 0
  for attempt in range(3):
    # Shard k+1 in place means the state file already records shard k as finished.
    wanted = 2 + 10 * attempt
    kill_when(cmd, lambda: len(glob.glob(os.path.join(out, "*", "*.tfrecord-*"))) >= wanted)
    killed_mid_run += not os.path.exists(os.path.join(out, prepare.MANIFEST))
    # Whatever is visible under a shard name is a complete shard of the final output.
    for rel, data in _tree_bytes(out).items():
      if ".tfrecord-" in rel and not os.path.basename(rel).startswith("."):
        assert data == expected[rel], rel
  assert killed_mid_run, "no kill landed mid-run; make the fixture larger"
  result = subprocess.run(cmd, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr
  assert "resumed:" in result.stdout
  assert _tree_bytes(out) == expected


def test_manifest_is_sorted_json(data_dir):
  with open(os.path.join(data_dir, "flcc", prepare.MANIFEST)) as f:
    text = f.read()
  assert json.dumps(json.loads(text), indent=1, sort_keys=True) + "\n" == text


def test_a_failed_rerun_leaves_no_manifest_over_changed_shards(tmp_path, code_tree, monkeypatch):
  out = str(tmp_path / "out")
  prepare.prepare(code_tree, out, SPLITS, shard_bytes=300)
  written = []

  def fail_after_one(job):
    if written:
      raise RuntimeError("disk full")
    written.append(job[0])
    return real_write(job)

  real_write = prepare._write_shard
  monkeypatch.setattr(prepare, "_write_shard", fail_after_one)
  with pytest.raises(RuntimeError, match="disk full"):
    prepare.prepare(code_tree, out, SPLITS, shard_bytes=500)  # another plan: shards change
  assert len(written) == 1
  assert not os.path.exists(os.path.join(out, prepare.MANIFEST))  # not presented as done
  monkeypatch.setattr(prepare, "_write_shard", real_write)
  manifest = prepare.prepare(code_tree, out, SPLITS, shard_bytes=500)
  assert manifest["resumed_shards"] == 1
  assert sorted(manifest["shards"]) == sorted(
      os.path.relpath(p, out) for p in glob.glob(os.path.join(out, "*", "*.tfrecord-*")))


@pytest.mark.stack_independent
def test_workers_never_fork_after_jax_started(tmp_path, code_tree):
  """With JAX's backend running (a forked copy of its threads can deadlock), the worker
  processes are spawned, and the output is what forked workers write."""
  import textwrap  # pylint: disable=g-import-not-at-top
  forked = str(tmp_path / "forked")
  prepare.prepare(code_tree, forked, workers=2)
  spawned = str(tmp_path / "spawned")
  code = textwrap.dedent(f'''\
      import os, warnings
      warnings.simplefilter("error")  # JAX's fork warning would end the run
      forks = []
      os.register_at_fork(before=lambda: forks.append(1))
      import jax
      jax.numpy.zeros(1).block_until_ready()  # starts the backend and its fork warning
      from code_t5.corpora import prepare
      prepare.prepare({code_tree!r}, {spawned!r}, workers=2)
      print("forks", len(forks))
      ''')
  result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=600, env={**os.environ, "JAX_PLATFORMS": "cpu"})
  assert result.returncode == 0, result.stderr[-2000:]
  assert "forks 0" in result.stdout, result.stdout[-2000:]
  shards = sorted(os.path.relpath(p, forked) for p in glob.glob(f"{forked}/*/*.tfrecord-*"))
  assert shards and shards == sorted(
      os.path.relpath(p, spawned) for p in glob.glob(f"{spawned}/*/*.tfrecord-*"))
  for shard in shards:
    with open(os.path.join(forked, shard), "rb") as a, open(os.path.join(spawned, shard), "rb") as b:
      assert a.read() == b.read(), shard


def test_min_shards_gives_each_of_that_many_hosts_its_own_files(tmp_path, code_tree,
                                                                monkeypatch):
  import seqio  # pylint: disable=g-import-not-at-top
  import code_t5.tasks  # noqa: F401  pylint: disable=g-import-not-at-top,unused-import
  prepare.prepare(code_tree, str(tmp_path / "flcc_dev"), min_shards=4, workers=1)
  shards = sorted(glob.glob(str(tmp_path / "flcc_dev" / "python" / "validation.tfrecord-*")))
  assert [os.path.basename(s)[-14:] for s in shards] == [
      f"{i:05d}-of-00004" for i in range(4)]
  source = seqio.get_mixture_or_task("flcc_dev_python_lm").source
  # A source lists the data dir of the moment (seqio 0.0.18 caches FileDataSource listings).
  prepare.prepare(code_tree, str(tmp_path / "one_shard" / "flcc_dev"), workers=1)
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path / "one_shard"))
  assert len(source.list_shards("train")) == 1
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  assert len(source.list_shards("train")) == 4
  paths = {}
  for host in range(4):
    ds = source.get_dataset("train", shuffle=False, shard_info=seqio.ShardInfo(host, 4))
    paths[host] = [x["path"] for x in ds.as_numpy_iterator()]
  every = [x["path"] for x in source.get_dataset("train", shuffle=False).as_numpy_iterator()]
  assert sorted(p for host in paths.values() for p in host) == sorted(every)
  assert all(paths.values()) and len(set(every)) == len(every)
