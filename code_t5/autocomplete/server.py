"""`code-t5-serve --model=...`: the /autocomplete server for editors.

  POST /autocomplete  {"text": "...", "k": 5, "max_length": 64, "temperature": 0.0}
                      -> {"result": ["suggestion", ...]}
  GET  /health        -> {"status": "ok", "model": "..."}
  GET  /docs          -> this API as one self-contained HTML page (works offline)
  GET  /openapi.json  -> the OpenAPI schema

Limits: text up to 100,000 characters, k 1..20, max_length 1..512, temperature 0..2 (finite),
a body of at most --max_body_bytes (default 1,000,000). `result` holds at most k suggestions,
and fewer when the model has fewer distinct continuations: the n-gram baseline keeps 32 per
context, a T5X checkpoint decodes about 2k, a T5X export returns BEAM_SIZE (4) and a Mesh TF export
one; none when nothing fits.

temperature: 0 (the default) gives the likeliest first, above 0 samples. A T5X checkpoint
(--model=t5x:DIR) honours both: beam search at 0, sampling above. The n-gram model is
deterministic and refuses above 0; an export fixes its decoding when exported and refuses any
request that sets temperature (422, with the reason).

Errors are JSON {"detail": "<one line>"} and never repeat the request: 413 for a body over the
limit (answered from the Content-Length header, or as soon as a streamed body passes it, before
the rest is read), 422 for anything else malformed (not UTF-8, not JSON, NaN or Infinity, an
unpaired surrogate escape, a missing or unknown field, a value of the wrong JSON type — "3",
true and 2.0 are not integers — or out of range).

Requests are queued onto the model one at a time (a completer need not be thread-safe). Each
request logs one line with its latency.
"""
import argparse
import asyncio
import html
import json
import logging
import os
import sys
import time
from typing import Any, Optional, Sequence

import fastapi
from fastapi.concurrency import run_in_threadpool
import pydantic

from code_t5 import source_functions
from code_t5.autocomplete import completers

LOG = logging.getLogger("code_t5.autocomplete.server")
MAX_TEXT_CHARS = 100_000
MAX_K = 20
MAX_LENGTH = 512
MAX_BODY_BYTES = 1_000_000
# The n-gram baseline reads files up to this size, as preparation does (corpora/filters.py).
MAX_NGRAM_FILE_BYTES = source_functions.MAX_FILE_BYTES


class AutocompleteRequest(pydantic.BaseModel):
  """Strict: JSON types must match exactly, and unknown fields are refused."""
  model_config = pydantic.ConfigDict(extra="forbid", strict=True)

  text: str = pydantic.Field(max_length=MAX_TEXT_CHARS, description="text before the cursor")
  k: int = pydantic.Field(5, ge=1, le=MAX_K, description=(
      "most suggestions to return; fewer come back when the model has fewer distinct "
      "continuations (n-gram: 32 per context, T5X export: BEAM_SIZE, Mesh TF export: 1)"))
  max_length: int = pydantic.Field(64, ge=1, le=MAX_LENGTH,
                                   description="most characters per suggestion")
  suffix: Optional[str] = pydantic.Field(None, max_length=MAX_TEXT_CHARS, description=(
      "text after the cursor, for fill-in-the-middle: only a t5x model trained with FIM takes "
      "it (its run's task or mixture names `fim`); any other model answers 422 with the reason"))
  temperature: float = pydantic.Field(0.0, ge=0.0, le=2.0, allow_inf_nan=False, description=(
      "0: most likely first (t5x: beam search); >0: sample at this temperature (t5x: only; "
      "ngram refuses >0, a savedmodel export refuses any value: decoding fixed at export)"))


class AutocompleteResponse(pydantic.BaseModel):
  result: list[str] = pydantic.Field(description="at most k suggestions, best first")


class BadRequest(Exception):
  """A request refused with `status` and a one-line message that does not quote the input."""

  def __init__(self, status: int, message: str):
    super().__init__(message)
    self.status = status


# Pydantic error types -> short messages (its own messages may name the model class).
_MESSAGES = {
    "missing": "is required",
    "extra_forbidden": "unknown field",
    "int_type": "must be a JSON integer",
    "float_type": "must be a JSON number",
    "string_type": "must be a JSON string",
    "string_unicode": "holds an unpaired surrogate escape (\\ud800-\\udfff)",
    "finite_number": "must be finite",
}


