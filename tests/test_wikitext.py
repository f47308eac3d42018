import json
import os
import re
import shutil

import pytest
import seqio

import code_t5  # noqa: F401  (registers)
from code_t5 import show
from code_t5.corpora import wikitext
from conftest import run_script

datasets = pytest.importorskip("datasets", reason="Hugging Face datasets (default stack only)")

LONG = "The quick brown fox jumps over the lazy dog near the river bank, where " \
       "fishermen mend their nets and children play in the shallow water . "
ROWS = {
    "train": ["", " = Valkyria Chronicles III = \n"] + [f" {LONG}{i} \n" for i in range(6)],
    "validation": ["", f" {LONG}val one \n", " = = Gameplay = = \n", f" {LONG}val two \n"],
    "test": [f" {LONG}test \n", "short\n"],
}


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
  """The hub's file layout: wikitext-103-raw-v1/<split>-0000N-of-0000M.parquet, column `text`."""
  import pyarrow as pa
  import pyarrow.parquet as pq
  root = tmp_path_factory.mktemp("hub") / "wikitext-103-raw-v1"
  root.mkdir()
  pq.write_table(pa.table({"text": ROWS["train"][:4]}), root / "train-00000-of-00002.parquet")
  pq.write_table(pa.table({"text": ROWS["train"][4:]}), root / "train-00001-of-00002.parquet")
  for split in ("validation", "test"):
    pq.write_table(pa.table({"text": ROWS[split]}), root / f"{split}-00000-of-00001.parquet")
  return root


@pytest.fixture(scope="module")
def exported_once(parquet_dir, tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("data")
  result = run_script("export_wikitext.py", f"--from_disk={parquet_dir}",
                      env={"CODE_T5_DATA_DIR": str(data_dir)})
  assert result.returncode == 0, result.stderr[-3000:]
  return data_dir / "wikitext", result.stdout


@pytest.fixture
def exported(exported_once, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(exported_once[0].parent))
  return exported_once


def test_export_filters_short_rows_and_summarises(exported):
  out, stdout = exported
  summary = wikitext.read_summary(str(out))
  assert summary["splits"] == {"train": {"read": 8, "kept": 6},
                               "validation": {"read": 4, "kept": 2},
                               "test": {"read": 2, "kept": 1}}
  lines = (out / "wikitext_validation.jsonl").read_text().splitlines()
  assert [json.loads(x) for x in lines] == [{"text": ROWS["validation"][1]},
                                            {"text": ROWS["validation"][3]}]
  assert "train       read         8  kept         6" in stdout
  assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


def test_export_threshold_and_test_into_train(parquet_dir, tmp_path):
  summary = wikitext.export(str(tmp_path), from_disk=str(parquet_dir), min_length=3,
                            test_into_train=True)
  assert summary["splits"]["train"] == {"read": 10, "kept": 9}  # "short\n" has 6 characters
  assert summary["splits"]["validation"]["kept"] == 3


def test_export_is_atomic_when_interrupted(parquet_dir, tmp_path, monkeypatch):
  wikitext.export(str(tmp_path), from_disk=str(parquet_dir))
  before = (tmp_path / "wikitext_train.jsonl").read_bytes()
  original = json.dumps

  def failing_dumps(obj, **kwargs):
    if "4" in obj.get("text", ""):
      raise KeyboardInterrupt
    return original(obj, **kwargs)

  monkeypatch.setattr(wikitext.json, "dumps", failing_dumps)
  with pytest.raises(KeyboardInterrupt):
    wikitext.export(str(tmp_path), from_disk=str(parquet_dir), min_length=3)
  assert (tmp_path / "wikitext_train.jsonl").read_bytes() == before


def test_export_errors_name_the_folder(tmp_path):
  result = run_script("export_wikitext.py", f"--from_disk={tmp_path}", f"--out_dir={tmp_path}/o")
  assert result.returncode == 2 and f"--from_disk={tmp_path}: no dataset found" in result.stderr
  result = run_script("export_wikitext.py", "--config=wikitext-9", f"--out_dir={tmp_path}/o")
  assert result.returncode == 2 and "--config=wikitext-9" in result.stderr


def test_span_corruption_examples_with_sentinels_and_counts(exported):
  task = seqio.get_mixture_or_task("wikitext_span_corruption")
  assert task.num_input_examples("train") == 6
  assert task.output_features["inputs"].vocabulary == task.output_features["targets"].vocabulary
  examples = show.examples("wikitext_span_corruption", split="train", num=3,
                           lengths={"inputs": 128, "targets": 32})
  assert len(examples) == 3
  for ex in examples:
    assert "<extra_id_0>" in ex["inputs"] and ex["targets"].startswith("<extra_id_0>")
    # Putting each target span back at its sentinel gives the original text.
    spans = dict(re.findall(r"(<extra_id_\d+>)((?:(?!<extra_id_).)*)", ex["targets"], re.S))
    restored = re.sub(r"<extra_id_\d+>", lambda m: spans.get(m.group(0), ""), ex["inputs"])
    assert LONG[:40] in restored
  assert show.examples("wikitext_span_corruption", split="train", num=3, seed=5,
                       lengths={"inputs": 128, "targets": 32}) == show.examples(
                           "wikitext_span_corruption", split="train", num=3, seed=5,
                           lengths={"inputs": 128, "targets": 32})


def test_malformed_line_names_file_and_line(exported, tmp_path, monkeypatch):
  out = tmp_path / "wikitext"
  shutil.copytree(exported[0], out)
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  path = out / "wikitext_validation.jsonl"
  path.write_text(path.read_text() + "{not json\n")
  task = seqio.get_mixture_or_task("wikitext_span_corruption")
  with pytest.raises(Exception, match=f"{path}:3: malformed JSON line"):
    list(task.get_dataset({"inputs": 64, "targets": 16}, split="validation", shuffle=False))


def test_code_and_text_mixture_rates_by_example_count(exported):
  mixture = seqio.get_mixture_or_task("code_and_text_span_corruption")
  tasks = {t.name: t for t in mixture.tasks}
  assert {"wikitext_span_corruption", "flcc_python_span_corruption"} <= set(tasks)
  assert mixture.get_rate(tasks["wikitext_span_corruption"]) == 6
