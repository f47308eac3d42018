import json
import os
import re
import shutil

import pytest
import seqio

from code_t5 import atomic_files as atomic
from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
from code_t5.corpora import summaries
from code_t5.data import inspect_task as show
from code_t5.corpora import wikitext
from conftest import run_command

datasets = pytest.importorskip("datasets", reason="Hugging Face datasets (default stack only)")

LONG = "The quick brown fox jumps over the lazy dog near the river bank, where " \
       "fishermen mend their nets and children play in the shallow water . "
ROWS = {
    "train": ["", " = Valkyria Chronicles III = \n"] + [f" {LONG}{i} \n" for i in range(6)],
    "validation": ["", f" {LONG}val one \n", " = = Gameplay = = \n", f" {LONG}val two \n"],
    "test": [f" {LONG}test \n", "short\n"],
}


# Hub parquet files carry the features in their schema metadata, as `datasets` writes them.
HF_METADATA = {b"huggingface": json.dumps(
    {"info": {"features": {"text": {"dtype": "string", "_type": "Value"}}}}).encode()}


def config_rows(config: str) -> dict:
  """ROWS, plus as many long train rows as the config's index: every config counts apart."""
  extra = [f" {LONG}{config} {j} \n" for j in range(wikitext.CONFIGS.index(config))]
  return {**ROWS, "train": ROWS["train"] + extra}


def write_config(folder, config: str, layout: str = "hub") -> None:
  """One config's parquet files, column `text`: the hub's `<split>-0000N-of-0000M.parquet`
  (wikitext-103 train in two shards, as on the hub) or the parquet conversion's
  `<split>/0000.parquet`."""
  import pyarrow as pa
  import pyarrow.parquet as pq
  rows = config_rows(config)
  for split, texts in rows.items():
    shards = [texts[:4], texts[4:]] if split == "train" and "103" in config else [texts]
    for i, shard in enumerate(shards):
      if layout == "hub":
        path = folder / f"{split}-{i:05d}-of-{len(shards):05d}.parquet"
      else:
        path = folder / split / f"{i:04d}.parquet"
      path.parent.mkdir(parents=True, exist_ok=True)
      table = pa.table({"text": shard}).replace_schema_metadata(HF_METADATA)
      pq.write_table(table, path)


def write_hub_copy(root, configs=wikitext.CONFIGS, layout: str = "hub"):
  """A hub copy's root: README.md and one folder per config."""
  root.mkdir(parents=True, exist_ok=True)
  (root / "README.md").write_text("---\nconfigs:\n- config_name: wikitext-103-raw-v1\n---\n")
  for config in configs:
    write_config(root / config, config, layout)
  return root


@pytest.fixture(scope="module")
def parquet_dir(tmp_path_factory):
  """One config's folder in the hub's layout: wikitext-103-raw-v1/<split>-0000N-of-0000M.parquet."""
  root = tmp_path_factory.mktemp("hub") / "wikitext-103-raw-v1"
  root.mkdir()
  write_config(root, "wikitext-103-raw-v1")
  return root


