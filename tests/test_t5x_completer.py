"""Completion from a T5X checkpoint in JAX: a tiny decoder-only model trained a few steps on the
fixture tree, decoded directly and behind `--model=t5x:DIR` (runs where T5X imports)."""
import functools
import os
import statistics
import subprocess
import sys
import time

import httpx
import jax
import numpy as np
import pytest

from code_t5.autocomplete import server as server_lib
from code_t5.train import trainer_runs
from conftest import REPO_ROOT, autocomplete_server

pytestmark = pytest.mark.skipif(
    trainer_runs.installed_trainer() != "t5x",
    reason="T5X is not importable: it is not on PyPI (install the `t5x` extra as README.md "
           "says, with network access)")
GIN = "code_t5/gin_configs/t5x"
STEPS = 60  # enough for the fixture's repeated lines to be learnt (each prompt below)
PROMPTS = ['"""Module 7."""\nimport ', '    return os.path.', "\nimport",
           'def f3(x):\n\tif x > 3:\n\t\treturn ', '"""Module 7."""\nimport os\n\n\ndef ']


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory, data_dir):
  """dev_decoder_only.gin (byte vocabulary) trained STEPS steps on the fixture tree."""
  model_dir = str(tmp_path_factory.mktemp("lm") / "model")
  result = subprocess.run(
      [sys.executable, "-m", "t5x.train", f"--gin_file={GIN}/dev_decoder_only.gin",
       f"--gin.MODEL_DIR='{model_dir}'", f"--gin.TRAIN_STEPS={STEPS}",
       f"--gin.train.eval_period={STEPS}", "--gin.train.eval_steps=1",
       "--gin.train.run_eval_before_training=False",
       f"--gin.utils.SaveCheckpointConfig.period={STEPS}"],
      capture_output=True, text=True, cwd=REPO_ROOT,
      env={**os.environ, "CODE_T5_DATA_DIR": data_dir})
  assert result.returncode == 0, result.stderr[-4000:]
  return model_dir


@pytest.fixture(scope="module")
def completer(model_dir):
  from code_t5.autocomplete import t5x_completer  # pylint: disable=g-import-not-at-top
  # alpha=0: beam search ranks by log-probability alone, so it can be checked against greedy.
  return t5x_completer.T5XCompleter(model_dir, alpha=0.0, warm_up=False)


def _check_suggestions(result, k, max_length=64):
  assert len(result) <= k and len(set(result)) == len(result), result
  for suggestion in result:
    assert "\n" not in suggestion and suggestion.strip() and len(suggestion) <= max_length


def test_beam_search_gives_k_distinct_lines_the_same_each_time(completer):
  assert completer.checkpoint.endswith(f"checkpoint_{STEPS}")  # the newest
  for prompt in PROMPTS:
    result = completer.complete(prompt, k=4)
    _check_suggestions(result, 4)
    assert completer.complete(prompt, k=4) == result
    _check_suggestions(completer.complete(prompt, k=1), 1)
  # The prompt is what the model continues: lines of the fixture files, learnt.
  assert completer.complete('"""Module 7."""\nimport ', k=1) == ["os"]
  assert completer.complete("    return os.path.", k=4)[0].startswith("join(")
  several, one = completer.complete("\nimport", k=4), completer.complete("\nimport", k=1)
  assert len(several) == 4 and len(one) == 1 and one[0] in several
  assert all(len(s) <= 3 for s in completer.complete("\nimport", k=4, max_length=3))


def _log_prob(completer, prompt, completion, length=128):
  """log P(completion | prompt) from a plain forward pass (T5X's scorer, no decoding); padded
  to `length`, so that one compiled scorer serves every call."""
  ids = prompt + completion
  pad = [0] * (length - len(ids))
  batch = {"decoder_target_tokens": np.array([ids + pad], np.int32),
           "decoder_input_tokens": np.array([[0] + ids[:-1] + pad], np.int32),
           "decoder_loss_weights": np.array([[0] * len(prompt) + [1] * len(completion) + pad],
                                            np.int32)}
  return float(_scorer(completer)(completer.params, batch)[0])


