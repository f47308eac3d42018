"""Writes small offline stand-ins in the exact upstream formats, to walk through a recipe with
no network (for learning the commands, not for numbers):

  code-t5-sample-data conala --out_dir=DIR     # conala-train.json, conala-test.json,
                                               # conala-mined.jsonl: code-t5-export-conala --from_disk=DIR
  code-t5-sample-data hf_t5 --out_dir=DIR      # a random tiny T5 as save_pretrained writes it
                                               # (config.json, model.safetensors, tokenizer):
                                               # code-t5-convert-hf-t5 --model_dir=DIR (needs PyTorch)
"""
import json
import sys

from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("kind", choices=("conala", "hf_t5"), help="what to write")
  parser.add_argument("--out_dir", required=True, help="folder to write into")
  parser.add_argument("--num_mined", type=int, default=60,
                      help="conala: rows of conala-mined.jsonl (default: %(default)s)")
  parser.add_argument("--variant", default="t5_1_1", choices=("t5_1_0", "t5_1_1"),
                      help="hf_t5: t5_1_0 (CodeT5's relu, tied) or t5_1_1 (Flan-T5's "
                      "gated-gelu); default: %(default)s")
  args = parser.parse_args(argv)

  def _write():
    from code_t5 import samples  # pylint: disable=g-import-not-at-top
    if args.kind == "conala":
      written = samples.write_conala(args.out_dir, args.num_mined)
    else:
      written = samples.write_tiny_hf_t5(args.out_dir, args.variant)
    print(f"wrote sample {args.kind} data to {args.out_dir}: {json.dumps(written)}")

  return shared.run(_write, args.debug)


if __name__ == "__main__":
  sys.exit(main())
