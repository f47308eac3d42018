"""FLCC (or dev dataset) preparation as an Apache Beam pipeline: the output of prepare.prepare
(same filters, cross-corpus sha256 deduplication, repository split, TFRecord shards, manifest),
with reading, hashing and shard writing spread over the runner's workers.

  code-t5-prepare-flcc --flcc_root=ROOT --out_dir=OUT --runner=DirectRunner \
      --direct_num_workers=2 --direct_running_mode=multi_processing
  code-t5-prepare-flcc --flcc_root=gs://B/flcc --out_dir=gs://B/prepared --runner=DataflowRunner \
      --project=P --region=R --temp_location=gs://B/tmp --requirements_file=requirements.txt

The launcher lists the tree (names only); the workers read and hash every file; one step plans
the shards from that metadata (which duplicate is kept, the splits, the shard boundaries: the
local path's rules, so the output is byte-identical); the workers write the shards; one step
writes the manifest. ROOT and OUT must be visible to every worker (a shared or cloud file
system: anything tf.io.gfile opens).
"""
import contextlib
import hashlib
import json
import os
from typing import Optional, Sequence

from code_t5 import atomic_files as atomic
from code_t5.corpora import filters
from code_t5.corpora import flcc
from code_t5.corpora import prepare
from code_t5.corpora.splits import DEFAULT_SPLITS


def _inspect(item):  # (index in the tree's order, flcc.SourceFile)
  index, source = item
  return index, filters.inspect_file(source.disk_path)


def _plan(inspected, sources, splits, shard_bytes, listing, min_shards=1):
  """(groups, stats, plan) from every file's inspection, in the tree's order as locally."""
  stats = flcc.ScanStats(kept=listing.kept, skipped=listing.skipped.copy(),
                         examples=dict(listing.examples), warned=listing.warned.copy(),
                         warn_details=dict(listing.warn_details))
  results = [r for _, r in sorted(inspected, key=lambda x: x[0])]
  groups = prepare.classify(sources, results, splits, stats)
  return groups, stats, prepare.plan_shards(groups, splits, shard_bytes, min_shards)


def _write_shard(job):  # ((out_dir, shard path relative to it), [prepare.Entry])
  """Writes one shard (to a temporary name, then renamed: a retried bundle rewrites it whole);
  returns (its path relative to the output, the sha256 of its bytes)."""
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  (out_dir, rel), entries = job
  path = os.path.join(out_dir, rel)
  tf.io.gfile.makedirs(os.path.dirname(path))
  tmp = os.path.join(os.path.dirname(path), f".{os.path.basename(path)}.beam.tmp")
  with tf.io.TFRecordWriter(tmp) as writer:
    for entry in entries:
      writer.write(prepare.serialize(entry))
  tf.io.gfile.rename(tmp, path, overwrite=True)
  digest = hashlib.sha256()
  with tf.io.gfile.GFile(path, "rb") as f:
    for block in iter(lambda: f.read(1 << 20), b""):
      digest.update(block)
  return rel, digest.hexdigest()


def _write_manifest(written, planned, root, out_dir, splits):
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  groups, stats, _ = planned
  manifest = prepare.manifest_of(root, splits, groups, stats, dict(written))
  with tf.io.gfile.GFile(os.path.join(out_dir, prepare.MANIFEST), "w") as f:
    f.write(prepare.manifest_json(manifest))
  return manifest


def prepare_with_beam(root: str, out_dir: str, splits=DEFAULT_SPLITS,
                      shard_bytes: int = prepare.DEFAULT_SHARD_BYTES,
                      beam_args: Optional[Sequence[str]] = None, min_shards: int = 1) -> dict:
  """Runs the pipeline (options from `beam_args`, e.g. ["--runner=DirectRunner"]); returns the
  manifest, as prepare.prepare does."""
  try:
    import apache_beam as beam  # pylint: disable=g-import-not-at-top  (the `cache` extra)
    from apache_beam.options import pipeline_options  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise RuntimeError("--runner needs apache-beam: pip install 'code_t5[cache]' (its protobuf "
                       "cap conflicts with T5X's: use an environment without T5X).") from None
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  flcc.find_v3(root)  # a wrong root fails before anything starts
  listing = flcc.ScanStats()
  sources = list(flcc.iter_source_files(root, listing))
  manifest_path = os.path.join(out_dir, prepare.MANIFEST)
  local = "://" not in out_dir
  tf.io.gfile.makedirs(out_dir)
  with atomic.folder_lock(out_dir, what="preparation") if local else contextlib.nullcontext():
    if tf.io.gfile.exists(manifest_path):
      tf.io.gfile.remove(manifest_path)  # the folder is not done until the new one is written
    options = pipeline_options.PipelineOptions(list(beam_args or ["--runner=DirectRunner"]))
    with beam.Pipeline(options=options) as p:
      inspected = (p | "List" >> beam.Create(list(enumerate(sources)))
                   | "SpreadFiles" >> beam.Reshuffle()
                   | "ReadAndHash" >> beam.Map(_inspect)
                   | "Gather" >> beam.combiners.ToList())
      planned = inspected | "Plan" >> beam.Map(_plan, sources, splits, shard_bytes, listing,
                                                  min_shards)
      _ = (planned
           | "Shards" >> beam.FlatMap(lambda g: [((out_dir, rel), entries)
                                                 for rel, entries in sorted(g[2].items())])
           | "SpreadShards" >> beam.Reshuffle()
           | "Write" >> beam.Map(_write_shard)
           | "Written" >> beam.combiners.ToList()
           | "Manifest" >> beam.Map(_write_manifest, beam.pvalue.AsSingleton(planned), root,
                                    out_dir, splits))
    with tf.io.gfile.GFile(manifest_path) as f:
      manifest = json.load(f)
    if local:  # shards of an earlier run with another plan, temporaries of killed ones
      for stale in prepare.leftovers(out_dir, manifest["shards"]):
        os.remove(stale)
  if not manifest["kept"]:
    tf.io.gfile.remove(manifest_path)
    raise ValueError(f"{root}: no usable source file (skipped: {manifest['skipped']}).")
  return manifest
