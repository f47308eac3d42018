import json
import math
import subprocess

import pytest
import seqio

from code_t5 import atomic_files as atomic
from code_t5 import mixtures  # noqa: F401  (registers tasks and mixtures)
from code_t5.corpora import summaries
import conala_fixtures
from code_t5.data import conala_baselines
from code_t5.train import batch_inference as inference
from code_t5.data import metrics
from code_t5.corpora import conala
from conftest import command, kill_when, run_command


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
  data_dir = tmp_path_factory.mktemp("data")
  corpus = conala_fixtures.write_corpus(str(tmp_path_factory.mktemp("corpus")))
  result = run_command("export-conala", f"--from_disk={corpus}", "--mined_for_codegen=5",
                      env={"CODE_T5_DATA_DIR": str(data_dir)})
  assert result.returncode == 0, result.stderr[-3000:]
  return data_dir


@pytest.fixture
def data(exported, monkeypatch):
  monkeypatch.setenv("CODE_T5_DATA_DIR", str(exported))
  return exported


def _examples(task_name, split, lengths=None):
  task = seqio.get_mixture_or_task(task_name)
  ds = task.get_dataset(lengths or {"inputs": 512, "targets": 256}, split=split, shuffle=False)
  return [{k: (v.decode() if isinstance(v, bytes) else v) for k, v in ex.items()}
          for ex in ds.as_numpy_iterator()]


def test_export_counts_rows_and_those_without_rewritten_intent(data):
  summary = summaries.read(str(data / "conala"), conala.SUMMARY)
  files = summary["files"]
  assert {k: files[k] for k in ("curated_train_full", "curated_test", "mined",
                                "mined_codegen")} == {"curated_train_full": 4, "curated_test": 2,
                                                      "mined": 7, "mined_codegen": 5}
  # The dev split is carved from curated train by question id: disjoint, together the whole.
  assert files["curated_train"] + files["curated_dev"] == 4 and files["curated_dev"] >= 1
  rows = {name: list(atomic.read_jsonl(str(data / "conala" / f"{name}.jsonl")))
          for name in ("curated_train", "curated_dev")}
  assert not ({r["question_id"] for r in rows["curated_train"]} &
              {r["question_id"] for r in rows["curated_dev"]})
  assert sorted(r["question_id"] for r in rows["curated_train"] + rows["curated_dev"]) == sorted(
      r["question_id"] for r in conala_fixtures.CURATED_TRAIN)
  assert summary["without_rewritten_intent"]["curated_train_full"] == 1
  assert summary["without_rewritten_intent"]["curated_test"] == 1
  first = next(atomic.read_jsonl(str(data / "conala" / "mined.jsonl")))
  assert first["id"] == "34705205_34705233_0" and first["question_id"] == 34705205


def test_export_errors_name_the_file(tmp_path):
  result = run_command("export-conala", f"--from_disk={tmp_path}", f"--out_dir={tmp_path}/o")
  assert result.returncode == 2 and "conala-train.json" in result.stderr
  conala_fixtures.write_corpus(str(tmp_path))
  with open(tmp_path / "conala-mined.jsonl", "a") as f:
    f.write("{oops\n")
  result = run_command("export-conala", f"--from_disk={tmp_path}", f"--out_dir={tmp_path}/o")
  assert result.returncode == 2 and "conala-mined.jsonl:8: malformed JSON line" in result.stderr


def test_rewrite_intent_task_inputs_targets_and_exclusions(data):
  # seed 002's setup: all of curated train, curated test as validation.
  train = _examples("conala_rewrite_intent_seed002", "train")
  assert len(train) == 3  # the row without a rewritten intent is left out
  first = conala_fixtures.CURATED_TRAIN[0]
  assert train[0]["inputs_pretokenized"] == first["intent"] + "\n" + first["snippet"]
  assert train[0]["targets_pretokenized"] == first["rewritten_intent"]
  assert len(_examples("conala_rewrite_intent_seed002", "validation")) == 1
  task = seqio.get_mixture_or_task("conala_rewrite_intent_seed002")
  assert task.num_input_examples("train") == 4
  # The default: train and validation from curated train (by question), test = curated test.
  dev_inputs = {e["inputs_pretokenized"] for e in _examples("conala_rewrite_intent",
                                                             "validation")}
  train_inputs = {e["inputs_pretokenized"] for e in _examples("conala_rewrite_intent", "train")}
  test_inputs = {e["inputs_pretokenized"] for e in _examples("conala_rewrite_intent", "test")}
  assert not dev_inputs & train_inputs and len(dev_inputs | train_inputs) == 3
  assert test_inputs == {e["inputs_pretokenized"] for e in _examples(
      "conala_rewrite_intent_seed002", "validation")}


