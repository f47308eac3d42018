"""Reliability: random inputs, kills at random points, malformed files, determinism."""
import glob
import hashlib
import json
import os
import random
import subprocess
import sys
import time

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
import seqio
import tensorflow as tf

from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
import conala_fixtures
import flcc_fixtures
from code_t5.data import preprocessors
from code_t5.data import vocabularies
from code_t5.corpora import conala, flcc, prepare
from code_t5 import atomic_files as atomic
from conftest import command, kill_when, run_command

FEW = settings(max_examples=20, deadline=None,
               suppress_health_check=[HealthCheck.function_scoped_fixture,
                                      HealthCheck.too_slow])
LINE_ENDINGS = st.sampled_from(["\n", "\r\n", "\r"])
# Unicode names with spaces; stems short enough that `<stem>_<time_ns>.py` fits 255 bytes.
NAMES = st.text(st.characters(blacklist_categories=("Cs", "Cc"), blacklist_characters="/\\\0"),
                min_size=1, max_size=40).filter(lambda s: s.strip(". ") == s and s.strip())
SOURCE = st.builds(lambda lines, eol, final: eol.join(lines) + (eol if final else ""),
                   st.lists(st.text(max_size=80), max_size=20), LINE_ENDINGS, st.booleans())
CONTENT = st.one_of(SOURCE.map(lambda s: s.encode("utf-8")), st.binary(max_size=300))


def _records(pattern):
  spec = {k: tf.io.FixedLenFeature([], tf.string) for k in prepare.FEATURES}
  return [{k: v.numpy().decode() for k, v in tf.io.parse_single_example(r, spec).items()}
          for r in tf.data.TFRecordDataset(sorted(glob.glob(pattern)))]


@FEW
@given(files=st.dictionaries(NAMES, CONTENT, min_size=1, max_size=6))
def test_random_files_are_kept_exactly_or_skipped_with_a_reason(tmp_path_factory, files):
  root = str(tmp_path_factory.mktemp("tree"))
  originals = {f"{name}.py": data for name, data in files.items()}
  flcc_fixtures.add_repo(root, "o", "r", originals)
  out = str(tmp_path_factory.mktemp("out"))
  stats = flcc.ScanStats()
  prepare.scan(list(flcc.iter_source_files(root, stats)), stats)
  assert stats.kept + sum(stats.skipped.values()) == len(originals)
  if not stats.kept:  # nothing usable: a clear error, not an empty dataset
    with pytest.raises(ValueError, match="no usable source file"):
      prepare.prepare(root, out)
    return
  manifest = prepare.prepare(root, out)
  kept = {r["path"]: r["text"] for r in _records(os.path.join(out, "*", "*.tfrecord-*"))}
  assert len(kept) == manifest["kept"]
  for path, text in kept.items():
    assert text.encode("utf-8") == originals[path]  # byte for byte, line endings included
  unique_texts = {d for d in originals.values()}
  assert len(kept) <= len(unique_texts)


@FEW
@given(text=SOURCE, seed=st.integers(0, 2**31 - 1))
def test_full_line_cut_never_breaks_the_text(text, seed):
  ds = tf.data.Dataset.from_tensors({"text": tf.constant(text)})
  with seqio.utils.map_seed_manager(seed):
    out = [{k: v.numpy().decode() for k, v in ex.items()} for ex in preprocessors.full_line(ds)]
  if not any(line.strip() for line in text.split("\n")):
    assert out == []
    return
  (ex,) = out
  assert text.startswith(ex["inputs"] + ex["targets"])
  assert ex["targets"].strip() and "\n" not in ex["targets"]


@settings(max_examples=100, deadline=None)
@given(text=st.text(st.characters(blacklist_categories=("Cs",))))
def test_byte_vocabulary_round_trips_any_text(text):
  vocab = vocabularies.BYTE
  assert vocab.decode(vocab.encode(text)) == text


@pytest.mark.stack_independent
def test_preparation_with_workers_is_identical(tmp_path, code_tree):
  one, two = tmp_path / "w1", tmp_path / "w2"
  prepare.prepare(code_tree, str(one), workers=1)
  prepare.prepare(code_tree, str(two), workers=2)
  files = sorted(p.relative_to(one) for p in one.rglob("*") if p.is_file())
  assert files == sorted(p.relative_to(two) for p in two.rglob("*") if p.is_file())
  assert all((one / f).read_bytes() == (two / f).read_bytes() for f in files)


