"""Vocabulary throughput and exactness on real code (the running Python's standard library).

Encode/decode characters per second of the byte vocabulary and the code SentencePiece model
(trained here on part of the files, tested on the rest), and the round-trip exactness rate,
which must be 100 %.

  python benchmarks/vocabulary.py [--train_files=300] [--test_files=300] [--vocab_size=8192]
"""
import argparse
import glob
import os
import sys
import tempfile

import common  # benchmarks/common.py: run as `python benchmarks/<name>.py`
from code_t5.data import vocabularies
from code_t5.corpora import dev_dataset


def source_files() -> list[str]:
  texts = []
  for path in sorted(glob.glob(os.path.join(dev_dataset.stdlib_dir(), "**", "*.py"),
                               recursive=True)):
    if "site-packages" in path:
      continue
    try:
      with open(path, encoding="utf-8") as f:
        texts.append(f.read())
    except (UnicodeDecodeError, OSError):
      continue
  return [t for t in texts if t.strip()]


def measure(name: str, vocab, texts: list[str]) -> dict:
  encoded, encode_seconds = common.timed(lambda: [vocab.encode(t) for t in texts])
  decoded, decode_seconds = common.timed(lambda: [vocab.decode(ids) for ids in encoded])
  chars = sum(len(t) for t in texts)
  exact = sum(d == t for d, t in zip(decoded, texts))
  return {"vocabulary": name, "files": len(texts), "chars": chars,
          "tokens": sum(len(ids) for ids in encoded),
          "chars_per_token": chars / sum(len(ids) for ids in encoded),
          "encode_Mchars_per_s": chars / encode_seconds / 1e6,
          "decode_Mchars_per_s": chars / decode_seconds / 1e6,
          "round_trip_exact_pct": 100.0 * exact / len(texts)}


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--train_files", type=int, default=300)
  parser.add_argument("--test_files", type=int, default=300)
  parser.add_argument("--vocab_size", type=int, default=8192)
  common.add_output_flags(parser)
  args = parser.parse_args()
  texts = source_files()
  train, test = texts[::2][:args.train_files], texts[1::2][:args.test_files]
  model = os.path.join(tempfile.mkdtemp(), "code_spm.model")
  lines = [line for t in train for line in t.splitlines() if line.strip()]
  _, train_seconds = common.timed(vocabularies.train_sentencepiece, lines, model,
                                  args.vocab_size)
  rows = [measure("byte", vocabularies.BYTE, test),
          measure(f"code_spm_{args.vocab_size}",
                  vocabularies.CodeSentencePieceVocabulary(model), test)]
  common.report("vocabulary", rows, common.out_dir(args),
                {"spm_train_seconds": train_seconds, "spm_train_files": len(train)})
  if any(r["round_trip_exact_pct"] != 100 for r in rows):
    sys.exit("round trip is not exact")


if __name__ == "__main__":
  main()
