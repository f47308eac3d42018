"""The /autocomplete contract with the n-gram stand-in, hostile requests, a load test, a memory
soak test and the replay script."""
import asyncio
import concurrent.futures
import json
import logging
import os
import re
import socket
import time

from fastapi import testclient as fastapi_testclient
import httpx
import pytest

from code_t5.autocomplete import completers, replay
from code_t5.autocomplete import server as server_lib
from conftest import autocomplete_server, run_command, uvicorn_on_loopback

CORPUS = ["import os\nimport sys\n\ndef main(argv):\n    return os.path.join(argv[0], 'x')\n",
          "import os\n\ndef main(args):\n    return os.path.join(args.root, 'y')\n"]


def test_ngram_completer_backs_off_and_completes_words():
  model = completers.NGramCompleter(CORPUS)
  assert model.complete("import ", k=2) == ["os", "sys"]
  # Equal counts: ties broken by text.
  assert model.complete("    return os.path.join(ar", k=5) == ["gs.root, 'y')", "gv[0], 'x')"]
  assert model.complete("def", k=1) == [" main(args):"]  # completes the word being typed
  assert model.complete("zzz unknown ", k=1) == ["import os"]  # backs off to no context


def test_replay_protocol_counts_words_minus_one():
  pairs = replay.replay_queries("a b  c")
  assert pairs == [("a", "b"), ("a b", ""), ("a b", "c")]
  assert replay.is_hit("os", ["import os"]) and not replay.is_hit("sys", ["os"])
  assert replay.is_exact_next_word("os", [" os.path"]) is False
  assert replay.is_exact_next_word("os.path", [" os.path x"])


def test_full_line_variant_pairs_each_query_with_the_rest_of_its_line():
  text = "import os\nx = foo(a, b)\nreturn x"
  assert [w for _, w in replay.replay_queries(text)] == [
      "os\nx", "=", "foo(a,", "b)\nreturn", "x"]
  # After "import os\nx" the line "x = foo(a, b)" continues with "= foo(a, b)".
  assert replay.rests_of_lines(text) == ["os", "= foo(a, b)", "foo(a, b)", "b)", "x"]
  assert replay.rests_of_lines("a\n b") == [""]  # the prefix "a" ended its line


@pytest.fixture(scope="module")
def client():
  app = server_lib.create_app(completers.NGramCompleter(CORPUS))
  with fastapi_testclient.TestClient(app) as c:
    yield c


def test_contract_health_and_openapi(client):
  assert client.get("/health").json() == {"status": "ok", "model": "ngram"}
  response = client.post("/autocomplete", json={"text": "import ", "k": 2})
  assert response.status_code == 200 and response.json() == {"result": ["os", "sys"]}
  schema = client.get("/openapi.json").json()
  assert "/autocomplete" in schema["paths"]


@pytest.mark.parametrize("body", [
    {}, {"text": 3}, {"text": "x", "k": 0}, {"text": "x", "k": 1000},
    {"text": "x", "max_length": 0}, {"text": "x", "temperature": -1},
    {"text": "x" * (server_lib.MAX_TEXT_CHARS + 1)},
    # Strict types: no coercion of strings, booleans or whole floats to integers.
    {"text": "x", "k": "3"}, {"text": "x", "k": True}, {"text": "x", "k": 2.0},
    {"text": "x", "max_length": "9"}, {"text": "x", "temperature": "0"}, {"text": ["x"]},
    {"text": "x", "unknown_ECHO": 1},
])
def test_bad_requests_get_json_422(client, body):
  response = client.post("/autocomplete", json=body)
  assert response.status_code == 422, response.text
  detail = response.json()["detail"]
  assert isinstance(detail, str) and 0 < len(detail) < 200 and "ECHO" not in detail


def test_the_ngram_model_refuses_a_sampling_temperature(client):
  for body in ({"text": "import ", "k": 2, "temperature": 0.0}, {"text": "import ", "k": 2}):
    assert client.post("/autocomplete", json=body).json() == {"result": ["os", "sys"]}
  response = client.post("/autocomplete", json={"text": "import ", "temperature": 0.5})
  assert response.status_code == 422 and response.json() == {
      "detail": "temperature: the ngram model is deterministic; send 0 or leave it out"}


