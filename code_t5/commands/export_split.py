"""Writes one split of a prepared dataset as plain source files, for the autocomplete replay
(held-out files) and the n-gram baseline (`--model=ngram:<folder>`).

  code-t5-export-split --split=test --out_dir=/tmp/held_out      # dev dataset, Python
  code-t5-export-split --split=train --out_dir=/tmp/train_files --prepared_dir=$CODE_T5_DATA_DIR/flcc
"""
import os
import sys

from code_t5.commands import shared
from code_t5 import paths
from code_t5.corpora import split_files


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--split", default="test", help="train, validation or test (default: "
                      "%(default)s)")
  parser.add_argument("--out_dir", required=True, help="folder to write the files into")
  parser.add_argument("--language", default="python", help="language folder of the prepared "
                      "dataset (default: %(default)s)")
  parser.add_argument("--prepared_dir", help="prepared shards (default: the dev dataset, "
                      "$CODE_T5_DATA_DIR/flcc_dev)")
  args = parser.parse_args(argv)

  def _export():
    prepared = os.path.expanduser(args.prepared_dir or paths.flcc_dir(dev=True))
    written = split_files.write(prepared, args.language, args.split,
                                os.path.expanduser(args.out_dir))
    print(f"wrote {len(written)} {args.language} files of the {args.split} split to "
          f"{args.out_dir}")

  return shared.run(_export, args.debug)


if __name__ == "__main__":
  sys.exit(main())