def test_mined_rewrite_killed_at_random_points_loses_and_repeats_nothing(tmp_path):
  rows = [conala_fixtures.mined_row(i) for i in range(3000)]
  mined = tmp_path / "mined.jsonl"
  mined.write_text("".join(json.dumps(r) + "\n" for r in rows))
  out = tmp_path / "out.jsonl"
  cmd = [*command("rewrite-conala-mined"),
         f"--mined={mined}", f"--out={out}", "--predictor=copy_intent", "--batch_size=3"]
  rng = random.Random(1234)
  for _ in range(3):
    target = (out.stat().st_size if out.exists() else 0) + rng.randint(1000, 40000)
    kill_when(cmd, lambda: out.exists() and out.stat().st_size >= target, poll_seconds=0.005)
  result = subprocess.run(cmd, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-2000:]
  ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
  assert ids == [r["id"] for r in rows]


@pytest.mark.parametrize("name,content,message", [
    ("conala-train.json", '{"intent": "x"}', "row without"),
    ("conala-train.json", "", "not a JSON array"),
    ("conala-test.json", '[{"intent": "a", "rewritten_intent": null, "question_id": 1}]',
     "row without ['snippet']"),
    ("conala-mined.jsonl", '{"id": "1_2_0", "intent": "a"', "conala-mined.jsonl:1"),
])
def test_malformed_conala_files_name_the_problem(tmp_path, name, content, message):
  conala_fixtures.write_corpus(str(tmp_path))
  (tmp_path / name).write_text(content)
  result = run_command("export-conala", f"--from_disk={tmp_path}", f"--out_dir={tmp_path}/o")
  assert result.returncode == 2 and message in result.stderr, result.stderr[-1500:]
  assert "Traceback" not in result.stderr


def test_empty_mined_file_exports_zero_rows(tmp_path):
  conala_fixtures.write_corpus(str(tmp_path))
  (tmp_path / "conala-mined.jsonl").write_text("")
  summary = conala.export(str(tmp_path / "o"), str(tmp_path))
  assert summary["files"]["mined"] == 0 and summary["files"]["mined_codegen"] == 0


def test_malformed_mined_line_in_rewrite_names_file_and_line(tmp_path):
  mined = tmp_path / "mined.jsonl"
  mined.write_text(json.dumps(conala_fixtures.mined_row(0)) + "\n{\"intent\": 1}\n")
  result = run_command("rewrite-conala-mined", f"--mined={mined}", f"--out={tmp_path}/o",
                      "--predictor=copy_intent")
  assert result.returncode == 2 and f"{mined}:2: not a mined CoNaLa pair" in result.stderr


def test_missing_exported_files_say_what_to_run(tmp_path, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  for task, hint in (("wikitext_span_corruption", "code-t5-export-wikitext"),
                     ("conala_rewrite_intent", "code-t5-export-conala")):
    with pytest.raises(FileNotFoundError, match=hint):
      seqio.get_mixture_or_task(task).get_dataset({"inputs": 64, "targets": 64}, split="train")


DIGEST = """
import hashlib, sys, seqio, code_t5.tasks
for seed in map(int, sys.argv[1:]):
  h = hashlib.sha256()
  for name, lengths in [("flcc_python_span_corruption", {"inputs": 64, "targets": 16}),
                        ("flcc_python_full_line", {"inputs": 64, "targets": 16}),
                        ("flcc_python_prefix_lm", {"inputs": 32, "targets": 32})]:
    ds = seqio.get_mixture_or_task(name).get_dataset(
        lengths, split="train", shuffle=True, seed=seed, num_epochs=1)
    for batch in ds.padded_batch(4).take(5).as_numpy_iterator():
      for key in sorted(lengths):
        h.update(batch[key].tobytes())
  print(h.hexdigest())
"""


def test_task_batches_are_identical_across_runs_for_a_seed(use_data_dir):
  def digests(*seeds):
    result = subprocess.run([sys.executable, "-c", DIGEST, *map(str, seeds)],
                            capture_output=True, text=True,
                            env={**os.environ, "CODE_T5_DATA_DIR": use_data_dir})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-len(seeds):]

  first, other = digests(7, 8)  # another seed, another order
  assert first != other
  assert digests(7) == [first]  # the same seed in another process, the same batches


@pytest.mark.stack_independent
def test_parallel_preparation_killed_at_random_points_ends_byte_identical(tmp_path):
  root = str(tmp_path / "src")
  flcc_fixtures.build_code_tree(root, num_repos=30, files_per_repo=8)
  clean = tmp_path / "clean"
  prepare.prepare(root, str(clean), shard_bytes=200)
  out = tmp_path / "out"
  cmd = [*command("prepare-flcc"),
         f"--flcc_root={root}", f"--out_dir={out}", "--shard_bytes=200", "--workers=2"]
  rng = random.Random(99)
  for _ in range(3):
    wanted = rng.randint(1, 60)
    kill_when(cmd, lambda: len(glob.glob(str(out / "*" / "*.tfrecord-*"))) >= wanted)
  assert subprocess.run(cmd, capture_output=True).returncode == 0
  files = sorted(p.relative_to(clean) for p in clean.rglob("*") if p.is_file())
  assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
  assert all((clean / f).read_bytes() == (out / f).read_bytes() for f in files)