@functools.lru_cache(maxsize=None)
def _scorer(completer):
  return jax.jit(completer.model.score_batch)


def test_beam_search_is_beam_search(completer):
  newline = [completer.newline_id]
  compared = 0
  for text in PROMPTS:
    prompt = completer.prompt_tokens(text)
    beams = completer.decode(text, num_decodes=8, max_tokens=32)
    greedy = completer.decode(text, num_decodes=1, max_tokens=32, kind="sample")[0]
    tokens = [tuple(b.tokens) for b in beams]
    assert len(beams) >= 2 and len(set(tokens)) == len(tokens), tokens
    assert [b.score for b in beams] == sorted((b.score for b in beams), reverse=True)
    for candidate in beams[:3] + [greedy]:  # the reported scores are the model's log-probs
      completion = candidate.tokens + (newline if candidate.ended else [])
      assert candidate.score == pytest.approx(_log_prob(completer, prompt, completion),
                                              abs=2e-3, rel=1e-3)
    if greedy.ended and beams[0].ended:
      compared += 1
      assert beams[0].score >= greedy.score - 1e-3, (text, beams[0], greedy)
  assert compared >= 2
  # Where greedy commits to a bad first token, the beam finds a likelier line.
  assert any(completer.decode(t, 8, 32)[0].score > completer.decode(
      t, 1, 32, kind="sample")[0].score + 0.5 for t in PROMPTS)


def test_sampling_follows_the_temperature(completer):
  prompt = PROMPTS[0]
  for _ in range(2):
    _check_suggestions(completer.complete(prompt, k=4, temperature=0.8), 4)
  hot = [tuple(c.tokens) for _ in range(3)
         for c in completer.decode(prompt, 8, 16, temperature=2.0)]
  assert len(set(hot)) > 3  # samples differ from call to call and within one
  samples = completer.decode(prompt, 8, 16, temperature=0.8)
  assert [c.score for c in samples] == sorted((c.score for c in samples), reverse=True)
  # Near zero, sampling is greedy decoding.
  greedy = completer.decode(prompt, 1, 16, kind="sample")[0].tokens
  assert all(c.tokens == greedy for c in completer.decode(prompt, 4, 16, temperature=1e-6))


def test_a_prompt_longer_than_the_window_keeps_its_end(completer):
  long_text = "x = 1\n" * 200 + '"""Module 7."""\nimport '
  prompt = completer.prompt_tokens(long_text)
  assert len(prompt) == completer.max_prompt_tokens < len(long_text)
  tail = completer.vocabulary.decode(prompt)
  assert long_text.endswith(tail)
  result = completer.complete(long_text, k=3)
  _check_suggestions(result, 3)
  assert result == completer.complete(tail, k=3)


