"""The /autocomplete HTTP client: what the replay, the tests and the benchmarks use to talk to
a server, and the one way to start a server subprocess and wait until it answers."""
import contextlib
import socket
import subprocess
import sys
import tempfile
import time
from typing import Iterator, Optional


class ServerError(RuntimeError):
  """The server refused or failed a request; the message is the server's."""


def server_message(response) -> str:
  """A 4xx/5xx answer as one short line: FastAPI's `detail` (a string, or pydantic's list of
  {loc, msg}), else the start of the body."""
  try:
    detail = response.json().get("detail")
  except (ValueError, AttributeError):
    detail = None
  if isinstance(detail, list):
    detail = "; ".join(
        f"{'.'.join(str(p) for p in d.get('loc', []) if p != 'body')}: {d.get('msg')}"
        if isinstance(d, dict) else str(d) for d in detail)
  text = str(detail) if detail else response.text.strip() or response.reason_phrase
  return f"HTTP {response.status_code}: {text[:300]}"


def k_cap(client) -> int | None:
  """The most suggestions the server accepts per request, from its /openapi.json (None if it
  does not say)."""
  try:
    schema = client.get("/openapi.json").json()
    return int(schema["components"]["schemas"]["AutocompleteRequest"]["properties"]["k"]
               ["maximum"])
  except Exception:  # pylint: disable=broad-except  # any server without that schema
    return None


def make_complete(client, url: str, k: int):
  """(text[, suffix]) -> suggestions over HTTP; a refused or failed request raises
  ServerError."""
  import httpx  # pylint: disable=g-import-not-at-top

  def complete(text: str, suffix: Optional[str] = None) -> list[str]:
    body = {"text": text, "k": k} if suffix is None else {"text": text, "suffix": suffix, "k": k}
    try:
      response = client.post("/autocomplete", json=body)
    except httpx.HTTPError as e:
      raise ServerError(f"{url}/autocomplete: no answer ({e}).") from None
    if response.status_code >= 400:
      raise ServerError(f"{url}/autocomplete refused a request: {server_message(response)}")
    try:
      result = response.json()["result"]
    except (ValueError, KeyError, TypeError):
      raise ServerError(f"{url}/autocomplete: answer without a \"result\" list "
                        f"({response.text[:200]!r}).") from None
    if not isinstance(result, list) or not all(isinstance(s, str) for s in result):
      raise ServerError(f"{url}/autocomplete: \"result\" is not a list of strings.")
    return result

  return complete


def wait_until_up(client, url: str, seconds: float, server=None, log=None) -> None:
  """Polls /health until it answers 200; ServerError naming the cause after `seconds`, or at
  once when the `server` process exited (with the end of its `log`)."""
  import httpx  # pylint: disable=g-import-not-at-top
  deadline = time.monotonic() + seconds
  while True:
    if server is not None and server.poll() is not None:
      output = ""
      if log is not None:
        log.seek(0)
        output = log.read()[-3000:]
      raise ServerError(f"{url}: the server exited (status {server.returncode}): {output}")
    try:
      if client.get("/health").status_code == 200:
        return
    except httpx.HTTPError as e:
      problem = e
    else:
      problem = "no 200 from /health"
    if time.monotonic() > deadline:
      raise ServerError(f"{url}: server not reachable after {seconds:g} s ({problem}).")
    time.sleep(0.25)


def free_port() -> int:
  with socket.socket() as s:
    s.bind(("127.0.0.1", 0))
    return s.getsockname()[1]


@contextlib.contextmanager
def running_server(model: str, seconds: float = 600, env: Optional[dict] = None,
                   cwd: Optional[str] = None) -> Iterator[tuple[str, subprocess.Popen]]:
  """`code-t5-serve --model=<model>` on a free loopback port, until
  /health answers; yields (its URL, the process) and stops it afterwards. Its output goes to a
  file: an unread pipe fills with its per-request log lines and blocks the server."""
  import httpx  # pylint: disable=g-import-not-at-top
  url = f"http://127.0.0.1:{free_port()}"
  with tempfile.TemporaryFile("w+") as log:
    server = subprocess.Popen(
        [sys.executable, "-m", "code_t5.autocomplete.server", f"--model={model}",
         f"--port={url.rsplit(':', 1)[1]}"], cwd=cwd, env=env, stdout=log,
        stderr=subprocess.STDOUT)
    try:
      with httpx.Client(base_url=url, timeout=5) as client:
        wait_until_up(client, url, seconds, server, log)
      yield url, server
    finally:
      server.kill()
      server.wait()