def _prepare_cmd(root, out):
  return [*command("prepare-flcc"),
          f"--flcc_root={root}", f"--out_dir={out}", "--shard_bytes=200", "--workers=2"]


def _error_lines(stderr):
  # stderr also holds TensorFlow's start-up log and progress bars.
  return [line for line in stderr.splitlines() if line.startswith("error")]


def _assert_manifest_matches_disk(out):
  manifest = prepare.read_manifest(str(out))
  on_disk = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
  assert on_disk == set(manifest["shards"]) | {prepare.MANIFEST}  # no state, lock or temporary
  for rel, digest in manifest["shards"].items():
    assert hashlib.sha256((out / rel).read_bytes()).hexdigest() == digest, rel


# Imports a command (argv[3]), says it is ready (argv[1]), waits for the go file (argv[2]), runs
# its main with the rest.
AT_ONCE = """
import importlib, os, sys, time
ready, go, name, args = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
module = importlib.import_module(name)
open(ready, "w").close()
while not os.path.exists(go):
  time.sleep(0.001)
sys.exit(module.main(args))
"""


@pytest.mark.stack_independent
def test_two_concurrent_runs_on_one_folder_one_fails_at_once_naming_the_holder(tmp_path):
  # Different inputs, so a survivor mixed with the other run's shards would show.
  roots = [str(tmp_path / "src_a"), str(tmp_path / "src_b")]
  flcc_fixtures.build_code_tree(roots[0], num_repos=12, files_per_repo=4)
  flcc_fixtures.build_code_tree(roots[1], num_repos=8, files_per_repo=3)
  out = tmp_path / "out"
  go = tmp_path / "go"
  procs = [subprocess.Popen([sys.executable, "-c", AT_ONCE, str(tmp_path / f"ready{i}"), str(go),
                             "code_t5.commands.prepare_flcc", *_prepare_cmd(root, out)[1:]],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
           for i, root in enumerate(roots)]
  # Both have imported everything (TensorFlow's import time varies by seconds): start them.
  deadline = time.time() + 120
  while not all((tmp_path / f"ready{i}").exists() for i in range(2)) and time.time() < deadline:
    time.sleep(0.01)
  go.touch()
  finished = []
  while len(finished) < 2:
    finished += [p for p in procs if p not in finished and p.poll() is not None]
    time.sleep(0.01)
  results = {p.pid: (p.returncode, p.stderr.read()) for p in procs}
  (winner,) = [p for p in procs if p.returncode == 0]
  (loser,) = [p for p in procs if p is not winner]
  assert finished[0] is loser  # it did not wait for the lock
  code, stderr = results[loser.pid]
  assert code == 2 and "Traceback" not in stderr, stderr[-2000:]
  assert _error_lines(stderr) == [
      f"error: {out}: another preparation (pid {winner.pid}) is writing this folder; wait for "
      "it to finish, or pass another output folder."], stderr[-2000:]
  _assert_manifest_matches_disk(out)
  clean = tmp_path / "clean"
  prepare.prepare(roots[procs.index(winner)], str(clean), shard_bytes=200)
  assert {p.relative_to(clean): p.read_bytes() for p in clean.rglob("*") if p.is_file()} == {
      p.relative_to(out): p.read_bytes() for p in out.rglob("*") if p.is_file()}


def test_a_held_lock_names_its_pid_and_goes_with_its_holder(tmp_path, code_tree):
  out = tmp_path / "out"
  out.mkdir()
  with atomic.folder_lock(str(out)):
    with pytest.raises(atomic.FolderLocked, match=f"{out}: another .* \\(pid {os.getpid()}\\)"):
      prepare.prepare(code_tree, str(out))
    assert os.listdir(out) == [atomic.LOCK_FILE]
  assert os.listdir(out) == []
  # (A killed holder's lock goes with it, pool workers included: the kill/resume tests.)
  prepare.prepare(code_tree, str(out))
  _assert_manifest_matches_disk(out)


def test_temporary_names_are_unique_per_call():
  assert atomic.temporary_path("/d/x.json") != atomic.temporary_path("/d/x.json")
  assert f".x.json.{os.getpid()}." in atomic.temporary_path("/d/x.json")


@pytest.mark.stack_independent
def test_odd_tree_prepares_with_counted_skips_and_warnings_not_tracebacks(tmp_path):
  root = str(tmp_path / "src")
  flcc_fixtures.build_code_tree(root, num_repos=4, files_per_repo=3)
  names = flcc_fixtures.add_repo(root, "odd", "paths", {"a.py": "a = 1\n", "b.py": "b = 2\n"})
  with open(os.path.join(flcc_fixtures.meta_dir(root, "odd", "paths"), "paths.json"), "w") as f:
    json.dump({names["a.py"]: None, names["b.py"]: 3}, f)  # once a TypeError in sorting
  flcc_fixtures.add_repo(root, "odd", "nometa", {"c.py": "c = 3\n"})
  os.remove(os.path.join(flcc_fixtures.meta_dir(root, "odd", "nometa"), "paths.json"))
  flcc_fixtures.add_repo(root, os.fsdecode(b"odd\xff"), "r", {"d.py": "d = 4\n"})
  with open(os.path.join(flcc_fixtures.repo_dir(root, "odd", "paths").encode(),
                         b"e\xfe_1569435301125374618.py"), "wb") as f:
    f.write(b"e = 5\n")
  ext_dir = os.path.join(root, "v3", "languages", "Python", ".py")
  os.symlink(os.path.join(ext_dir, "odd", "paths"), os.path.join(ext_dir, "odd", "linked"))
  with open(os.path.join(ext_dir, "odd", "stray.py"), "w") as f:
    f.write("f = 6\n")
  out = tmp_path / "out"
  result = subprocess.run(_prepare_cmd(root, out), capture_output=True, text=True)
  assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-2000:]
  manifest = prepare.read_manifest(str(out))
  assert manifest["skipped"] == {"misplaced": 1, "name_not_utf8": 2, "symlink": 1}
  assert manifest["warning_counts"] == {"bad_paths_json_entries": 2, "missing_paths_json": 1}
  assert manifest["kept"] == 4 * 3 + 2 + 1 + 2 + 1
  assert "skipped: {'misplaced': 1, 'name_not_utf8': 2, 'symlink': 1}" in result.stdout
  assert "e.g. name_not_utf8: " in result.stdout and "e\\xfe_1569435301125374618" in result.stdout
  assert "warning: missing_paths_json: 1 repositories, e.g. " in result.stdout
  _assert_manifest_matches_disk(out)


