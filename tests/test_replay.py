"""The replay evaluation: strict protocol, licence headers, a constant server, server errors."""
import json
import os

import httpx
import pytest

from code_t5.autocomplete import completers, replay
from code_t5.autocomplete import server as server_lib
from code_t5.autocomplete import client
from code_t5.commands import eval_autocomplete
from code_t5.data import full_line_cut
from conftest import uvicorn_on_loopback

LICENCE = """# Copyright 2024 The Example Authors.
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""
MODULES = [
        '''"""Reads configuration files."""
import json
import os


class Config:

    def __init__(self, path):
        self.path = path
        self.values = {}

    def load(self):
        with open(self.path) as f:
            self.values = json.load(f)
        return self.values

    def get(self, key, default=None):
        return self.values.get(key, default)
''',
        '''"""Small numeric helpers."""
import math


def mean(xs):
    if not xs:
        raise ValueError("mean of nothing")
    return sum(xs) / len(xs)


def stddev(xs):
    m = mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / len(xs))
''',
        '''"""Walks a tree of files."""
import os


def walk(root, suffix=".py"):
    for folder, _, names in os.walk(root):
        for name in sorted(names):
            if name.endswith(suffix):
                yield os.path.join(folder, name)
''',
]
FILES = [(f"m{i}.py", LICENCE + text) for i, text in enumerate(MODULES)]
# The server that ignores its input (it beat the n-gram on the seed's accuracy).
CONSTANT = ['= self.get("None", (1, 0)):', "return", "if not", "in"]


class ConstantCompleter:
  name = "constant"

  def complete(self, text, k=5, max_length=64, temperature=0.0):
    del text, max_length, temperature
    return CONSTANT[:k]


def test_words_are_runs_of_non_whitespace_and_prefixes_are_exact():
  text = "import os\n\n    x  =\tf(a, b)\n"
  queries = replay.strict_queries(text)
  assert [q.word for q in queries] == ["os", "x", "=", "f(a,", "b)"]
  assert [q.prefix for q in queries] == [
      "import ", "import os\n\n    ", "import os\n\n    x  ", "import os\n\n    x  =\t",
      "import os\n\n    x  =\tf(a, "]
  assert [q.rest_of_line for q in queries] == ["os", "x  =\tf(a, b)", "=\tf(a, b)", "f(a, b)",
                                               "b)"]
  assert len(replay.strict_queries(text, max_words=3)) == 2
  assert replay.strict_queries(" \n\t ") == [] == replay.strict_queries("one")


def test_leading_comment_block_is_the_header():
  text = FILES[0][1]
  end = replay.leading_comment_end(text)
  assert text[end:].startswith('"""Reads configuration files."""')
  queries = replay.strict_queries(text)
  assert {q.word for q in queries if q.in_header} >= {"Copyright", "License", "limitations"}
  assert not any(q.in_header for q in queries if q.prefix.endswith('files."""\n'))
  c_file = "/*\n * Licence\n */\n// more\n\n#include <stdio.h>\nint x;\n"
  assert c_file[replay.leading_comment_end(c_file, ".c"):].startswith("#include")
  assert replay.leading_comment_end("x = 1  # note\n") == 0
  only_comments = "#!/bin/sh\n# only comments\n"
  assert replay.leading_comment_end(only_comments) == len(only_comments)