def test_bad_model_dirs_are_one_line_errors(model_dir, tmp_path, capsys, monkeypatch):
  from code_t5.autocomplete import t5x_completer  # pylint: disable=g-import-not-at-top
  with pytest.raises(FileNotFoundError, match="no checkpoint_<step> folder"):
    t5x_completer.T5XCompleter(str(tmp_path))
  lone = tmp_path / "lone" / "checkpoint_3"
  lone.mkdir(parents=True)
  with pytest.raises(FileNotFoundError, match="no config.gin beside"):
    t5x_completer.T5XCompleter(str(lone))
  # An encoder-decoder run: refused, naming its model class, before anything is restored.
  monkeypatch.chdir(REPO_ROOT)
  (tmp_path / "lone" / "config.gin").write_text(f"include '{GIN}/models/t5_1_1_tiny.gin'\n")
  with pytest.raises(ValueError, match="its model is EncoderDecoderModel, not DecoderOnlyModel"):
    t5x_completer.T5XCompleter(str(lone))
  for spec, message in ((f"t5x:{tmp_path}/missing", "missing does not exist"),
                        (f"t5x:{tmp_path}", "no checkpoint_<step> folder"),
                        (f"t5x:{lone}", "its model is EncoderDecoderModel")):
    assert server_lib.main([f"--model={spec}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err and "Traceback" not in err, err


def test_server_serves_a_checkpoint(model_dir):
  # 300 s: imports, restore and the warm-up compile.
  with autocomplete_server(f"t5x:{model_dir}", timeout=300) as (url, _):
    assert httpx.get(f"{url}/health").json() == {"status": "ok", "model": "t5x"}
    with httpx.Client(base_url=url, timeout=120) as client:
      for body in ({"text": PROMPTS[0]}, {"text": PROMPTS[1], "k": 1},
                   {"text": PROMPTS[2], "k": 4, "temperature": 0.8},
                   {"text": PROMPTS[2], "k": 20, "temperature": 2.0, "max_length": 5},
                   {"text": PROMPTS[3], "temperature": 0.0}, {"text": ""},
                   {"text": "x" * server_lib.MAX_TEXT_CHARS, "max_length": 512}):
        response = client.post("/autocomplete", json=body)
        assert response.status_code == 200, (body, response.text)
        _check_suggestions(response.json()["result"], body.get("k", 5),
                           body.get("max_length", 64))
      assert client.post("/autocomplete", json={"text": PROMPTS[0], "k": 1}).json() == {
          "result": ["os"]}
      # Latency with k=4 at temperature 0 (the bucket is compiled by the first request).
      texts = [p + " " * i for i in range(5) for p in PROMPTS[:4]]
      for text in texts:  # compiles each prompt bucket once
        client.post("/autocomplete", json={"text": text, "k": 4})
      latencies = []
      for text in texts:
        start = time.perf_counter()
        assert client.post("/autocomplete", json={"text": text, "k": 4}).status_code == 200
        latencies.append(time.perf_counter() - start)
      print(f"t5x:{STEPS}-step tiny model, k=4: median {1000 * statistics.median(latencies):.1f}"
            f" ms, max {1000 * max(latencies):.1f} ms over {len(latencies)} requests")


def test_trailing_whitespace_is_healed(completer, monkeypatch):
  """The model is prompted without the spaces or tabs before the cursor, and only
  continuations that write them again are kept, without them."""
  from code_t5.autocomplete import t5x_completer  # pylint: disable=g-import-not-at-top
  vocab, prompts = completer.vocabulary, []

  def fake_decode(prompt, num_decodes, max_tokens, temperature, kind=None):
    prompts.append(vocab.decode(prompt))
    lines = ["  return x", "    return y", "    z", "\tw", "    return y"]
    if vocab.decode(prompt).startswith("class"):
      lines = ["  pass"]
    return [t5x_completer.Candidate(vocab.encode(t), -1.0, True) for t in lines]

  monkeypatch.setattr(completer, "_decode", fake_decode)
  assert completer.complete("def f():\n    ", k=4) == ["return y", "z"]
  assert completer.complete("x = 1", k=4) == ["  return x", "    return y", "    z", "\tw"]
  assert prompts == ["def f():\n", "x = 1"]
  # No continuation writes the four spaces again: the text is continued as it stands.
  assert completer.complete("class A:\n    ", k=4) == ["  pass"]
  assert prompts[2:] == ["class A:\n", "class A:\n    "]


@pytest.fixture(scope="module")
def fim_model_dir(tmp_path_factory, data_dir):
  """dev_decoder_only_fim.gin (left-to-right and fill-in-the-middle) trained a few steps."""
  model_dir = str(tmp_path_factory.mktemp("fim") / "model")
  result = subprocess.run(
      [sys.executable, "-m", "t5x.train", f"--gin_file={GIN}/dev_decoder_only_fim.gin",
       f"--gin.MODEL_DIR='{model_dir}'", "--gin.TRAIN_STEPS=20", "--gin.train.eval_period=20",
       "--gin.train.eval_steps=1", "--gin.train.run_eval_before_training=False",
       "--gin.utils.SaveCheckpointConfig.period=20"],
      capture_output=True, text=True, cwd=REPO_ROOT,
      env={**os.environ, "CODE_T5_DATA_DIR": data_dir})
  assert result.returncode == 0, result.stderr[-4000:]
  return model_dir


def test_a_model_trained_without_fim_refuses_a_suffix(completer):
  assert not completer.fim and "not trained with fill-in-the-middle" in completer.suffix_error()
  with pytest.raises(ValueError, match="fill-in-the-middle"):
    completer.complete("import ", suffix="\nx = 1\n")


def test_fim_model_prompts_in_psm_form_serves_a_suffix_and_replays_with_it(fim_model_dir):
  from code_t5.autocomplete import replay, t5x_completer  # pylint: disable=g-import-not-at-top
  fim = t5x_completer.T5XCompleter(fim_model_dir, max_prompt_tokens=64, max_decode_tokens=16,
                                   warm_up=False)
  assert fim.fim and fim.suffix_error() is None
  prefix_id, middle_id, suffix_id = fim.fim_ids
  prompt = fim.prompt_tokens("import os\n", "\nprint(x)\n")
  assert prompt[0] == prefix_id and prompt[-1] == middle_id and prompt.count(suffix_id) == 1
  cut = prompt.index(suffix_id)
  assert fim.vocabulary.decode(prompt[1:cut]) == "import os\n"
  assert fim.vocabulary.decode(prompt[cut + 1:-1]) == "\nprint(x)\n"
  long = fim.prompt_tokens("a" * 500, "b" * 500)  # the suffix gets a quarter of the room
  assert len(long) == 64 and fim.vocabulary.decode(long[long.index(suffix_id) + 1:-1]) == (
      "b" * ((64 - 3) // 4))
  _check_suggestions(fim.complete("import ", k=3, suffix="\n\nos.path.join(a, b)\n"), 3, 16)
  text = "import os\nimport sys\n\ndef main():\n    return 0\n"
  asked = []
  report = replay.replay(lambda p, s: asked.append((p, s)) or fim.complete(p, 1, 16, suffix=s),
                         [("a.py", text)], with_suffix=True)
  assert report["protocol"].startswith("strict_with_suffix") and report["queries"] == 7
  assert all(text.startswith(p) and text.endswith(s) and p + s != text for p, s in asked)
  with autocomplete_server(f"t5x:{fim_model_dir}") as (url, _):
    response = httpx.post(f"{url}/autocomplete", timeout=120,
                          json={"text": "import ", "suffix": "\nx = 1\n", "k": 2})
    assert response.status_code == 200, response.text
    _check_suggestions(response.json()["result"], 2)


def test_a_fim_model_writes_and_scores_single_line_infills(fim_model_dir, model_dir, tmp_path):
  import json  # pylint: disable=g-import-not-at-top
  samples = tmp_path / "infills.jsonl"
  result = subprocess.run([sys.executable, "-m", "code_t5.commands.eval_humaneval",
                           f"--samples={samples}", "--infilling", f"--model=t5x:{fim_model_dir}",
                           "--limit=3", "--k=1", "--json"],
                          capture_output=True, text=True, cwd=REPO_ROOT)
  assert result.returncode == 0, result.stderr[-3000:]
  summary = json.loads(result.stdout.splitlines()[-1])
  assert summary["problems"] == 3 and 0.0 <= summary["pass@1"] <= 1.0
  rows = [json.loads(x) for x in samples.read_text().splitlines()]
  assert [r["task_id"] for r in rows] == ["HumanEval/0/L0", "HumanEval/0/L1", "HumanEval/0/L2"]
  refused = subprocess.run([sys.executable, "-m", "code_t5.commands.eval_humaneval",
                            f"--samples={tmp_path}/x.jsonl", "--infilling",
                            f"--model=t5x:{model_dir}"], capture_output=True, text=True,
                           cwd=REPO_ROOT)
  assert refused.returncode == 2 and "not trained with fill-in-the-middle" in refused.stderr


def test_log_likelihoods_are_the_scores_beam_search_reports(completer):
  """The hybrid's model scores: log P(line, then the line break | text), as beam search (alpha
  0) scores the lines it decodes, in one batch whatever the number of lines."""
  for text in PROMPTS[1:3]:  # no trailing whitespace: `decode` prompts with the text as it is
    beams = [b for b in completer.decode(text, num_decodes=8, max_tokens=32) if b.ended]
    lines = [completer.vocabulary.decode(b.tokens) for b in beams]
    scores = completer.log_likelihoods(text, lines)
    assert scores == pytest.approx([b.score for b in beams], abs=2e-3, rel=1e-3), text
  # Trailing spaces are healed as `complete` heals them: scored as part of the line.
  assert completer.log_likelihoods("import ", ["os"]) == pytest.approx(
      completer.log_likelihoods("import", [" os"]), abs=1e-4)
  many = [f"x{i}" for i in range(45)]  # more than one compiled batch holds
  assert len(completer.log_likelihoods(PROMPTS[0], many)) == 45
  assert completer.log_likelihoods(PROMPTS[0], []) == []


def test_hybrid_pools_both_sides_and_its_weight_moves_between_them(completer, code_tree):
  from code_t5.autocomplete import completers, hybrid  # pylint: disable=g-import-not-at-top
  from code_t5 import source_functions  # pylint: disable=g-import-not-at-top
  ngram = completers.NGramCompleter(source_functions.read_texts(code_tree)[0])
  text = PROMPTS[0]
  pooled = hybrid.HybridCompleter(ngram, completer).candidates(text, k=4)
  from_ngram = [s for s, _ in ngram.scored(text, 16)]
  assert [c.text for c in pooled][:len(from_ngram)] == from_ngram  # the n-gram's first
  assert set(completer.complete(text, k=4)) <= {c.text for c in pooled}
  assert all(c.log_p_model < 0 for c in pooled)
  # weight 1: the n-gram's order; weight 0: the model's likeliest line first.
  assert hybrid.ranked(pooled, 1.0)[:len(from_ngram)] == from_ngram
  likeliest = max(pooled, key=lambda c: c.log_p_model).text
  assert hybrid.ranked(pooled, 0.0)[0] == likeliest
  assert hybrid.HybridCompleter(ngram, completer, 0.0).complete(text, k=2)[0] == likeliest


def test_server_serves_the_hybrid_and_refuses_a_bad_spec_in_one_line(model_dir, code_tree,
                                                                      capsys):
  spec = f"hybrid:ngram:{code_tree},t5x:{model_dir},weight=0.3"
  with autocomplete_server(spec, timeout=300) as (url, _):
    assert httpx.get(f"{url}/health").json()["model"] == "hybrid"
    response = httpx.post(f"{url}/autocomplete", json={"text": PROMPTS[0], "k": 3}, timeout=120)
    assert response.status_code == 200 and 1 <= len(response.json()["result"]) <= 3
  for bad, message in ((f"hybrid:ngram:{code_tree}", "expected hybrid:ngram:<folder>,t5x:"),
                       (f"hybrid:ngram:{code_tree},t5x:{model_dir},weight=x", "not a number"),
                       (f"hybrid:ngram:{code_tree},t5x:{model_dir},weight=2", "between 0 and 1"),
                       (f"hybrid:ngram:{code_tree},t5x:/no/such", "does not exist")):
    assert server_lib.main([f"--model={bad}"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and message in err, err