def _describe(error: dict) -> str:
  """One validation error in a few words; names only the request's own fields."""
  loc = error.get("loc") or ()
  field = loc[0] if loc and loc[0] in AutocompleteRequest.model_fields else None
  if error["type"] == "model_type":
    return "the body must be a JSON object"
  if error["type"] == "extra_forbidden":
    return f"unknown field (allowed: {', '.join(AutocompleteRequest.model_fields)})"
  message = _MESSAGES.get(error["type"], error["msg"][:120])
  return f"{field}: {message}" if field else message


def _reject_constant(name: str) -> None:
  raise BadRequest(422, f"{name} is not a JSON number")


def parse_request(body: bytes) -> AutocompleteRequest:
  """The request in `body`, or BadRequest(422) with a message that does not quote it."""
  try:
    text = body.decode("utf-8")
  except UnicodeDecodeError as e:
    raise BadRequest(422, f"the body is not UTF-8 (byte {e.start})") from None
  try:
    data = json.loads(text, parse_constant=_reject_constant)
  except json.JSONDecodeError as e:
    raise BadRequest(422, f"the body is not JSON ({e.msg} at line {e.lineno} column "
                     f"{e.colno})") from None
  except (ValueError, RecursionError) as e:  # e.g. an integer of over 4300 digits
    raise BadRequest(422, f"the body is not usable JSON ({type(e).__name__})") from None
  try:
    return AutocompleteRequest.model_validate(data)
  except pydantic.ValidationError as e:
    errors = e.errors(include_url=False, include_input=False, include_context=False)
    raise BadRequest(422, "; ".join(_describe(x) for x in errors[:4])) from None


def _error_response(status: int, message: str) -> fastapi.responses.JSONResponse:
  return fastapi.responses.JSONResponse({"detail": message}, status_code=status)


class BodyLimit:
  """ASGI middleware: refuses a body over `max_bytes` with 413 without reading the rest, and
  hands the app the body it read, so nothing downstream holds more than `max_bytes`."""

  def __init__(self, app, max_bytes: int):
    self.app = app
    self.max_bytes = max_bytes

  async def __call__(self, scope, receive, send) -> None:
    if scope["type"] != "http":
      await self.app(scope, receive, send)
      return
    too_large = _error_response(413, f"the body is over {self.max_bytes} bytes "
                                "(the server's --max_body_bytes)")
    length = dict(scope["headers"]).get(b"content-length")
    if length is not None:
      if not length.isdigit():
        await _error_response(400, "bad Content-Length header")(scope, receive, send)
        return
      if int(length) > self.max_bytes:
        await too_large(scope, receive, send)
        return
    chunks, size = [], 0
    while True:
      message = await receive()
      if message["type"] == "http.disconnect":
        return
      chunks.append(message.get("body", b""))
      size += len(chunks[-1])
      if size > self.max_bytes:
        await too_large(scope, receive, send)
        return
      if not message.get("more_body"):
        break
    body, delivered = b"".join(chunks), False

    async def replay() -> dict:
      nonlocal delivered
      if delivered:
        return await receive()
      delivered = True
      return {"type": "http.request", "body": body, "more_body": False}

    await self.app(scope, replay, send)


def _docs_page(schema: dict) -> str:
  """The API as plain HTML generated from the OpenAPI schema: no scripts, no CDN."""
  parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>"
           f"{html.escape(schema['info']['title'])}</title></head><body>",
           f"<h1>{html.escape(schema['info']['title'])}</h1>",
           f"<pre>{html.escape(__doc__)}</pre>",
           "<p>Machine-readable schema: <a href='openapi.json'>openapi.json</a>.</p>"]
  components = schema.get("components", {}).get("schemas", {})
  for path, methods in schema["paths"].items():
    for method, op in methods.items():
      parts.append(f"<h2>{method.upper()} {html.escape(path)}</h2>")
      content = op.get("requestBody", {}).get("content", {}).get("application/json", {})
      ref = content.get("schema", {}).get("$ref", "")
      body = components.get(ref.rsplit("/", 1)[-1], {})
      if body:
        rows = "".join(
            f"<tr><td>{html.escape(name)}</td><td>{html.escape(str(prop.get('type', '')))}"
            f"</td><td>{html.escape(json.dumps(prop.get('default', 'required')))}</td>"
            f"<td>{html.escape(_limits(prop))}</td>"
            f"<td>{html.escape(prop.get('description', ''))}</td></tr>"
            for name, prop in body.get("properties", {}).items())
        parts.append("<table border='1'><tr><th>field</th><th>type</th><th>default</th>"
                     f"<th>limits</th><th>meaning</th></tr>{rows}</table>")
  parts.append("</body></html>")
  return "\n".join(parts)