def test_constant_server_scores_about_zero_on_every_strict_metric():
  report = replay.replay(ConstantCompleter().complete, FILES, seed_protocol=True)
  assert report["files"] == 3 and report["queries"] > 300
  ngram = completers.NGramCompleter([LICENCE + t for t in MODULES])  # reads its input
  learned = replay.replay(lambda text: ngram.complete(text, 5), FILES, seed_protocol=True)
  for scores, better in ((report, learned), (report["after_header"], learned["after_header"]),
                         (report["task_cut"], learned["task_cut"])):
    # Its only exact words are the "=" its top suggestion starts with (4 of 96 after the
    # header): about the share of "=" among the words of Python code.
    assert scores.get("exact_next_word", 0) < 0.05 < 0.5 < better.get("exact_next_word", 1)
    assert scores["full_line_exact_match"] == 0 < better["full_line_exact_match"]
    # Edit similarity of any fixed string is the characters it shares with a line (~20-30),
    # the floor of this metric; an empty answer scores 0.
    assert scores["full_line_edit_similarity"] < 30 and better["full_line_edit_similarity"] > 50
  assert report["task_cut"]["queries"] == 3
  # The seed's whole protocol is fooled: empty "words" from indentation are inside any
  # suggestion. Its hit rule alone, on the strict queries, still rewards short words.
  assert report["seed_protocol_accuracy"] > 0.3 and report["seed_protocol_queries"] > 300
  assert report["exact_next_word"] <= report["accuracy"] < learned["accuracy"]
  empty = replay.replay(lambda text: [], FILES)
  assert (empty["exact_next_word"], empty["full_line_edit_similarity"]) == (0, 0)


def test_task_cut_is_the_full_line_example():
  seen = []
  replay.replay(lambda text: seen.append(text) or [], FILES[:1], max_words=2)
  inputs, _ = full_line_cut.example(FILES[0][1])
  assert seen == [replay.strict_queries(FILES[0][1])[0].prefix, inputs]


@pytest.fixture(scope="module")
def constant_server(tmp_path_factory):
  """uvicorn on a free loopback port, serving a completer that ignores its input."""
  src = tmp_path_factory.mktemp("src")
  for name, text in FILES:
    (src / name).write_text(text)
  with uvicorn_on_loopback(server_lib.create_app(ConstantCompleter())) as url:
    yield url, src


def test_script_over_loopback_matches_the_in_process_replay(constant_server, capsys):
  url, src = constant_server
  assert eval_autocomplete.main([url, str(src), "--files=3"]) == 0
  report = json.loads(capsys.readouterr().out)
  expected = replay.replay(ConstantCompleter().complete,
                                 [(str(src / n), t) for n, t in FILES])
  key = lambda r: {k: v for k, v in r.items() if k != "per_file"}  # noqa: E731
  assert key(report) == key(expected)
  assert sorted(report["per_file"], key=lambda f: f["file"]) == expected["per_file"]


def test_k_above_the_servers_cap_is_a_clear_message(constant_server, capsys):
  url, src = constant_server
  assert eval_autocomplete.main([url, str(src), f"--k={server_lib.MAX_K + 30}"]) == 2
  err = capsys.readouterr().err
  assert (f"--k={server_lib.MAX_K + 30}: the server at {url} returns at most "
          f"{server_lib.MAX_K}") in err
  assert "Traceback" not in err


def test_a_refused_request_reports_the_servers_message(constant_server, tmp_path, capsys):
  url, _ = constant_server
  (tmp_path / "big.py").write_text("x" * (server_lib.MAX_TEXT_CHARS + 10) + " y\n")
  code = eval_autocomplete.main([url, str(tmp_path), "--context_chars=1000000"])
  err = capsys.readouterr().err
  assert code == 2 and f"\nerror: {url}/autocomplete refused a request: HTTP 422: " in err
  assert "text" in err and "Traceback" not in err and "xxxxxxxxxx" not in err


@pytest.mark.parametrize("body, message", [
    ({"detail": "k: at most 20"}, "HTTP 422: k: at most 20"),
    ({"detail": [{"loc": ["body", "k"], "msg": "Input should be less than or equal to 20"}]},
     "HTTP 422: k: Input should be less than or equal to 20"),
    ("plain text", "HTTP 422: plain text"),
])
def test_server_message_reads_fastapi_errors(body, message):
  kwargs = {"json": body} if isinstance(body, dict) else {"text": body}
  assert client.server_message(httpx.Response(422, **kwargs)) == message