def test_a_suffix_is_refused_with_the_reason_by_a_prefix_only_model(client):
  response = client.post("/autocomplete", json={"text": "import ", "suffix": "\nx = 1\n"})
  detail = response.json()["detail"]
  assert response.status_code == 422 and detail.startswith("suffix: the ngram completer "
                                                           "continues the text before"), detail
  assert "fill-in-the-middle" in detail
  assert client.post("/autocomplete", json={"text": "import ", "k": 2}).json() == {
      "result": ["os", "sys"]}  # without a suffix, as before


def _write_t5x_style_export(path) -> None:
  """A SavedModel with the T5X export's signature: text_batch -> completions, scores."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top

  class Export(tf.Module):

    @tf.function(input_signature=[tf.TensorSpec([None], tf.string)])
    def serve(self, text_batch):
      rows = tf.shape(text_batch)[:1]
      completions = tf.constant([[b"b()\nmore", b"a = 1", b"  "]])
      scores = tf.constant([[-2.0, -1.0, -3.0]])  # not in order: the completer sorts
      return {"output_0": tf.tile(completions, tf.concat([rows, [1]], 0)),
              "output_1": tf.tile(scores, tf.concat([rows, [1]], 0))}

  export = Export()
  tf.saved_model.save(export, str(path / "1"), signatures={"serving_default": export.serve})


def test_an_export_refuses_any_temperature_it_was_not_exported_with(tmp_path):
  _write_t5x_style_export(tmp_path)
  app = server_lib.create_app(server_lib.load_completer(f"savedmodel:{tmp_path}"))
  with fastapi_testclient.TestClient(app) as c:
    assert c.post("/autocomplete", json={"text": "x"}).json() == {"result": ["a = 1", "b()"]}
    for temperature in (0.0, 0.6):
      response = c.post("/autocomplete", json={"text": "x", "temperature": temperature})
      detail = response.json()["detail"]
      assert response.status_code == 422 and detail.startswith("temperature: an export fixes "
                                                               "its decoding"), detail
      assert "--model=t5x:" in detail and len(detail) < 200


ECHO = "ECHO" * 10  # in each hostile body below; must never come back in an answer


@pytest.mark.parametrize("body, message", [
    (b'{"text": "ECHO", "temperature": NaN}', "NaN is not a JSON number"),
    (b'{"text": "ECHO", "temperature": Infinity}', "Infinity is not a JSON number"),
    (b'{"text": "ECHO", "temperature": -Infinity}', "Infinity is not a JSON number"),
    (b'{"text": "ECHO", "temperature": 1e400}', "temperature: must be finite"),
    (b'{"text": "ECHO\\ud800"}', "unpaired surrogate"),
    (b'{"text": "ECHO\\udfff\\ud800"}', "unpaired surrogate"),
    ('{"text": "ECHO caf\u00e9"}'.encode("latin-1"), "not UTF-8"),
    (b"\xff\xfeECHO", "not UTF-8"),
    (b"{ECHO", "not JSON"),
    (b"", "not JSON"),
    (b'["ECHO"]', "must be a JSON object"),
    (b'{"ECHO": "ECHO", "text": "x"}', "unknown field"),
    (b'{"text": "ECHO", "k": 1' + b"0" * 5000 + b"}", "not usable JSON"),
    (b"[" * 100_000 + b"]" * 100_000, "not"),
])
def test_hostile_bodies_get_a_short_422_that_does_not_echo(client, body, message):
  response = client.post("/autocomplete", content=body.replace(b"ECHO", ECHO.encode()),
                         headers={"content-type": "application/json"})
  assert response.status_code == 422, response.text
  detail = response.json()["detail"]
  assert message in detail and ECHO not in response.text and len(detail) < 200, detail


def test_fewer_than_k_suggestions_when_the_model_has_fewer(client):
  response = client.post("/autocomplete", json={"text": "import ", "k": server_lib.MAX_K})
  result = response.json()["result"]
  assert response.status_code == 200 and result[:2] == ["os", "sys"]
  assert 2 < len(result) < server_lib.MAX_K  # all the corpus offers, after backing off
  schema = client.get("/openapi.json").json()["components"]["schemas"]["AutocompleteRequest"]
  assert schema["properties"]["k"]["maximum"] == server_lib.MAX_K
  assert "fewer come back" in schema["properties"]["k"]["description"]
  assert schema["additionalProperties"] is False


def test_docs_work_offline(client):
  page = client.get("/docs")
  assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
  # Everything is in the page: no script, no stylesheet, no address of another host.
  for needle in ("<script", "<link", "http://", "https://", "//cdn"):
    assert needle not in page.text
  assert "POST /autocomplete" in page.text and "max_length" in page.text
  assert client.get("/redoc").status_code == 404


def test_body_limit_is_configurable_and_413(client):
  small = server_lib.create_app(completers.NGramCompleter(CORPUS), max_body_bytes=100)
  with fastapi_testclient.TestClient(small) as c:
    assert c.post("/autocomplete", json={"text": "import "}).status_code == 200
    big = c.post("/autocomplete", json={"text": "x" * 200})
    assert big.status_code == 413 and "100 bytes" in big.json()["detail"]
    chunked = c.post("/autocomplete", content=iter([b'{"text": "', b"x" * 200, b'"}']))
    assert chunked.status_code == 413
  assert server_lib.MAX_BODY_BYTES <= 1_000_000
  # The largest valid text, every character escaped as \uXXXX, still fits the default.
  largest = json.dumps({"text": "\u00e9" * server_lib.MAX_TEXT_CHARS})
  assert len(largest) <= server_lib.MAX_BODY_BYTES


def test_missing_model_folder_is_one_line(tmp_path, capsys):
  assert server_lib.main([f"--model=ngram:{tmp_path}/missing"]) == 2
  err = capsys.readouterr().err
  assert err.count("\n") == 1 and "missing does not exist" in err and "Traceback" not in err
  (tmp_path / "file").write_text("x")
  assert server_lib.main([f"--model=savedmodel:{tmp_path}/file"]) == 2
  assert "is not a folder" in capsys.readouterr().err
  assert server_lib.main(["--model=bert:x"]) == 2
  assert "expected ngram:" in capsys.readouterr().err


def test_empty_or_unreadable_model_folder_warns(tmp_path, caplog):
  (tmp_path / "binary.py").write_bytes(b"\xff\xfe")
  os.mkfifo(tmp_path / "pipe.py")  # must not block the load
  (tmp_path / "big.py").write_bytes(b"x = 1\n" * (server_lib.MAX_NGRAM_FILE_BYTES // 6 + 1))
  with caplog.at_level(logging.INFO, logger="code_t5.autocomplete.server"):
    completer = server_lib.load_completer(f"ngram:{tmp_path}")
  assert completer.complete("import ") == []
  warning = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
  assert len(warning) == 1 and "every request will get an empty result" in warning[0]
  assert "not_regular_file 1, not_utf8 1, too_large 1" in warning[0]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
  """uvicorn on a free loopback port, serving the n-gram model of a small source folder."""
  src = tmp_path_factory.mktemp("src")
  for i, text in enumerate(CORPUS * 3):
    (src / f"m{i}.py").write_text(text)
  with uvicorn_on_loopback(server_lib.create_app(server_lib.load_completer(f"ngram:{src}"))) \
      as url:
    yield url, src


def test_200_concurrent_requests_all_succeed(live_server):
  url, _ = live_server

  async def one(client, i):
    start = time.perf_counter()
    response = await client.post("/autocomplete", json={"text": f"import os\n# {i}\nimport "})
    return response.status_code, time.perf_counter() - start

  async def run():
    async with httpx.AsyncClient(base_url=url, timeout=60) as client:
      return await asyncio.gather(*(one(client, i) for i in range(200)))

  results = asyncio.run(run())
  assert [code for code, _ in results] == [200] * 200


def test_replay_script_reports_accuracy(live_server):
  url, src = live_server
  result = run_command("eval-autocomplete", url, str(src), "--files=2", "--seed=1")
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.loads(result.stdout)
  assert report["files"] == 2 and report["queries"] > 10
  assert 0 < report["exact_next_word"] <= report["accuracy"] <= 1
  assert report["full_line_queries"] > 0
  assert 0 <= report["full_line_exact_match"] <= report["full_line_edit_similarity"] <= 100
  again = run_command("eval-autocomplete", url, str(src), "--files=2", "--seed=1")
  assert json.loads(again.stdout)["accuracy"] == report["accuracy"]  # deterministic
  result = run_command("eval-autocomplete", url, str(src / "none"))
  assert result.returncode == 2 and "no *.py files" in result.stderr


def _complete_response(answer: bytes) -> bool:
  head, sep, body = answer.partition(b"\r\n\r\n")
  length = re.search(rb"(?im)^content-length: *(\d+)", head)
  return bool(sep and length and len(body) >= int(length.group(1)))


def _raw_post(url: str, head: bytes, body: bytes = b"", timeout: float = 30) -> bytes:
  """Sends a hand-written request on a fresh loopback connection; returns the answer once it
  is complete (as a client would: the server may keep the connection open, or close it)."""
  host, port = url.removeprefix("http://").split(":")
  with socket.create_connection((host, int(port)), timeout=timeout) as s:
    s.sendall(head + body)
    answer = b""
    while not _complete_response(answer) and (chunk := s.recv(65536)):
      answer += chunk
    return answer


def test_large_declared_body_gets_413_before_it_is_sent(live_server):
  url, _ = live_server
  start = time.perf_counter()
  # Claims 300 MB and sends 10 KB: the answer must come without waiting for the rest.
  answer = _raw_post(url, b"POST /autocomplete HTTP/1.1\r\nHost: x\r\nContent-Type: "
                     b"application/json\r\nContent-Length: 300000000\r\n\r\n", b"x" * 10_000)
  assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]
  assert b"over 1000000 bytes" in answer and time.perf_counter() - start < 10
  # Streamed without a length: cut off once past the limit.
  chunk = b"%x\r\n%s\r\n" % (500_000, b"x" * 500_000)
  answer = _raw_post(url, b"POST /autocomplete HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: "
                     b"chunked\r\n\r\n", chunk * 3)
  assert answer.startswith(b"HTTP/1.1 413 "), answer[:200]


def _rss_mb(pid: int) -> float:
  with open(f"/proc/{pid}/status") as f:
    return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:")) / 1024


@pytest.mark.skipif(not os.path.exists("/proc/self/status"), reason="reads RSS from /proc")
def test_soak_rss_returns_to_baseline(tmp_path):
  """A server process on loopback takes rounds of large and hostile requests; its RSS must come
  back near the baseline measured after warm-up (bounded: about 300 requests, 600 MB sent)."""
  src = tmp_path / "src"
  src.mkdir()
  for i, text in enumerate(CORPUS * 3):
    (src / f"m{i}.py").write_text(text)
  with autocomplete_server(f"ngram:{src}") as (url, server):
    head = b"POST /autocomplete HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    near_limit = json.dumps({"text": "\u00e9" * 150_000}).encode()  # 900 kB, too long: 422
    hostile = [
        (head + b"Content-Length: 300000000\r\n\r\n", b"x" * 65536),
        (head + b"Content-Length: %d\r\n\r\n" % len(near_limit), near_limit),
        (head + b"Transfer-Encoding: chunked\r\n\r\n", b"f4240\r\n" + b"[" * 1_000_000
         + b"\r\n0\r\n\r\n"),
        (head + b"Content-Length: 40\r\n\r\n", b'{"text": "x", "temperature": NaN}'.ljust(40)),
        (head + b"Content-Length: 16\r\n\r\n", b'{"text":"\\ud800"}'[:16]),
        (head + b"Content-Length: 4\r\n\r\n", b"\xff\xfe\xfd\xfc"),
        (head + b"Content-Length: 23\r\n\r\n", b'{"text": "import ", "k"'),
        (head + b"Content-Length: 29\r\n\r\n", b'{"text": "import ", "k": 2}\r\n'),
    ]

    def one_round() -> set:
      with concurrent.futures.ThreadPoolExecutor(10) as pool:
        answers = list(pool.map(lambda hb: _raw_post(url, *hb), hostile * 4))
      return {a.split(b" ", 2)[1] for a in answers}

    assert one_round() == {b"200", b"413", b"422"}  # warm-up: every path taken once
    baseline = _rss_mb(server.pid)
    peak = baseline
    for _ in range(8):
      assert one_round() == {b"200", b"413", b"422"}
      peak = max(peak, _rss_mb(server.pid))
    time.sleep(0.5)
    after = _rss_mb(server.pid)
    print(f"RSS baseline {baseline:.1f} MB, peak {peak:.1f} MB, after {after:.1f} MB "
          f"({len(hostile) * 4 * 8} requests)")
    assert httpx.post(f"{url}/autocomplete", json={"text": "import "}).status_code == 200
    assert peak - baseline < 100 and after - baseline < 25, (baseline, peak, after)


def test_ngram_refuses_what_the_search_index_refuses(tmp_path, caplog):
  """One walk for the n-gram and the search index: a symlink out of the folder, a non-UTF-8
  name and a hidden folder are left out, each counted."""
  outside = tmp_path / "outside.py"
  outside.write_text("secret_token = 1\n")
  src = tmp_path / "src"
  (src / ".hidden").mkdir(parents=True)
  (src / ".hidden" / "h.py").write_text("hidden_word = 2\n")
  (src / "ok.py").write_text("import os\nimport sys\n")
  os.symlink(outside, src / "link.py")
  with open(os.path.join(os.fsencode(src), b"caf\xe9.py"), "wb") as f:
    f.write(b"cafe_word = 3\n")
  with caplog.at_level(logging.INFO, logger="code_t5.autocomplete.server"):
    completer = server_lib.load_completer(f"ngram:{src}")
  info = " ".join(r.getMessage() for r in caplog.records)
  assert "1 files read" in info
  assert "name_not_utf8 1, symlink_outside_tree 1" in info
  assert completer.complete("secret_") == [] and completer.complete("import ")


def test_ngram_scores_follow_counts_and_back_off():
  model = completers.NGramCompleter(["a b c\na b c\na b d\nx b e\n"])
  scored = dict(model.scored("a b ", k=5))
  assert scored["c"] == pytest.approx(2 / 3) and scored["d"] == pytest.approx(1 / 3)
  # "e" follows "b" only after "x": proposed by the one-word context, scored at the backoff.
  assert scored["e"] == pytest.approx(completers.BACKOFF * 1 / 4)
  assert [s for s, _ in model.scored("a b ", k=5)] == model.complete("a b ", k=5)


def test_hybrid_weight_is_fit_to_the_queries_it_is_given():
  from code_t5.autocomplete import hybrid, replay  # pylint: disable=g-import-not-at-top
  query = lambda word: replay.Query("x = ", word, word, False)
  # The n-gram is right on the first query, the model on the second and third.
  queries = [query("a"), query("b"), query("c")]
  candidates = [[hybrid.Candidate("a", 0.9, -5.0), hybrid.Candidate("z", 0.1, -0.1)],
                [hybrid.Candidate("y", 0.6, -4.0), hybrid.Candidate("b", 0.4, -0.5)],
                [hybrid.Candidate("y", 0.5, -4.0), hybrid.Candidate("c", 0.3, -0.7)]]
  weight, table = hybrid.fit_weight(queries, candidates)
  assert [r["weight"] for r in table] == list(hybrid.WEIGHTS)
  assert table[0]["exact_next_word"] == pytest.approx(2 / 3)  # the model alone
  assert table[-1]["exact_next_word"] == pytest.approx(1 / 3)  # the n-gram alone
  best = max(r["exact_next_word"] for r in table)
  assert best == 1.0 and dict((r["weight"], r["exact_next_word"]) for r in table)[weight] == 1.0
  with pytest.raises(ValueError, match="between 0 and 1"):
    hybrid.HybridCompleter(None, None, weight=1.5)