def _limits(prop: dict) -> str:
  names = {"minimum": ">=", "maximum": "<=", "maxLength": "length <="}
  return ", ".join(f"{sign} {prop[key]}" for key, sign in names.items() if key in prop)


def create_app(completer: completers.Completer,
               max_body_bytes: int = MAX_BODY_BYTES) -> fastapi.FastAPI:
  # FastAPI's /docs and /redoc load their scripts from a CDN (blank offline): serve our own.
  app = fastapi.FastAPI(title="code_t5 autocomplete", version="1", docs_url=None,
                        redoc_url=None)
  lock = asyncio.Lock()
  app.add_middleware(BodyLimit, max_bytes=max_body_bytes)  # inside the logging below

  @app.middleware("http")
  async def log_latency(request: fastapi.Request, call_next):
    start = time.perf_counter()
    response = await call_next(request)
    LOG.info("%s %s %d %.1f ms", request.method, request.url.path, response.status_code,
             1000 * (time.perf_counter() - start))
    return response

  @app.get("/health")
  async def health() -> dict:
    return {"status": "ok", "model": completer.name}

  @app.get("/docs", include_in_schema=False)
  async def docs() -> fastapi.responses.HTMLResponse:
    return fastapi.responses.HTMLResponse(_docs_page(app.openapi()))

  # The body is parsed by parse_request (strict, never echoed), not by FastAPI; the schema
  # still documents it.
  request_schema = {"$ref": "#/components/schemas/AutocompleteRequest"}

  @app.post("/autocomplete", response_model=AutocompleteResponse, openapi_extra={
      "requestBody": {"required": True,
                      "content": {"application/json": {"schema": request_schema}}},
      "responses": {"413": {"description": "body over --max_body_bytes"},
                    "422": {"description": "malformed request: {\"detail\": message}"}}})
  async def complete(request: fastapi.Request) -> Any:
    try:
      parsed = parse_request(await request.body())
    except BadRequest as e:
      return _error_response(e.status, str(e))
    if "temperature" in parsed.model_fields_set and hasattr(completer, "temperature_error"):
      problem = completer.temperature_error(parsed.temperature)
      if problem:
        return _error_response(422, f"temperature: {problem}")
    extra = {}
    if parsed.suffix is not None:
      problem = completers.suffix_error(completer)
      if problem:
        return _error_response(422, f"suffix: {problem}")
      extra["suffix"] = parsed.suffix
    async with lock:
      result = await run_in_threadpool(completer.complete, parsed.text, parsed.k,
                                       parsed.max_length, parsed.temperature, **extra)
    return AutocompleteResponse(result=result[:parsed.k])

  openapi = app.openapi

  def openapi_with_request_schema() -> dict:
    schema = openapi()
    schema.setdefault("components", {}).setdefault("schemas", {})["AutocompleteRequest"] = (
        AutocompleteRequest.model_json_schema())
    return schema

  app.openapi = openapi_with_request_schema
  return app


