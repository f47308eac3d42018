"""Reliability: random inputs, kills at random points, malformed files, determinism."""
import glob
import json
import os
import random
import subprocess
import sys

from hypothesis import HealthCheck, given, settings, strategies as st
import pytest
import seqio
import tensorflow as tf

import code_t5  # noqa: F401  (registers)
import conala_fixtures
import flcc_fixtures
from code_t5 import preprocessors, vocabularies
from code_t5.corpora import conala, prepare
from conftest import REPO_ROOT, kill_when, run_script

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
  _, stats = prepare.scan(root)
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
  cmd = [sys.executable, os.path.join(REPO_ROOT, "scripts", "rewrite_conala_mined.py"),
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
  result = run_script("export_conala.py", f"--from_disk={tmp_path}", f"--out_dir={tmp_path}/o")
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
  result = run_script("rewrite_conala_mined.py", f"--mined={mined}", f"--out={tmp_path}/o",
                      "--predictor=copy_intent")
  assert result.returncode == 2 and f"{mined}:2: not a mined CoNaLa pair" in result.stderr


def test_missing_exported_files_say_what_to_run(tmp_path, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  for task, hint in (("wikitext_span_corruption", "export_wikitext.py"),
                     ("conala_rewrite_intent", "export_conala.py")):
    with pytest.raises(FileNotFoundError, match=hint):
      seqio.get_mixture_or_task(task).get_dataset({"inputs": 64, "targets": 64}, split="train")


DIGEST = """
import hashlib, sys, seqio, code_t5
h = hashlib.sha256()
for name, lengths in [("flcc_python_span_corruption", {"inputs": 64, "targets": 16}),
                      ("flcc_python_full_line", {"inputs": 64, "targets": 16}),
                      ("flcc_python_prefix_lm", {"inputs": 32, "targets": 32})]:
  ds = seqio.get_mixture_or_task(name).get_dataset(
      lengths, split="train", shuffle=True, seed=int(sys.argv[1]), num_epochs=1)
  for batch in ds.padded_batch(4).take(5).as_numpy_iterator():
    for key in sorted(lengths):
      h.update(batch[key].tobytes())
print(h.hexdigest())
"""


def test_task_batches_are_identical_across_runs_for_a_seed(use_data_dir):
  def digest(seed):
    result = subprocess.run([sys.executable, "-c", DIGEST, str(seed)], capture_output=True,
                            text=True, env={**os.environ, "CODE_T5_DATA_DIR": use_data_dir})
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout.strip().splitlines()[-1]

  first = digest(7)
  assert first == digest(7)
  assert first != digest(8)


def test_parallel_preparation_killed_at_random_points_ends_byte_identical(tmp_path):
  root = str(tmp_path / "src")
  flcc_fixtures.build_code_tree(root, num_repos=30, files_per_repo=8)
  clean = tmp_path / "clean"
  prepare.prepare(root, str(clean), shard_bytes=200)
  out = tmp_path / "out"
  cmd = [sys.executable, os.path.join(REPO_ROOT, "scripts", "prepare_flcc.py"),
         f"--flcc_root={root}", f"--out_dir={out}", "--shard_bytes=200", "--workers=2"]
  rng = random.Random(99)
  for _ in range(3):
    wanted = rng.randint(1, 60)
    kill_when(cmd, lambda: len(glob.glob(str(out / "*" / "*.tfrecord-*"))) >= wanted)
  assert subprocess.run(cmd, capture_output=True).returncode == 0
  files = sorted(p.relative_to(clean) for p in clean.rglob("*") if p.is_file())
  assert files == sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
  assert all((clean / f).read_bytes() == (out / f).read_bytes() for f in files)
