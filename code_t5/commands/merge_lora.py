"""Merges the LoRA adapters of a runs/finetune_lora.gin run into a standard T5X checkpoint, or
exports the adapters alone.

  code-t5-merge-lora --checkpoint=MODEL_DIR[/checkpoint_N] --output_dir=OUT
  code-t5-merge-lora --checkpoint=MODEL_DIR --output_dir=OUT --adapters_only

The merged OUT/checkpoint_N (with OUT/config.gin, the base model's) is what t5x.eval,
t5x.infer, code-t5-serve --model=t5x:OUT and code-t5-rewrite-conala-mined load: each adapted
kernel becomes kernel + A @ B * alpha / rank. --adapters_only writes OUT/adapters.npz (the
adapters by param path) and OUT/adapters.json (rank, alpha, targets, the checkpoint).
"""
import sys
import time

from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--checkpoint", required=True,
                      help="a LoRA run's model dir (its newest checkpoint) or checkpoint_<step>")
  parser.add_argument("--output_dir", required=True, help="where to write")
  parser.add_argument("--adapters_only", action="store_true",
                      help="write the adapters alone instead of a merged checkpoint")
  args = parser.parse_args(argv)

  def _merge():
    from code_t5.train import lora  # pylint: disable=g-import-not-at-top
    start = time.time()
    if args.adapters_only:
      done = lora.export_adapters(args.checkpoint, args.output_dir)
      print(f"Adapters: {done['parameters']:,} parameters, {done['bytes'] / 1e6:.2f} MB in "
            f"{done['path']} ({time.time() - start:.1f} s)")
      return
    done = lora.merge(args.checkpoint, args.output_dir)
    s = done["settings"]
    print(f"Merged {done['adapted_kernels']} adapted kernels (rank {s['rank']}, alpha "
          f"{s['alpha']}, targets {s['targets']!r}) in {time.time() - start:.1f} s: "
          f"{done['checkpoint']}")

  return shared.run(_merge, args.debug)


if __name__ == "__main__":
  sys.exit(main())
