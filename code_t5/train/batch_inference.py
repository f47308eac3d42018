"""Batched, resumable inference over JSON lines: rewrites the intents of conala-mined.

The output gets one line per input id, written batch by batch and flushed. A restart reads the
ids already written (dropping a last line cut short by a kill) and continues after them, so the
finished file has every id exactly once whatever the interruptions.

Across hosts, process i of N rewrites the ids whose hash falls in share i (`in_share`) into its
own part, `<out>.part-0000i-of-0000N`, resumable on its own; `merge_parts` then checks that
every part is complete and writes `<out>` with every id once, in the input's order.
"""
import functools
import hashlib
import json
import os
import time
from typing import Callable, Iterable, Iterator, Optional, Protocol, Sequence

import tqdm

from code_t5 import atomic_files as atomic


class Predictor(Protocol):
  """Anything that maps a batch of model inputs to one output string each."""

  def predict(self, inputs: Sequence[str]) -> list[str]:
    ...


class CopyIntentPredictor:
  """Deterministic stand-in: returns the intent (the first line of the input) unchanged.

  A baseline for the rewritten-intent file, and what the resume machinery is tested with.
  """

  def predict(self, inputs: Sequence[str]) -> list[str]:
    return [text.split("\n", 1)[0] for text in inputs]


class LazyPredictor:
  """Builds its predictor on the first batch, so a run with nothing left to write restores no
  checkpoint."""

  def __init__(self, build: Callable[[], Predictor]):
    self._build = build
    self._predictor: Optional[Predictor] = None

  def predict(self, inputs: Sequence[str]) -> list[str]:
    if self._predictor is None:
      self._predictor = self._build()
    return self._predictor.predict(inputs)


class T5XPredictor:
  """A T5X checkpoint (as t5x.train writes it), restored and run the way t5x.infer does.

  `decoding`: 'greedy' (beam search with one beam), 'beam' (`num_beams`, best one kept), or
  'temperature' (sampling at `temperature` among the `top_k` likeliest tokens).
  """

  def __init__(self, model_gin: str, checkpoint_path: str, batch_size: int = 32,
               inputs_length: int = 512, targets_length: int = 128, decoding: str = "greedy",
               num_beams: int = 4, temperature: float = 0.6, top_k: int = 40,
               gin_bindings: Sequence[str] = ()):
    # pylint: disable=g-import-not-at-top  (T5X is optional)
    import jax.numpy as jnp
    from t5x import utils
    from code_t5.train import t5x_restore
    model_class = "DecoderOnlyModel" if "decoder_only" in model_gin else "EncoderDecoderModel"
    bindings = ["from __gin__ import dynamic_registration", "from t5x import decoding",
                "from t5x import models", *gin_bindings]
    decoder_params = {}
    if decoding in ("greedy", "beam"):
      bindings.append(f"models.{model_class}.decode_fn = @decoding.beam_search")
      num_decodes = 1 if decoding == "greedy" else num_beams
    elif decoding == "temperature":
      bindings.append(f"models.{model_class}.decode_fn = @decoding.temperature_sample")
      # Passed per call, not bound in gin: the model outlives the private gin config.
      decoder_params = {"temperature": temperature, "topk": top_k}
      num_decodes = 1
    else:
      raise ValueError(f"--decoding={decoding}: expected greedy, beam or temperature.")
    model = t5x_restore.build_model([model_gin], bindings=bindings)
    self._vocab = model.input_vocabulary
    self._lengths = {"inputs": inputs_length, "targets": targets_length}
    self._converter = model.FEATURE_CONVERTER_CLS(pack=False)
    spec = self._model_features([""]).element_spec
    restored = t5x_restore.restore(
        model, checkpoint_path, {k: (batch_size,) + v.shape for k, v in spec.items()},
        {k: jnp.dtype(v.dtype.as_numpy_dtype) for k, v in spec.items()})

    def step(*args, **kwargs):  # T5X adds keys to decoder_params: a fresh dict per batch
      return model.predict_batch_with_aux(*args, num_decodes=num_decodes,
                                          decoder_params=dict(decoder_params), **kwargs)

    self._infer = functools.partial(
        utils.get_infer_fn(step, batch_size, restored.initializer.train_state_axes,
                           restored.partitioner),
        train_state=restored.state)

  def _model_features(self, inputs: Sequence[str]):
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    eos = self._vocab.eos_id
    ids = [self._vocab.encode(text)[:self._lengths["inputs"] - 1] + [eos] for text in inputs]
    ds = tf.data.Dataset.from_tensor_slices(tf.ragged.constant(ids, dtype=tf.int32))
    ds = ds.map(lambda x: {"inputs": x, "targets": tf.constant([eos], tf.int32)})
    return self._converter(ds, self._lengths)

  def predict(self, inputs: Sequence[str]) -> list[str]:
    # predict_batch_with_aux gives ([(index, tokens)], aux scores); indices come back in order.
    indexed, _ = self._infer(self._model_features(inputs).enumerate())
    return [self._vocab.decode(tokens) for _, tokens in indexed]


