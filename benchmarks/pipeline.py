"""Task pipeline throughput against the raw limit, in one run.

For each FLCC objective: tokens/s from the prepared shards through the task (objective,
tokenisation) and T5X's feature converter with packing, against the limit — reading and
decoding the same shards with tf.data (byte vocabulary: one token per byte). Target: a ratio
of at least 0.5 with default parallelism.

  python benchmarks/pipeline.py [--split=train] [--max_examples=...]   (needs the dev dataset:
  code-t5-make-dev-dataset)
"""
import argparse
import glob
import os
import sys

import seqio
import tensorflow as tf

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5 import paths
from code_t5.data import vocabularies
from code_t5.corpora import prepare
from code_t5 import tasks  # noqa: F401  (registers the tasks measured)
from code_t5.data import task_configs

LENGTHS = {"span_corruption": {"inputs": 512, "targets": 114},
           "prefix_lm": {"inputs": 512, "targets": 512},
           "lm": {"targets": 1024},
           "full_line": {"inputs": 1024, "targets": 128},
           "fim": {"targets": 1024},
           "ul2_r": {"inputs": 512, "targets": 512}, "ul2_x": {"inputs": 512, "targets": 512},
           "ul2_s": {"inputs": 512, "targets": 512}}
BATCH = 32


def raw_limit(pattern: str, tokenize: bool = False) -> tuple[int, float]:
  """Tokens (bytes) of `text` read and decoded from the shards — and, with `tokenize`, turned
  into byte-vocabulary ids — and the seconds it took."""
  spec = {k: tf.io.FixedLenFeature([], tf.string) for k in prepare.FEATURES}
  vocab = vocabularies.BYTE

  def size(record):
    text = tf.io.parse_single_example(record, spec)["text"]
    return tf.size(vocab.encode_tf(text)) if tokenize else tf.strings.length(text)

  ds = (tf.data.Dataset.list_files(pattern, shuffle=False)
        .interleave(tf.data.TFRecordDataset, num_parallel_calls=tf.data.AUTOTUNE)
        .map(size, num_parallel_calls=tf.data.AUTOTUNE)
        .batch(256).prefetch(tf.data.AUTOTUNE))

  def run():
    return sum(int(tf.reduce_sum(b)) for b in ds)

  return common.timed(run)


def task_throughput(objective: str, split: str) -> tuple[int, float]:
  """Non-padding tokens out of the packed feature converter, and the seconds it took."""
  task = seqio.get_mixture_or_task(task_configs.flcc_task_name("python", objective, dev=True))
  lengths = LENGTHS[objective]
  converter = (seqio.DecoderFeatureConverter(pack=True) if objective in task_configs.DECODER_ONLY
               else seqio.EncDecFeatureConverter(pack=True))

  def run():
    ds = task.get_dataset(lengths, split=split, shuffle=False, seed=0)
    ds = converter(ds, lengths).batch(BATCH).prefetch(tf.data.AUTOTUNE)
    key = "decoder_target_tokens"
    tokens = 0
    for batch in ds:
      tokens += int(tf.math.count_nonzero(batch[key]))
      if "encoder_input_tokens" in batch:
        tokens += int(tf.math.count_nonzero(batch["encoder_input_tokens"]))
    return tokens

  return common.timed(run)


def converter_ceiling(num: int = 20000, length: int = 1024) -> tuple[int, float]:
  """T5X's packing feature converter alone, on ready-made full-length segments in memory:
  the most any task feeding it can reach."""
  ds = tf.data.Dataset.range(num).map(
      lambda i: {"targets": tf.fill([length], tf.cast(i % 250 + 3, tf.int32))}).cache()
  for _ in ds.batch(1000):  # fill the cache outside the timing
    pass

  def run():
    out = seqio.DecoderFeatureConverter(pack=True)(ds, {"targets": length})
    return sum(int(tf.math.count_nonzero(b["decoder_target_tokens"]))
               for b in out.batch(BATCH).prefetch(tf.data.AUTOTUNE))

  return common.timed(run)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--split", default="train")
  common.add_output_flags(parser)
  args = parser.parse_args()
  pattern = prepare.shard_pattern(paths.flcc_dir(dev=True), "python", args.split)
  if not glob.glob(pattern):
    sys.exit(f"{pattern}: no shards; run code-t5-make-dev-dataset first.")
  raw_limit(pattern)  # warm the file cache
  raw_bytes, raw_seconds = raw_limit(pattern)
  tok_bytes, tok_seconds = raw_limit(pattern, tokenize=True)
  limit, tokenized = raw_bytes / raw_seconds, tok_bytes / tok_seconds
  rows = [{"pipeline": "raw read + decode (the limit)", "tokens": raw_bytes,
           "seconds": raw_seconds, "tokens_per_s": limit, "ratio": 1.0,
           "ratio_to_tokenized": limit / tokenized},
          {"pipeline": "raw read + decode + tokenize", "tokens": tok_bytes,
           "seconds": tok_seconds, "tokens_per_s": tokenized, "ratio": tokenized / limit,
           "ratio_to_tokenized": 1.0}]
  tokens, seconds = converter_ceiling()
  rows.append({"pipeline": "packing converter alone (ceiling)", "tokens": tokens,
               "seconds": seconds, "tokens_per_s": tokens / seconds,
               "ratio": tokens / seconds / limit,
               "ratio_to_tokenized": tokens / seconds / tokenized})
  for objective in task_configs.FLCC_OBJECTIVES:
    tokens, seconds = task_throughput(objective, args.split)
    rows.append({"pipeline": f"flcc_dev_python_{objective}", "tokens": tokens,
                 "seconds": seconds, "tokens_per_s": tokens / seconds,
                 "ratio": tokens / seconds / limit,
                 "ratio_to_tokenized": tokens / seconds / tokenized})
  common.report("pipeline", rows, common.out_dir(args), {"split": args.split, "target_ratio": 0.5})


if __name__ == "__main__":
  main()
