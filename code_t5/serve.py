"""`python -m code_t5.serve --model=...`: the /autocomplete server for editor plugins.

  POST /autocomplete  {"text": "...", "k": 5, "max_length": 64, "temperature": 0.0}
                      -> {"result": ["suggestion", ...]}
  GET  /health        -> {"status": "ok", "model": "..."}

Bad input (too long, wrong types, k or lengths out of range) gets a 422 JSON error. Requests
are queued onto the model one at a time (a completer need not be thread-safe). Each request
logs one line with its latency. The OpenAPI schema is at /openapi.json, docs at /docs.
"""
import argparse
import asyncio
import glob
import logging
import os
import time

import fastapi
from fastapi.concurrency import run_in_threadpool
import pydantic

from code_t5 import autocomplete

LOG = logging.getLogger("code_t5.serve")
MAX_TEXT_CHARS = 100_000
MAX_K = 20
MAX_LENGTH = 512


class AutocompleteRequest(pydantic.BaseModel):
  text: str = pydantic.Field(max_length=MAX_TEXT_CHARS, description="text before the cursor")
  k: int = pydantic.Field(5, ge=1, le=MAX_K, description="number of suggestions")
  max_length: int = pydantic.Field(64, ge=1, le=MAX_LENGTH,
                                   description="most characters per suggestion")
  temperature: float = pydantic.Field(0.0, ge=0.0, le=2.0,
                                      description="0: most likely first; >0: sample")


class AutocompleteResponse(pydantic.BaseModel):
  result: list[str]


def create_app(completer: autocomplete.Completer) -> fastapi.FastAPI:
  app = fastapi.FastAPI(title="code_t5 autocomplete", version="1")
  lock = asyncio.Lock()

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

  @app.post("/autocomplete", response_model=AutocompleteResponse)
  async def complete(request: AutocompleteRequest) -> AutocompleteResponse:
    async with lock:
      result = await run_in_threadpool(completer.complete, request.text, request.k,
                                       request.max_length, request.temperature)
    return AutocompleteResponse(result=result)

  return app


def load_completer(spec: str) -> autocomplete.Completer:
  """`ngram:DIR` builds the n-gram baseline from the source files under DIR;
  `savedmodel:DIR` loads an exported model (T5X's t5x.export or Mesh TF's export_infer)."""
  kind, _, location = spec.partition(":")
  if kind == "savedmodel":
    return autocomplete.SavedModelCompleter(location)
  if kind == "ngram" and os.path.isdir(location):
    texts = []
    for path in sorted(glob.glob(os.path.join(location, "**", "*"), recursive=True)):
      if os.path.isfile(path):
        try:
          with open(path, encoding="utf-8") as f:
            texts.append(f.read())
        except (UnicodeDecodeError, OSError):
          continue
    return autocomplete.NGramCompleter(texts)
  raise ValueError(f"--model={spec}: expected ngram:<folder of source files> or "
                   "savedmodel:<export folder>.")


def main(argv=None) -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", required=True, help="ngram:<folder of source files> (a "
                      "baseline) or savedmodel:<export folder> (t5x.export or Mesh TF export_infer)")
  parser.add_argument("--host", default="127.0.0.1")
  parser.add_argument("--port", type=int, default=8000)
  args = parser.parse_args(argv)
  import uvicorn  # pylint: disable=g-import-not-at-top
  logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
  uvicorn.run(create_app(load_completer(args.model)), host=args.host, port=args.port)


if __name__ == "__main__":
  main()
