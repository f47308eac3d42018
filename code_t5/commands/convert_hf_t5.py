"""Converts a Hugging Face T5-family checkpoint (CodeT5, CodeT5+ 220M/770M, Flan-T5, T5 1.1;
safetensors or PyTorch .bin) into a T5X checkpoint with its tokenizer and gin model file.

  code-t5-convert-hf-t5 --model_dir=/models/hf/codet5-base --output_dir=/models/codet5-base

--model_dir is a local folder (a `save_pretrained` output or a Hub snapshot, e.g. from
`huggingface-cli download Salesforce/codet5-base --local-dir ...`); nothing is downloaded here.
Writes OUTPUT_DIR/checkpoint_0 (for INITIAL_CHECKPOINT_PATH), OUTPUT_DIR/tokenizer and
OUTPUT_DIR/model.gin (pass it as the model --gin_file of t5x.train / eval / infer).
"""
import sys
import time

from code_t5.commands import shared


def main(argv=None) -> int:
  parser = shared.parser(__doc__)
  parser.add_argument("--model_dir", required=True, help="Hugging Face model folder "
                      "(config.json, model.safetensors or pytorch_model.bin, tokenizer files)")
  parser.add_argument("--output_dir", required=True, help="where to write the T5X checkpoint")
  parser.add_argument("--save_dtype", default="float32", choices=("float32", "bfloat16"),
                      help="dtype of the saved weights (default: %(default)s)")
  args = parser.parse_args(argv)

  def _convert():
    from code_t5.train import hf_checkpoint  # pylint: disable=g-import-not-at-top
    start = time.time()
    done = hf_checkpoint.convert(args.model_dir, args.output_dir, args.save_dtype)
    arch = done.architecture
    kind = "T5 1.0 (relu, tied)" if arch.gin_file == hf_checkpoint.GIN_T5_1_0 else (
        f"T5 1.1 ({'+'.join(arch.mlp_activations)}, "
        f"{'tied' if arch.logits_via_embedding else 'separate lm_head'})")
    print(f"Converted {args.model_dir}: {kind}, {done.num_params / 1e6:.1f}M parameters, "
          f"{arch.num_encoder_layers}+{arch.num_decoder_layers} layers, d_model "
          f"{arch.emb_dim}, embedding {arch.vocab_size} rows, in {time.time() - start:.1f} s")
    if done.ignored:
      print(f"Not needed by T5X ({len(done.ignored)}): {', '.join(done.ignored)}")
    print(f"  checkpoint: {done.checkpoint_dir}\n  model gin:  {done.gin_file}")
    print(f"  tokenizer:  {done.tokenizer_dir or 'none in the model folder: set HF_TOKENIZER_DIR'}")

  return shared.run(_convert, args.debug)


if __name__ == "__main__":
  sys.exit(main())
