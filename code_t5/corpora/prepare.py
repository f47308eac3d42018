"""FLCC root -> TFRecord shards per language and split, with a manifest.

Splits are by repository (a stable hash of `owner/repo`), exact duplicates are removed by the
sha256 of their bytes across the whole corpus (the first file in the tree's sorted order wins),
and the output is deterministic: the same input always gives byte-identical shards.

Every shard is written to a hidden temporary name and renamed into place, so a reader never
sees a partial shard. A state file records finished shards, so a killed run resumes: the re-run
scans the tree again (to rebuild the same plan) and rewrites only the shards still missing.
A run holds a lock on the output folder: a second run on the same folder fails at once.
"""
import contextlib
import dataclasses
import functools
import glob
import hashlib
import json
import math
import multiprocessing
import os
import sys

import tqdm

from code_t5 import atomic_files as atomic
from code_t5 import source_functions
from code_t5.corpora import filters
from code_t5.corpora import flcc
from code_t5.corpora.splits import DEFAULT_SPLITS, split_of

DEFAULT_SHARD_BYTES = 64 << 20
MANIFEST = "manifest.json"
STATE = ".prepare_state.json"
FORMAT_VERSION = 1
FEATURES = ("text", "path", "repo", "language")


def shard_pattern(data_dir: str, language_slug: str, split: str) -> str:
  """Glob of one language's split, as the seqio tasks read it."""
  return os.path.join(data_dir, language_slug, f"{split}.tfrecord-*-of-*")


@dataclasses.dataclass(frozen=True)
class Entry:
  source: flcc.SourceFile
  sha256: str
  num_bytes: int


@contextlib.contextmanager
def _mapper(workers: int):
  """`map` over `workers` processes (in order when asked), or in this process for 1."""
  if workers <= 1:
    yield lambda fn, items, ordered=True: map(fn, items)
    return
  # fork: workers start at once, without re-importing TF; they run file I/O, hashing and
  # record writing only. Never after JAX started (its threads can deadlock a forked child):
  # then spawn, at the price of a fresh import per worker.
  method = "spawn" if "jax" in sys.modules else "fork"
  with multiprocessing.get_context(method).Pool(workers) as pool:
    yield lambda fn, items, ordered=True: (pool.imap if ordered else pool.imap_unordered)(
        fn, items, chunksize=1 if not ordered else 32)


def scan(sources, stats, splits=DEFAULT_SPLITS, workers: int = 1):
  """Reads and filters the tree's files (flcc.iter_source_files, skips counted in `stats`);
  returns {(language slug, split): [Entry]}.

  `workers` processes read, filter and hash files; results come back in the tree's order, so
  the outcome (which duplicate is kept, the splits) does not depend on `workers`.
  """
  with _mapper(workers) as pmap:
    inspected = list(tqdm.tqdm(pmap(filters.inspect_file, [s.disk_path for s in sources]),
                               total=len(sources), desc="scanning", unit="file"))
  return classify(sources, inspected, splits, stats)


def classify(sources, inspected, splits, stats: flcc.ScanStats) -> dict:
  """{(language slug, split): [Entry]} from each source's filters.inspect_file result, in the
  tree's order: skips and duplicates (the first file of a sha256 wins) are counted in `stats`.
  Shared by the local path and the Beam pipeline (beam_prepare.py)."""
  groups, seen = {}, set()
  for source, (reason, digest, num_bytes) in zip(sources, inspected):
    if reason is not None:
      stats.skip(reason, source.disk_path)
      continue
    if digest in seen:
      stats.skip("duplicate", source.disk_path)
      continue
    seen.add(digest)
    stats.kept += 1
    key = (flcc.language_slug(source.language), split_of(source.repo, splits))
    groups.setdefault(key, []).append(Entry(source, digest, num_bytes))
  return groups