def test_mined_task_keeps_ids_for_joining(data):
  mined = _examples("conala_mined_rewrite_intent", "train")
  assert [m["id"] for m in mined] == [conala_fixtures.mined_row(i)["id"] for i in range(7)]
  assert mined[0]["targets_pretokenized"] == ""
  assert mined[0]["inputs_pretokenized"].startswith("Sort a nested list by two elements 0\n")


def test_code_generation_falls_back_to_the_intent(data):
  train = _examples("conala_code_generation", "train")
  both = train + _examples("conala_code_generation", "validation")
  assert sorted((ex["inputs_pretokenized"], ex["targets_pretokenized"]) for ex in both) == sorted(
      (r["rewritten_intent"] or r["intent"], r["snippet"]) for r in conala_fixtures.CURATED_TRAIN)
  mixture = seqio.get_mixture_or_task("conala_code_generation_with_mined")
  rates = {t.name: mixture.get_rate(t) for t in mixture.tasks}
  assert rates == {"conala_code_generation": len(train), "conala_mined_code_generation": 5}


def test_conala_tokenizer_matches_the_baseline_rules():
  assert metrics.conala_tokenize("os.path.join(myDir, 'file.txt')") == [
      "os", ".", "path", ".", "join", "(", "my", "Dir", ",", "`", "file", ".", "txt", "`", ")"]
  assert metrics.conala_tokenize('print("a  b")') == ["print", "(", "`", "a", "b", "`", ")"]


def test_bleu_hand_computed_cases():
  perfect = metrics.conala_bleu(["sorted(x)"], ["sorted(x)"])
  assert perfect["conala_bleu"] == pytest.approx(100) and perfect["conala_exact_match"] == 100
  # Three tokens cannot have a 4-gram: precision 0 -> BLEU 0 (no smoothing).
  assert metrics.corpus_bleu([list("abcde")], [list("abc")]) == 0
  # Brevity: all 6 tokens match an 8-token reference: BP = exp(1 - 8/6).
  assert metrics.corpus_bleu([list("abcdefgh")], [list("abcdef")]) == pytest.approx(
      math.exp(1 - 8 / 6))
  # Pooled over the corpus: p1..p4 = 8/9, 5/7, 3/5, 2/3; same length -> BP 1.
  bleu = metrics.corpus_bleu([list("abcde"), list("xyzw")], [list("abcde"), list("xyqw")])
  assert bleu == pytest.approx((8 / 9 * 5 / 7 * 3 / 5 * 2 / 3) ** 0.25)
  # Clipping: a repeated token counts at most as often as in the reference.
  assert metrics.corpus_bleu([list("aabcd")], [list("aaaa")]) == 0
  scores = metrics.conala_bleu(["sorted(x)", "len(a)"], ["sorted(x)", "len(b)"])
  assert scores["conala_exact_match"] == 50
  # sacrebleu's 13a tokens: "sorted ( x )" matches whole; "len ( b )" against "len ( a )"
  # matches 2 of 4 unigrams and 1 of 3 bigrams: p1..p4 = 7/8, 4/6, 2/4, 1/2; same length.
  assert scores["sacrebleu"] == pytest.approx(100 * (7 / 8 * 4 / 6 * 2 / 4 * 1 / 2) ** 0.25)


def test_intent_and_literals_baseline_on_fixed_pairs():
  rows = conala_fixtures.CURATED_TRAIN
  assert [conala_baselines.intent_and_literals(r["intent"], r["snippet"]) for r in rows] == [
      "convert a list of multiple integers into a single integer `d` `i` `x`",
      "convert a datetime string back to datetime object '2010-11-13 10:33:54.227806' "
      "'%Y-%m-%d %H:%M:%S.%f'",
      "averaging the values in a dictionary based on the key `i` `j`",
      "zip lists"]
  assert conala_baselines.intent_and_literals("Python: how to sort `l`?",
                                              "l.sort(key=len, reverse=True)") == "sort `l`"


def test_rewrite_eval_scores_the_baselines_beside_the_model_on_the_same_examples():
  """Through seqio's Evaluator (as t5x.eval runs it): a "model" that copies the snippet must
  score exactly what the copy_snippet baseline scores."""
  row = conala_fixtures.CURATED_TRAIN[1]  # seqio's data injector takes one example per split
  scores = seqio.test_utils.test_postprocessing(
      "conala_rewrite_intent", {"validation": row}, predict_output=[row["snippet"]])

  def bleu(output):
    return metrics.conala_bleu([row["rewritten_intent"]], [output])["conala_bleu"]

  expected = {"copy_intent": bleu(row["intent"]), "copy_snippet": bleu(row["snippet"]),
              "intent_and_literals": bleu(conala_baselines.intent_and_literals(
                  row["intent"], row["snippet"]))}
  assert expected["copy_snippet"] > 0 and expected["intent_and_literals"] > 0
  assert scores["conala_bleu"] == pytest.approx(expected["copy_snippet"])
  for name, value in expected.items():
    assert scores[f"conala_bleu_baseline_{name}"] == pytest.approx(value), name
  assert scores["conala_bleu_minus_best_baseline"] == pytest.approx(
      expected["copy_snippet"] - max(expected.values()))
  assert {"conala_exact_match", "sacrebleu", "conala_exact_match_baseline_copy_intent"} <= set(
      scores)


