"""The /autocomplete contract with the n-gram stand-in, a load test and the replay script."""
import asyncio
import json
import socket
import threading
import time

import pytest

fastapi_testclient = pytest.importorskip("fastapi.testclient")
httpx = pytest.importorskip("httpx")
uvicorn = pytest.importorskip("uvicorn")

from code_t5 import autocomplete, serve  # noqa: E402
from conftest import run_script  # noqa: E402

CORPUS = ["import os\nimport sys\n\ndef main(argv):\n    return os.path.join(argv[0], 'x')\n",
          "import os\n\ndef main(args):\n    return os.path.join(args.root, 'y')\n"]


def test_ngram_completer_backs_off_and_completes_words():
  model = autocomplete.NGramCompleter(CORPUS)
  assert model.complete("import ", k=2) == ["os", "sys"]
  # Equal counts: ties broken by text.
  assert model.complete("    return os.path.join(ar", k=5) == ["gs.root, 'y')", "gv[0], 'x')"]
  assert model.complete("def", k=1) == [" main(args):"]  # completes the word being typed
  assert model.complete("zzz unknown ", k=1) == ["import os"]  # backs off to no context


def test_replay_protocol_counts_words_minus_one():
  pairs = autocomplete.replay_queries("a b  c")
  assert pairs == [("a", "b"), ("a b", ""), ("a b", "c")]
  assert autocomplete.is_hit("os", ["import os"]) and not autocomplete.is_hit("sys", ["os"])
  assert autocomplete.is_exact_next_word("os", [" os.path"]) is False
  assert autocomplete.is_exact_next_word("os.path", [" os.path x"])


def test_full_line_variant_pairs_each_query_with_the_rest_of_its_line():
  text = "import os\nx = foo(a, b)\nreturn x"
  assert [w for _, w in autocomplete.replay_queries(text)] == [
      "os\nx", "=", "foo(a,", "b)\nreturn", "x"]
  # After "import os\nx" the line "x = foo(a, b)" continues with "= foo(a, b)".
  assert autocomplete.rests_of_lines(text) == ["os", "= foo(a, b)", "foo(a, b)", "b)", "x"]
  assert autocomplete.rests_of_lines("a\n b") == [""]  # the prefix "a" ended its line


@pytest.fixture(scope="module")
def client():
  app = serve.create_app(autocomplete.NGramCompleter(CORPUS))
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
    {"text": "x" * (serve.MAX_TEXT_CHARS + 1)},
])
def test_bad_requests_get_json_4xx(client, body):
  response = client.post("/autocomplete", json=body)
  assert response.status_code == 422 and "detail" in response.json()


def test_not_json_gets_4xx(client):
  response = client.post("/autocomplete", content=b"{not json",
                         headers={"content-type": "application/json"})
  assert 400 <= response.status_code < 500


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
  """uvicorn on a free loopback port, serving the n-gram model of a small source folder."""
  src = tmp_path_factory.mktemp("src")
  for i, text in enumerate(CORPUS * 3):
    (src / f"m{i}.py").write_text(text)
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
  config = uvicorn.Config(serve.create_app(serve.load_completer(f"ngram:{src}")),
                          host="127.0.0.1", port=port, log_level="warning")
  server = uvicorn.Server(config)
  thread = threading.Thread(target=server.run, daemon=True)
  thread.start()
  deadline = time.time() + 30
  while not server.started and time.time() < deadline:
    time.sleep(0.05)
  yield f"http://127.0.0.1:{port}", src
  server.should_exit = True
  thread.join(timeout=10)


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
  result = run_script("eval_autocomplete.py", url, str(src), "--files=2", "--seed=1")
  assert result.returncode == 0, result.stderr[-2000:]
  report = json.loads(result.stdout)
  assert report["files"] == 2 and report["queries"] > 10
  assert 0 < report["exact_next_word"] <= report["accuracy"] <= 1
  assert report["full_line_queries"] > 0
  assert 0 <= report["full_line_exact_match"] <= report["full_line_edit_similarity"] <= 100
  again = run_script("eval_autocomplete.py", url, str(src), "--files=2", "--seed=1")
  assert json.loads(again.stdout)["accuracy"] == report["accuracy"]  # deterministic
  result = run_script("eval_autocomplete.py", url, str(src / "none"))
  assert result.returncode == 2 and "no *.py files" in result.stderr
