"""Trains the code SentencePiece vocabulary on prepared training shards.

  code-t5-train-vocab                      # dev dataset -> $CODE_T5_DATA_DIR/vocab
  code-t5-train-vocab --prepared_dir=$CODE_T5_DATA_DIR/flcc --max_files=5000

The `_spm` tasks (e.g. flcc_python_span_corruption_spm) use the model at
$CODE_T5_DATA_DIR/vocab/code_spm.model. Round-trips source exactly: tabs, trailing spaces,
blank lines, non-ASCII.
"""
import glob
import itertools
import os
import sys
import time

import tqdm

from code_t5 import paths
from code_t5.data import vocabularies
from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--prepared_dir", help="prepared shards to read the train split of "
                      "(default: $CODE_T5_DATA_DIR/flcc_dev)")
  parser.add_argument("--model_path", help="where to write the model (default: "
                      "$CODE_T5_DATA_DIR/vocab/code_spm.model)")
  parser.add_argument("--vocab_size", type=int, default=8192, help="total ids including the "
                      "100 extra ids; a multiple of 128 (default: %(default)s)")
  parser.add_argument("--max_files", type=int, default=1000,
                      help="training files to read, in shard order (default: %(default)s)")
  args = parser.parse_args(argv)

  def _train():
    import tensorflow as tf  # pylint: disable=g-import-not-at-top
    start = time.time()
    prepared = os.path.expanduser(args.prepared_dir or paths.flcc_dir(dev=True))
    shards = sorted(glob.glob(os.path.join(prepared, "*", "train.tfrecord-*")))
    if not shards:
      raise FileNotFoundError(f"{prepared}: no train shards; run code-t5-make-dev-dataset "
                              "or code-t5-prepare-flcc first.")
    spec = {"text": tf.io.FixedLenFeature([], tf.string)}
    files = (tf.io.parse_single_example(r, spec)["text"].numpy().decode("utf-8")
             for r in tf.data.TFRecordDataset(shards))
    counted = {"files": 0, "lines": 0}

    def lines(stderr):
      for text in tqdm.tqdm(itertools.islice(files, args.max_files), total=args.max_files,
                            desc="reading files", unit="file", file=stderr):
        counted["files"] += 1
        for line in text.splitlines():
          if line.strip():
            counted["lines"] += 1
            yield line

    model_path = os.path.expanduser(args.model_path or paths.vocab_model_path())
    vocabularies.train_sentencepiece(lines, model_path, args.vocab_size, progress=True)
    print(f"Trained {model_path} ({args.vocab_size} ids with extra ids) on {counted['files']} "
          f"files, {counted['lines']} lines in {time.time() - start:.1f} s")

  return shared.run(_train, args.debug)


if __name__ == "__main__":
  sys.exit(main())