@pytest.fixture(scope="module")
def exported_once(parquet_dir, tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("data")
  result = run_command("export-wikitext", f"--from_disk={parquet_dir}",
                      env={"CODE_T5_DATA_DIR": str(data_dir)})
  assert result.returncode == 0, result.stderr[-3000:]
  return data_dir / "wikitext", result.stdout


@pytest.fixture
def exported(exported_once, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(exported_once[0].parent))
  return exported_once


def test_export_filters_short_rows_and_summarises(exported):
  out, stdout = exported
  summary = summaries.read(str(out), wikitext.SUMMARY)
  assert summary["splits"] == {"train": {"read": 8, "kept": 6},
                               "validation": {"read": 4, "kept": 2},
                               "test": {"read": 2, "kept": 1}}
  assert list(atomic.read_jsonl(str(out / "wikitext_validation.jsonl"))) == [
      {"text": ROWS["validation"][1]}, {"text": ROWS["validation"][3]}]
  # Sharded (--shards, default 4): two rows give two non-empty files and two empty ones.
  assert len(atomic.jsonl_files(str(out / "wikitext_validation.jsonl"))) == 4
  assert "train       read         8  kept         6" in stdout
  assert summary["files"] == {"train": ["train-00000-of-00002.parquet",
                                        "train-00001-of-00002.parquet"],
                              "validation": ["validation-00000-of-00001.parquet"],
                              "test": ["test-00000-of-00001.parquet"]}
  assert "train       train-00000-of-00002.parquet, train-00001-of-00002.parquet" in stdout
  assert not [p for p in os.listdir(out) if p.endswith(".tmp")]


@pytest.mark.parametrize("layout", ["hub", "parquet_conversion"])
@pytest.mark.parametrize("config", ["wikitext-2-raw-v1", "wikitext-103-v1"])
def test_hub_root_reads_exactly_the_requested_config(tmp_path, layout, config):
  root = write_hub_copy(tmp_path / "wikitext", layout=layout)
  summary = wikitext.export(str(tmp_path / "out"), config, str(root))
  train = len(config_rows(config)["train"])
  assert summary["splits"] == {"train": {"read": train, "kept": train - 2},
                               "validation": {"read": 4, "kept": 2},
                               "test": {"read": 2, "kept": 1}}
  files = [f for split in summary["files"].values() for f in split]
  assert files and all(f.startswith(config + os.sep) for f in files), files
  if layout == "parquet_conversion":
    assert summary["files"]["validation"] == [os.path.join(config, "validation", "0000.parquet")]
  kept = [r["text"] for r in atomic.read_jsonl(str(tmp_path / "out/wikitext_train.jsonl"))]
  assert kept == [t for t in config_rows(config)["train"] if len(t) > 100]


def test_parquet_conversion_config_folder(tmp_path):
  write_config(tmp_path / "wikitext-103-raw-v1", "wikitext-103-raw-v1", "parquet_conversion")
  summary = wikitext.export(str(tmp_path / "out"), from_disk=str(tmp_path / "wikitext-103-raw-v1"))
  assert summary["splits"]["train"] == {"read": 8, "kept": 6}
  assert summary["files"]["train"] == [os.path.join("train", "0000.parquet"),
                                       os.path.join("train", "0001.parquet")]


def test_hub_root_without_the_config_lists_the_configs_found(tmp_path):
  root = write_hub_copy(tmp_path / "wikitext", ["wikitext-2-raw-v1", "wikitext-2-v1"])
  with pytest.raises(FileNotFoundError) as error:
    wikitext.export(str(tmp_path / "out"), "wikitext-103-v1", str(root))
  assert str(error.value) == (
      f"--from_disk={root}: no wikitext-103-v1 folder; configs found: "
      "wikitext-2-raw-v1, wikitext-2-v1 (choose one with --config).")
  assert not (tmp_path / "out").exists()


def test_config_folder_of_another_config_is_refused(tmp_path):
  write_config(tmp_path / "wikitext-2-v1", "wikitext-2-v1")
  with pytest.raises(ValueError, match="holds wikitext-2-v1, not --config=wikitext-103-raw-v1"):
    wikitext.export(str(tmp_path / "out"), from_disk=str(tmp_path / "wikitext-2-v1"))


def test_export_threshold_and_test_into_train(parquet_dir, tmp_path):
  summary = wikitext.export(str(tmp_path), from_disk=str(parquet_dir), min_length=3,
                            test_into_train=True)
  assert summary["splits"]["train"] == {"read": 10, "kept": 9}  # "short\n" has 6 characters
  assert summary["splits"]["validation"]["kept"] == 3


def test_export_is_atomic_when_interrupted(parquet_dir, tmp_path, monkeypatch):
  wikitext.export(str(tmp_path), from_disk=str(parquet_dir))
  train = lambda: [open(f, "rb").read() for f in atomic.jsonl_files(
      str(tmp_path / "wikitext_train.jsonl"))]
  before = train()
  original = json.dumps

  def failing_dumps(obj, **kwargs):
    if "4" in obj.get("text", ""):
      raise KeyboardInterrupt
    return original(obj, **kwargs)

  monkeypatch.setattr(json, "dumps", failing_dumps)  # the module the writer uses
  with pytest.raises(KeyboardInterrupt):
    wikitext.export(str(tmp_path), from_disk=str(parquet_dir), min_length=3)
  assert train() == before and len(before) == atomic.EXPORT_SHARDS


def test_export_errors_name_the_folder(tmp_path):
  result = run_command("export-wikitext", f"--from_disk={tmp_path}", f"--out_dir={tmp_path}/o")
  assert result.returncode == 2 and f"--from_disk={tmp_path}: no dataset found" in result.stderr
  result = run_command("export-wikitext", "--config=wikitext-9", f"--out_dir={tmp_path}/o")
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
  path = out / "wikitext_validation.jsonl-00000-of-00004"  # the first of the rows' shards
  path.write_text(path.read_text() + "{not json\n")
  task = seqio.get_mixture_or_task("wikitext_span_corruption")
  with pytest.raises(Exception, match=f"{path}:2: malformed JSON line"):
    list(task.get_dataset({"inputs": 64, "targets": 16}, split="validation", shuffle=False))


def test_code_and_text_mixture_rates_by_example_count(exported):
  mixture = seqio.get_mixture_or_task("code_and_text_span_corruption")
  tasks = {t.name: t for t in mixture.members}
  assert {"wikitext_span_corruption", "flcc_python_span_corruption"} <= set(tasks)
  assert mixture.get_rate(tasks["wikitext_span_corruption"]) == 6


@pytest.mark.parametrize("shards", [4, 1])
def test_each_host_reads_its_own_shards(parquet_dir, tmp_path, monkeypatch, shards):
  """Two hosts (seqio ShardInfo): with 4 files each host opens only its two; with one file
  (an older export) each reads it whole and keeps its half. Either way the hosts' examples
  are disjoint and together every exported row once."""
  from code_t5.data import sources  # pylint: disable=g-import-not-at-top
  wikitext.export(str(tmp_path / "wikitext"), from_disk=str(parquet_dir), shards=shards)
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(tmp_path))
  opened, records = [], sources.JsonLinesSource._records

  def spy(self, path):
    opened.append(os.path.basename(path.decode() if isinstance(path, bytes) else path))
    return records(self, path)

  monkeypatch.setattr(sources.JsonLinesSource, "_records", spy)
  source = seqio.get_mixture_or_task("wikitext_span_corruption").source
  texts = {}
  for host in (0, 1):
    opened.clear()
    ds = source.get_dataset("train", shuffle=False, shard_info=seqio.ShardInfo(host, 2))
    texts[host] = [x["text"].decode() for x in ds.as_numpy_iterator()]
    if shards == 4:
      assert sorted(opened) == [f"wikitext_train.jsonl-{i:05d}-of-00004" for i in (host, host + 2)]
    else:
      assert opened == ["wikitext_train.jsonl"]
  assert not set(texts[0]) & set(texts[1])
  assert sorted(texts[0] + texts[1]) == sorted(
      r["text"] for r in atomic.read_jsonl(str(tmp_path / "wikitext" / "wikitext_train.jsonl")))
  assert len(texts[0]) + len(texts[1]) == 6
  # One host, unshuffled: the exported order.
  whole = source.get_dataset("train", shuffle=False)
  assert [x["text"].decode() for x in whole.as_numpy_iterator()] == [
      t for t in ROWS["train"] if len(t) > 100]