def test_nothing_usable_is_a_one_line_error_and_leaves_nothing(tmp_path):
  root = tmp_path / "src"
  flcc_fixtures.add_repo(str(root), os.fsdecode(b"own\xfer"), "r", {"a.py": "a = 1\n"})
  out = tmp_path / "out"
  result = subprocess.run(_prepare_cmd(root, out), capture_output=True, text=True)
  assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr[-2000:]
  assert _error_lines(result.stderr) == [
      f"error: {root}: no usable source file (skipped: {{'name_not_utf8': 1}})."]
  assert not out.exists()


@pytest.mark.stack_independent
def test_mined_rewrite_on_two_hosts_killed_resumed_and_merged_writes_each_id_once(tmp_path):
  """Two processes (--process_index 0 and 1 of 2), each SIGKILLed at a random point and run
  again, then merged: every id once, in the input's order (mined exported in 3 shards)."""
  from code_t5 import atomic_files as atomic  # pylint: disable=g-import-not-at-top
  rows = [conala_fixtures.mined_row(i) for i in range(3000)]
  mined = tmp_path / "mined.jsonl"
  atomic.write_jsonl(str(mined), rows, shards=3)
  out = tmp_path / "out.jsonl"
  base = [*command("rewrite-conala-mined"), f"--mined={mined}", f"--out={out}",
          "--predictor=copy_intent", "--batch_size=3", "--process_count=2"]
  rng = random.Random(7)
  for index in (0, 1):
    part = tmp_path / f"out.jsonl.part-{index:05d}-of-00002"
    target = rng.randint(1000, 40000)
    kill_when(base + [f"--process_index={index}"],
              lambda: part.exists() and part.stat().st_size >= target, poll_seconds=0.005)
    assert 0 < part.stat().st_size < 300 * 1500  # killed part-way
  refused = subprocess.run(base + ["--merge"], capture_output=True, text=True)
  assert refused.returncode == 2 and "out.jsonl.part-00000-of-00002: " in refused.stderr
  assert "--process_index=0 --process_count=2" in refused.stderr and not out.exists()
  finish = [subprocess.Popen(base + [f"--process_index={i}"], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE) for i in (0, 1)]
  assert [p.wait() for p in finish] == [0, 0]
  merged = subprocess.run(base + ["--merge"], capture_output=True, text=True)
  assert merged.returncode == 0, merged.stderr[-2000:]
  ids = [json.loads(x)["id"] for x in out.read_text().splitlines()]
  assert ids == [r["id"] for r in rows]
  shares = [[json.loads(x)["id"] for x in (tmp_path / f"out.jsonl.part-{i:05d}-of-00002")
             .read_text().splitlines()] for i in (0, 1)]
  assert not set(shares[0]) & set(shares[1]) and min(map(len, shares)) > 1000