def load_completer(spec: str) -> completers.Completer:
  """`ngram:DIR` builds the n-gram baseline from the source files under DIR;
  `savedmodel:DIR` loads an exported model (T5X's t5x.export or Mesh TF's export_infer);
  `t5x:DIR` restores a decoder-only T5X checkpoint (a t5x.train model dir, for its newest
  checkpoint, or one checkpoint_<step> folder) and decodes it in JAX;
  `hybrid:ngram:DIR,t5x:DIR[,weight=W]` ranks both one's lines (code_t5/autocomplete/hybrid.py)."""
  kind, _, location = spec.partition(":")
  if kind == "hybrid":
    return _load_hybrid(spec, location)
  if kind not in ("ngram", "savedmodel", "t5x") or not location:
    raise ValueError(f"--model={spec}: expected ngram:<folder of source files>, "
                     "savedmodel:<export folder>, t5x:<model dir or checkpoint_<step> dir> or "
                     "hybrid:ngram:<folder>,t5x:<model dir>[,weight=<0..1>].")
  if not os.path.isdir(location):
    what = "is not a folder" if os.path.exists(location) else "does not exist"
    raise FileNotFoundError(f"--model={spec}: the folder {location} {what}; give "
                            f"{kind}:<an existing folder>.")
  if kind == "savedmodel":
    return completers.SavedModelCompleter(location)
  if kind == "t5x":
    return _load_t5x(spec, location)
  texts, skipped = source_functions.read_texts(location, MAX_NGRAM_FILE_BYTES)
  counts = ", ".join(f"{reason} {n}" for reason, n in sorted(skipped.items())) or "none"
  LOG.info("n-gram model: %d files read under %s (skipped: %s)", len(texts), location, counts)
  if not any(text.strip() for text in texts):
    LOG.warning("warning: --model=%s: no non-empty UTF-8 text files under %s (skipped: %s); "
                "every request will get an empty result.", spec, location, counts)
  return completers.NGramCompleter(texts)


def _load_hybrid(spec: str, parts: str) -> completers.Completer:
  from code_t5.autocomplete import hybrid  # pylint: disable=g-import-not-at-top
  given = dict(part.partition("=")[::2] if part.startswith("weight=") else
               (part.partition(":")[0], part) for part in parts.split(","))
  if set(given) - {"ngram", "t5x", "weight"} or not {"ngram", "t5x"} <= set(given):
    raise ValueError(f"--model={spec}: expected hybrid:ngram:<folder>,t5x:<model dir>"
                     "[,weight=<the n-gram's share, 0..1, as fit on validation data>]")
  try:
    weight = float(given.get("weight", 0.5))
  except ValueError:
    raise ValueError(f"--model={spec}: weight={given['weight']!r} is not a number") from None
  return hybrid.HybridCompleter(load_completer(given["ngram"]), load_completer(given["t5x"]),
                                weight)


def _load_t5x(spec: str, location: str) -> completers.Completer:
  # pylint: disable=g-import-not-at-top  (T5X is optional and slow to import)
  from code_t5.train import t5x_restore
  try:
    t5x_restore.checkpoint_and_config(location)  # before importing JAX: fail fast
  except FileNotFoundError as e:
    raise FileNotFoundError(f"--model={spec}: {e}") from None
  try:
    from code_t5.autocomplete import t5x_completer
  except ImportError as e:
    raise RuntimeError(f"--model={spec}: cannot import T5X ({e}); install the t5x extra as "
                       "README.md says.") from None
  try:
    return t5x_completer.T5XCompleter(location)
  except (ValueError, OSError) as e:
    raise type(e)(f"--model={spec}: {e}") from None


def main(argv: Optional[Sequence[str]] = None) -> int:
  parser = argparse.ArgumentParser(prog="code-t5-serve",
                                   description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", required=True, help="ngram:<folder of source files> (a "
                      "baseline), savedmodel:<export folder> (t5x.export or Mesh TF "
                      "export_infer) or t5x:<model dir or checkpoint_<step> dir> (a decoder-only "
                      "T5X checkpoint, decoded in JAX: beam search, per-request temperature) or "
                      "hybrid:ngram:<folder>,t5x:<model dir>[,weight=W] (both, ranked together)")
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, default=8000)
  parser.add_argument("--max_body_bytes", type=int, default=MAX_BODY_BYTES,
                      help="larger request bodies get 413 (default: %(default)s)")
  args = parser.parse_args(argv)
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  if args.max_body_bytes < 1:
    print(f"error: --max_body_bytes={args.max_body_bytes}: give a positive number of bytes.",
          file=sys.stderr)
    return 2
  try:
    completer = load_completer(args.model)
  except (ValueError, OSError, RuntimeError) as e:
    print(f"error: {e}", file=sys.stderr)
    return 2
  import uvicorn  # pylint: disable=g-import-not-at-top
  uvicorn.run(create_app(completer, args.max_body_bytes), host=args.host, port=args.port)
  return 0


if __name__ == "__main__":
  sys.exit(main())