def test_copy_intent_rewrite_resumes_after_kill_with_each_id_once(tmp_path):
  mined = tmp_path / "mined.jsonl"
  rows = [conala_fixtures.mined_row(i) for i in range(4000)]
  mined.write_text("".join(json.dumps(r) + "\n" for r in rows + rows[:5]))  # 5 repeated ids
  out = tmp_path / "out.jsonl"
  cmd = [*command("rewrite-conala-mined"),
         f"--mined={mined}", f"--out={out}", "--predictor=copy_intent", "--batch_size=7"]
  kill_when(cmd, lambda: out.exists() and out.stat().st_size >= 2000)
  with open(out, "a") as f:
    f.write('{"id": "34705205_3')  # a line cut short by the kill
  result = subprocess.run(cmd, capture_output=True, text=True)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads(result.stdout.strip().splitlines()[-1])
  assert 0 < summary["resumed_from"] < 4000 and summary["total"] == 4000
  assert summary["duplicate_ids_skipped"] == 5
  lines = [json.loads(x) for x in out.read_text().splitlines()]
  assert [x["id"] for x in lines] == [r["id"] for r in rows]
  assert all(x["rewritten_intent"] == x["intent"] for x in lines)
  assert set(lines[0]) == {"id", "question_id", "intent", "snippet", "rewritten_intent"}


def test_nothing_left_to_write_exits_without_restoring_the_checkpoint(tmp_path):
  mined = tmp_path / "mined.jsonl"
  mined.write_text("".join(json.dumps(conala_fixtures.mined_row(i)) + "\n" for i in range(10)))
  out = tmp_path / "out.jsonl"
  inference.rewrite_mined(str(mined), str(out), inference.CopyIntentPredictor())
  before = out.read_bytes()
  # Restoring this checkpoint would fail: the run only succeeds if it never tries.
  result = run_command("rewrite-conala-mined", f"--mined={mined}", f"--out={out}",
                      f"--checkpoint={tmp_path}/no_such_checkpoint")
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads(result.stdout.strip().splitlines()[-1])
  assert (summary["resumed_from"], summary["written"], summary["total"]) == (10, 0, 10)
  assert f"Nothing left to write: all 10 ids are in {out}." in result.stderr
  assert out.read_bytes() == before


def test_lazy_predictor_is_built_only_when_a_batch_is_left(tmp_path):
  def build():
    raise RuntimeError("restored")

  mined = tmp_path / "mined.jsonl"
  mined.write_text("".join(json.dumps(conala_fixtures.mined_row(i)) + "\n" for i in range(3)))
  out = tmp_path / "out.jsonl"
  inference.rewrite_mined(str(mined), str(out), inference.CopyIntentPredictor())
  assert inference.rewrite_mined(str(mined), str(out), inference.LazyPredictor(build))[
      "written"] == 0
  with open(mined, "a") as f:
    f.write(json.dumps(conala_fixtures.mined_row(3)) + "\n")
  with pytest.raises(RuntimeError, match="restored"):
    inference.rewrite_mined(str(mined), str(out), inference.LazyPredictor(build))


def test_read_done_ids_drops_only_a_partial_last_line(tmp_path):
  path = tmp_path / "o.jsonl"
  path.write_text('{"id": "a"}\n{"id": "b"}\n{"id": "c')
  assert inference.read_done_ids(str(path)) == {"a", "b"}
  assert path.read_text() == '{"id": "a"}\n{"id": "b"}\n'


def test_json_lines_source_names_the_line_of_a_list_field(tmp_path):
  """A list where a string belongs is an error naming file, line and field, not its repr."""
  from code_t5.data import sources
  path = tmp_path / "train.jsonl"
  path.write_text('{"inputs": "a", "targets": "b"}\n{"inputs": ["x", "y"], "targets": "c"}\n')
  source = sources.JsonLinesSource(lambda split: str(path), ["inputs", "targets"],
                                   lambda split: None, "re-export")
  rows = source.get_dataset("train").as_numpy_iterator()
  assert next(rows) == {"inputs": b"a", "targets": b"b"}
  with pytest.raises(Exception, match=rf"{path}:2: field 'inputs' is a JSON list"):
    next(rows)