def read_done_ids(path: str) -> set[str]:
  """Ids already in the output; a last line cut short by a kill is removed from the file."""
  done = set()
  if not os.path.exists(path):
    return done
  good_bytes = 0
  with open(path, "rb") as f:
    for line in f:
      try:
        if not line.endswith(b"\n"):
          raise ValueError("no newline")
        done.add(json.loads(line)["id"])
      except (ValueError, KeyError):
        break  # only the last line can be partial: everything before it was flushed whole
      good_bytes += len(line)
  with open(path, "rb+") as f:
    f.truncate(good_bytes)
  return done


def _batches(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
  batch = []
  for row in rows:
    batch.append(row)
    if len(batch) == size:
      yield batch
      batch = []
  if batch:
    yield batch


def in_share(key: str, index: int, count: int) -> bool:
  """Whether id `key` is process `index`'s of `count` (by its hash: any input order or sharding
  gives each process the same ids)."""
  return int(hashlib.sha256(key.encode("utf-8")).hexdigest()[:16], 16) % count == index


def part_path(out_path: str, index: int, count: int) -> str:
  """Process `index`'s output: `out_path` itself for one process."""
  return out_path if count == 1 else f"{out_path}.part-{index:05d}-of-{count:05d}"


def mined_rows(mined_path: str) -> Iterator[dict]:
  """The mined pairs, in order, from one file or the export's shards; a malformed line stops
  with its file and line."""
  for path, number, line in atomic.jsonl_lines(mined_path):
    try:
      row = json.loads(line)
      row["id"]  # pylint: disable=pointless-statement
    except (ValueError, KeyError, TypeError) as e:
      raise ValueError(f"{path}:{number}: not a mined CoNaLa pair ({e!r}); "
                       "re-export with code-t5-export-conala.") from None
    yield row


def merge_parts(mined_path: str, out_path: str, count: int) -> dict:
  """Writes `out_path` from the `count` parts: every mined id once, in the input's order.
  Refuses, naming the part and the command that finishes it, while a part is incomplete."""
  order, seen = [], set()
  for row in mined_rows(mined_path):
    if row["id"] not in seen:
      seen.add(row["id"])
      order.append(row["id"])
  lines = {}
  for index in range(count):
    part = part_path(out_path, index, count)
    read_done_ids(part)  # drops a last line cut short by a kill
    with open(part, encoding="utf-8") if os.path.exists(part) else open(os.devnull) as f:
      for line in f:
        lines.setdefault(json.loads(line)["id"], line)
    missing = sum(1 for key in order if in_share(key, index, count) and key not in lines)
    if missing:
      raise ValueError(f"{part}: {missing} of its ids are not written yet; run the rewrite "
                       f"again with --process_index={index} --process_count={count} to finish "
                       "it, then merge.")
  with atomic.replacing(out_path) as tmp, open(tmp, "w", encoding="utf-8") as out:
    for key in order:
      out.write(lines[key])
  return {"output": out_path, "parts": count, "total": len(order)}


def rewrite_mined(mined_path: str, out_path: str, predictor: Predictor, batch_size: int = 64,
                  total: Optional[int] = None, share: tuple[int, int] = (0, 1)) -> dict:
  """Writes {"id", "question_id", "intent", "snippet", "rewritten_intent"} per mined pair of
  `share` (process index, process count) to that process's part (`part_path`)."""
  index, count = share
  if not 0 <= index < count:
    raise ValueError(f"--process_index={index} --process_count={count}: the index must be "
                     "between 0 and the count - 1")
  out_path = part_path(out_path, index, count)
  done = read_done_ids(out_path)
  resumed = len(done)
  start, written, duplicates = time.time(), 0, 0

  def todo():
    nonlocal duplicates
    for row in mined_rows(mined_path):
      key = row["id"]
      if key in seen:  # a repeated id in the input: written once
        duplicates += 1
        continue
      seen.add(key)
      if key not in done and in_share(key, index, count):
        yield row

  seen = set()
  os.makedirs(os.path.dirname(os.path.abspath(out_path)), exist_ok=True)
  with open(out_path, "a", encoding="utf-8") as out, tqdm.tqdm(
      total=total, initial=resumed, desc="rewriting intents", unit="pair") as bar:
    for batch in _batches(todo(), batch_size):
      outputs = predictor.predict([f"{r['intent']}\n{r['snippet']}" for r in batch])
      out.write("".join(json.dumps({
          "id": r["id"], "question_id": r["question_id"], "intent": r["intent"],
          "snippet": r["snippet"], "rewritten_intent": o}, ensure_ascii=False) + "\n"
          for r, o in zip(batch, outputs, strict=True)))
      out.flush()
      os.fsync(out.fileno())
      written += len(batch)
      bar.update(len(batch))
  seconds = time.time() - start
  return {"output": out_path, "resumed_from": resumed, "written": written,
          "total": resumed + written, "duplicate_ids_skipped": duplicates,
          "seconds": round(seconds, 1), "pairs_per_second": round(written / max(seconds, 1e-9), 1)}