def plan_shards(groups, splits, shard_bytes: int, min_shards: int = 1) -> dict:
  """{shard path relative to the output: [Entry]}; every language gets every split, in at
  least `min_shards` shards (some empty when it has fewer files: each of that many hosts
  then reads its own)."""
  plan = {}
  for slug in sorted({slug for slug, _ in groups}):
    for split, _ in splits:
      entries = sorted(groups.get((slug, split), []),
                       key=lambda e: (e.source.repo, e.source.original_path, e.source.name))
      total = sum(e.num_bytes for e in entries)
      num = max(1, min_shards, math.ceil(total / shard_bytes))
      for i in range(num):
        name = f"{split}.tfrecord-{i:05d}-of-{num:05d}"
        plan[os.path.join(slug, name)] = entries[i * len(entries) // num:
                                                 (i + 1) * len(entries) // num]
  return plan


def _fingerprint(plan) -> str:
  key = [FORMAT_VERSION] + [[path, [e.sha256 for e in entries]] for path, entries in
                            sorted(plan.items())]
  return hashlib.sha256(json.dumps(key).encode()).hexdigest()


def _file_sha256(path: str) -> str:
  with open(path, "rb") as f:
    return hashlib.file_digest(f, "sha256").hexdigest()


def serialize(entry: Entry) -> bytes:
  import tensorflow as tf  # pylint: disable=g-import-not-at-top  (slow import, needed here only)
  with open(entry.source.disk_path, "rb") as f:
    data = f.read()
  if hashlib.sha256(data).hexdigest() != entry.sha256:
    raise RuntimeError(f"{entry.source.disk_path} changed while preparing; run again.")
  values = {"text": data, "path": entry.source.original_path.encode("utf-8"),
            "repo": entry.source.repo.encode("utf-8"),
            "language": entry.source.language.encode("utf-8")}
  example = tf.train.Example(features=tf.train.Features(feature={
      k: tf.train.Feature(bytes_list=tf.train.BytesList(value=[v])) for k, v in values.items()}))
  return example.SerializeToString(deterministic=True)


def _write_shard(job: tuple[str, list[Entry]]) -> tuple[str, str]:
  """Writes one shard atomically; returns (its path, the sha256 of its bytes)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  path, entries = job
  os.makedirs(os.path.dirname(path), exist_ok=True)
  with atomic.replacing(path) as tmp, tf.io.TFRecordWriter(tmp) as writer:
    for entry in entries:
      writer.write(serialize(entry))
  return path, _file_sha256(path)


def prepare(root: str, out_dir: str, splits=DEFAULT_SPLITS,
            shard_bytes: int = DEFAULT_SHARD_BYTES, workers: int = 1,
            min_shards: int = 1) -> dict:
  """Prepares `root` into `out_dir`; returns the manifest (also written as manifest.json).

  Raises atomic.FolderLocked at once if another run is preparing into `out_dir`.
  """
  # The tree is listed first: a wrong root fails before anything is created.
  stats = flcc.ScanStats()
  sources = list(flcc.iter_source_files(root, stats))
  created = not os.path.isdir(out_dir)
  os.makedirs(out_dir, exist_ok=True)
  try:
    with atomic.folder_lock(out_dir, what="preparation"):
      return _prepare_locked(root, sources, stats, out_dir, splits, shard_bytes, workers,
                             min_shards)
  except BaseException:
    if created:  # a folder this run made and left empty goes too
      with contextlib.suppress(OSError):
        os.rmdir(out_dir)
    raise


def leftovers(out_dir: str, plan) -> list[str]:
  """Shards of an earlier run with another plan, and temporaries of killed runs (the lock
  guarantees that no other run is writing them now)."""
  shards = glob.glob(os.path.join(out_dir, "*", "*.tfrecord-*"))
  temporaries = (glob.glob(os.path.join(out_dir, "*", ".*.tmp"))
                 + glob.glob(os.path.join(out_dir, f".{STATE}.*.tmp"))
                 + glob.glob(os.path.join(out_dir, f".{MANIFEST}.*.tmp")))
  return [p for p in shards if os.path.relpath(p, out_dir) not in plan] + temporaries


def _prepare_locked(root: str, sources, stats, out_dir: str, splits, shard_bytes: int,
                    workers: int, min_shards: int = 1) -> dict:
  groups = scan(sources, stats, splits, workers)
  if not groups:
    raise ValueError(f"{root}: no usable source file (skipped: {dict(stats.skipped)}).")
  plan = plan_shards(groups, splits, shard_bytes, min_shards)
  fingerprint = _fingerprint(plan)
  state_path = os.path.join(out_dir, STATE)
  manifest_path = os.path.join(out_dir, MANIFEST)
  state = {"plan": fingerprint, "done": {}}
  if os.path.exists(state_path):
    try:
      with open(state_path) as f:
        previous = json.load(f)
    except ValueError:  # written atomically, so only a hand-edited one: start over
      previous = {}
    if isinstance(previous, dict) and previous.get("plan") == fingerprint:
      state = previous

  resumed, jobs = 0, []
  for rel, entries in sorted(plan.items()):
    path = os.path.join(out_dir, rel)
    if rel in state["done"] and os.path.exists(path) and _file_sha256(path) == state["done"][rel]:
      resumed += 1
    else:
      jobs.append((path, entries))
  stale = leftovers(out_dir, plan)
  if (jobs or stale) and os.path.exists(manifest_path):
    # The folder is about to change: until the new manifest is written it is not done.
    os.remove(manifest_path)
  with _mapper(workers) as pmap:
    for path, digest in tqdm.tqdm(pmap(_write_shard, jobs, ordered=False), total=len(jobs),
                                  desc="writing shards", unit="shard"):
      state["done"][os.path.relpath(path, out_dir)] = digest
      atomic.write_json(state_path, state)

  # Leftovers go last, so a killed run never loses a shard it could have reused.
  for path in leftovers(out_dir, plan):
    os.remove(path)

  manifest = manifest_of(root, splits, groups, stats, {rel: state["done"][rel] for rel in plan})
  atomic.write_bytes(manifest_path, manifest_json(manifest).encode("utf-8"))
  if os.path.exists(state_path):
    os.remove(state_path)
  manifest["resumed_shards"] = resumed
  return manifest


def manifest_of(root: str, splits, groups, stats: flcc.ScanStats, shards: dict) -> dict:
  """The manifest: what was read, kept and skipped, and each shard's sha256."""
  manifest = {"format_version": FORMAT_VERSION, "source": source_functions.printable(os.path.abspath(root)),
              "splits": dict(splits), "features": list(FEATURES), "languages": {},
              "shards": dict(sorted(shards.items())), **stats.summary()}
  for (slug, split), entries in sorted(groups.items()):
    lang = manifest["languages"].setdefault(slug, {"name": entries[0].source.language})
    lang[split] = {"files": len(entries), "bytes": sum(e.num_bytes for e in entries),
                   "repositories": len({e.source.repo for e in entries})}
  return manifest


def manifest_json(manifest: dict) -> str:
  return json.dumps(manifest, indent=1, sort_keys=True) + "\n"


def read_manifest(data_dir: str) -> dict:
  """The manifest of a prepared folder (FileNotFoundError before preparation). Parsed once per
  version of the file: every task of a mixture asks for it when the mixture is built."""
  path = os.path.join(data_dir, MANIFEST)
  info = os.stat(path)
  return _parsed_manifest(path, info.st_mtime_ns, info.st_size)


@functools.lru_cache(maxsize=16)
def _parsed_manifest(path: str, mtime_ns: int, size: int) -> dict:
  del mtime_ns, size  # the cache key: a rewritten manifest is read again
  with open(path) as f:
    return json.load(f)
