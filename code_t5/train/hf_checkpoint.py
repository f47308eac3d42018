"""Hugging Face T5-family checkpoints (T5ForConditionalGeneration) -> T5X checkpoints.

Covers T5 1.0 (CodeT5: relu MLP, embedding tied to the output with the 1/sqrt(d_model) scale)
and T5 1.1 (Flan-T5, T5 1.1: gated-gelu MLP, separate lm_head), weights in safetensors or
PyTorch .bin files, sharded or not. The result is what `python -m t5x.train` writes (a
`checkpoint_0` folder with Adafactor state), a copy of the tokenizer, and a gin model file for
t5x.examples.t5.network with the checkpoint's sizes and its tokenizer as the vocabulary.
"""
import dataclasses
import json
import os
import shutil
from typing import Dict, List, Mapping, Optional, Tuple

import numpy as np

SAFETENSORS = "model.safetensors"
PYTORCH = "pytorch_model.bin"
WEIGHT_FILES = (SAFETENSORS, SAFETENSORS + ".index.json", PYTORCH, PYTORCH + ".index.json")
# t5x.examples.t5.network hard-codes these (RelativePositionBiases, LayerNorm).
T5X_NUM_BUCKETS = 32
T5X_MAX_DISTANCE = 128
T5X_LAYER_NORM_EPSILON = 1e-6
# HF feed_forward_proj -> t5x MlpBlock activations. HF's "gated-gelu" is the tanh gelu
# (gelu_new), as flax's nn.gelu; its plain "gelu" is the exact one, which t5x cannot name.
ACTIVATIONS = {
    "relu": ("relu",), "gated-relu": ("relu", "linear"), "gated-gelu": ("gelu", "linear"),
    "silu": ("silu",), "gated-silu": ("silu", "linear"),
}
# Architecture gin files (package data); each needs the sizes the generated file binds.
GIN_T5_1_0 = "code_t5/gin_configs/t5x/models/hf_t5_1_0.gin"
GIN_T5_1_1 = "code_t5/gin_configs/t5x/models/hf_t5_1_1.gin"


class ConversionError(ValueError):
  """A checkpoint this converter cannot turn into t5x.examples.t5.network weights."""


@dataclasses.dataclass(frozen=True)
class Architecture:
  """A T5X `network.T5Config` (less dtype and dropout) read from an HF config.json."""
  vocab_size: int
  emb_dim: int
  num_heads: int
  num_encoder_layers: int
  num_decoder_layers: int
  head_dim: int
  mlp_dim: int
  mlp_activations: Tuple[str, ...]
  logits_via_embedding: bool

  @property
  def gin_file(self) -> str:
    """T5 1.0 file for a tied relu model, T5 1.1 file otherwise (it sets the activations)."""
    if self.logits_via_embedding and self.mlp_activations == ("relu",):
      return GIN_T5_1_0
    return GIN_T5_1_1

  def t5_config(self, dtype: str = "float32", dropout_rate: float = 0.0):
    from t5x.examples.t5 import network  # pylint: disable=g-import-not-at-top
    return network.T5Config(dtype=dtype, dropout_rate=dropout_rate, **dataclasses.asdict(self))


def read_config(model_dir: str) -> dict:
  path = os.path.join(model_dir, "config.json")
  if not os.path.exists(path):
    raise FileNotFoundError(f"{path}: missing; pass a Hugging Face model folder "
                            "(`save_pretrained` output or a Hub snapshot).")
  with open(path, encoding="utf-8") as f:
    return json.load(f)


def architecture(config: Mapping, embedding_rows: int, path: str = "config.json") -> Architecture:
  """The T5X network sizes for an HF T5 `config`, or a ConversionError naming the setting."""
  archs = config.get("architectures") or ["T5ForConditionalGeneration"]
  if config.get("model_type", "t5") != "t5" or "T5ForConditionalGeneration" not in archs:
    raise ConversionError(
        f"{path}: model_type {config.get('model_type')!r}, architectures {archs}: only "
        "T5ForConditionalGeneration (model_type 't5') converts. CodeT5+ 2B and larger are "
        "CodeT5pEncoderDecoderModel and do not.")
  fixed = (("relative_attention_num_buckets", T5X_NUM_BUCKETS),
           ("relative_attention_max_distance", T5X_MAX_DISTANCE),
           ("layer_norm_epsilon", T5X_LAYER_NORM_EPSILON))
  for key, want in fixed:
    got = config.get(key, want)
    if got != want:
      raise ConversionError(f"{path}: {key} = {got}, but t5x.examples.t5.network fixes it "
                            f"at {want}; this checkpoint would compute different outputs.")
  projection = config.get("feed_forward_proj", "relu")
  if projection not in ACTIVATIONS:
    raise ConversionError(f"{path}: feed_forward_proj {projection!r} has no t5x equivalent; "
                          f"supported: {', '.join(sorted(ACTIVATIONS))}.")
  if config.get("vocab_size", embedding_rows) != embedding_rows:
    raise ConversionError(f"{path}: vocab_size {config['vocab_size']} but the embedding "
                          f"`shared.weight` has {embedding_rows} rows.")
  num_layers = config.get("num_layers", 6)
  return Architecture(
      vocab_size=embedding_rows,
      emb_dim=config.get("d_model", 512),
      num_heads=config.get("num_heads", 8),
      num_encoder_layers=num_layers,
      num_decoder_layers=config.get("num_decoder_layers") or num_layers,
      head_dim=config.get("d_kv", 64),
      mlp_dim=config.get("d_ff", 2048),
      mlp_activations=ACTIVATIONS[projection],
      # T5 1.0 ties lm_head to the embedding (and scales by 1/sqrt(d_model)); 1.1 does not.
      logits_via_embedding=config.get("tie_word_embeddings", True) is not False)


def _weight_files(model_dir: str) -> List[str]:
  for name in WEIGHT_FILES:
    path = os.path.join(model_dir, name)
    if not os.path.exists(path):
      continue
    if name.endswith(".index.json"):
      with open(path, encoding="utf-8") as f:
        shards = sorted(set(json.load(f)["weight_map"].values()))
      return [os.path.join(model_dir, s) for s in shards]
    return [path]
  raise FileNotFoundError(f"{model_dir}: no weights ({', '.join(WEIGHT_FILES)}).")


def read_state_dict(model_dir: str) -> Dict[str, np.ndarray]:
  """Every tensor of the checkpoint as float32 numpy (bfloat16/float16 files included)."""
  state = {}
  for path in _weight_files(model_dir):
    if path.endswith(".safetensors"):
      from safetensors import safe_open  # pylint: disable=g-import-not-at-top
      # The flax reader handles bfloat16, which numpy cannot hold.
      with safe_open(path, framework="flax") as f:
        for key in f.keys():
          state[key] = np.asarray(f.get_tensor(key), np.float32)
    else:
      try:
        import torch  # pylint: disable=g-import-not-at-top
      except ImportError as e:
        raise ConversionError(f"{path}: PyTorch weights need torch to read; install torch or "
                              "convert the folder to safetensors.") from e
      for key, tensor in torch.load(path, map_location="cpu", weights_only=True).items():
        state[key] = tensor.float().numpy()
  return state


# Tensors HF keeps that T5X does not: copies of `shared.weight`, and a decoder cross-attention
# relative bias older transformers versions saved but never used.
_ALIASES = ("encoder.embed_tokens.weight", "decoder.embed_tokens.weight")
_UNUSED = ("decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight",)


def to_t5x_params(state: Mapping[str, np.ndarray], arch: Architecture,
                  path: str = "checkpoint") -> Tuple[dict, List[str]]:
  """(T5X `params` tree, names of HF tensors not needed), or a ConversionError naming the
  first missing or unexpected tensor. HF Linear weights are [out, in]; T5X kernels [in, out]."""
  used = set()

  def take(name: str, transpose: bool = False) -> np.ndarray:
    if name not in state:
      raise ConversionError(f"{path}: tensor {name} missing (config says {arch}).")
    used.add(name)
    return state[name].T if transpose else state[name]

  def attention(prefix: str) -> dict:
    return {p: {"kernel": take(f"{prefix}.{h}.weight", True)}
            for p, h in (("query", "q"), ("key", "k"), ("value", "v"), ("out", "o"))}

  def mlp(prefix: str) -> dict:
    wi = (["wi"] if len(arch.mlp_activations) == 1
          else [f"wi_{i}" for i in range(len(arch.mlp_activations))])
    block = {w: {"kernel": take(f"{prefix}.DenseReluDense.{w}.weight", True)} for w in wi}
    block["wo"] = {"kernel": take(f"{prefix}.DenseReluDense.wo.weight", True)}
    return block

  def norm(name: str) -> dict:
    return {"scale": take(name)}

  encoder = {"relpos_bias": {"rel_embedding": take(
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", True)}}
  for i in range(arch.num_encoder_layers):
    p = f"encoder.block.{i}.layer"
    encoder[f"layers_{i}"] = {
        "pre_attention_layer_norm": norm(f"{p}.0.layer_norm.weight"),
        "attention": attention(f"{p}.0.SelfAttention"),
        "pre_mlp_layer_norm": norm(f"{p}.1.layer_norm.weight"),
        "mlp": mlp(f"{p}.1"),
    }
  encoder["encoder_norm"] = norm("encoder.final_layer_norm.weight")
  decoder = {"relpos_bias": {"rel_embedding": take(
      "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight", True)}}
  for i in range(arch.num_decoder_layers):
    p = f"decoder.block.{i}.layer"
    decoder[f"layers_{i}"] = {
        "pre_self_attention_layer_norm": norm(f"{p}.0.layer_norm.weight"),
        "self_attention": attention(f"{p}.0.SelfAttention"),
        "pre_cross_attention_layer_norm": norm(f"{p}.1.layer_norm.weight"),
        "encoder_decoder_attention": attention(f"{p}.1.EncDecAttention"),
        "pre_mlp_layer_norm": norm(f"{p}.2.layer_norm.weight"),
        "mlp": mlp(f"{p}.2"),
    }
  decoder["decoder_norm"] = norm("decoder.final_layer_norm.weight")
  if not arch.logits_via_embedding:
    decoder["logits_dense"] = {"kernel": take("lm_head.weight", True)}
  params = {"token_embedder": {"embedding": take("shared.weight")},
            "encoder": encoder, "decoder": decoder}
  ignorable = set(_ALIASES) | set(_UNUSED) | ({"lm_head.weight"} if arch.logits_via_embedding
                                              else set())
  unexpected = sorted(set(state) - used - ignorable)
  if unexpected:
    raise ConversionError(f"{path}: {len(unexpected)} tensors the T5X network has no place "
                          f"for, e.g. {unexpected[:3]}; is config.json the checkpoint's own?")
  return params, sorted(set(state) - used)


def _model(arch: Architecture):
  """A T5X EncoderDecoderModel with the optimizer our model gin files use (its state is saved
  with the weights, so fine-tuning restores it as from any T5X checkpoint)."""
  import seqio  # pylint: disable=g-import-not-at-top
  from t5x import adafactor, models  # pylint: disable=g-import-not-at-top
  from t5x.examples.t5 import network  # pylint: disable=g-import-not-at-top
  vocabulary = seqio.PassThroughVocabulary(arch.vocab_size)
  return models.EncoderDecoderModel(
      module=network.Transformer(arch.t5_config()),
      input_vocabulary=vocabulary, output_vocabulary=vocabulary,
      optimizer_def=adafactor.Adafactor(
          decay_rate=0.8, step_offset=0,
          logical_factor_rules=adafactor.standard_logical_factor_rules()))


def _check_shapes(params: dict, expected: dict, prefix: str = "") -> None:
  if set(params) != set(expected):
    raise ConversionError(f"params{prefix}: have {sorted(params)}, T5X expects "
                          f"{sorted(expected)}.")
  for key, want in expected.items():
    if isinstance(want, Mapping):
      _check_shapes(params[key], want, f"{prefix}/{key}")
    elif tuple(params[key].shape) != tuple(want.shape):
      raise ConversionError(f"params{prefix}/{key}: shape {tuple(params[key].shape)}, T5X "
                            f"expects {tuple(want.shape)}.")


def write_t5x_checkpoint(params: dict, arch: Architecture, output_dir: str,
                         save_dtype: str = "float32") -> str:
  """Saves `params` as step 0 with t5x.checkpoints.Checkpointer; returns the checkpoint dir."""
  from flax.core import unfreeze  # pylint: disable=g-import-not-at-top
  from code_t5.train import t5x_save  # pylint: disable=g-import-not-at-top
  model = _model(arch)
  variables = t5x_save.initial_variables(model)
  _check_shapes(params, unfreeze(variables["params"]))
  return t5x_save.save_params(model, variables, params, output_dir, save_dtype=save_dtype)


def model_gin(arch: Architecture, tokenizer_dir: str, source: str) -> str:
  """The gin model file for a converted checkpoint: the architecture file plus its sizes."""
  lines = [
      f"# T5X model for the Hugging Face checkpoint {source} (code-t5-convert-hf-t5).",
      "from __gin__ import dynamic_registration", "",
      "from t5x.examples.t5 import network", "",
      f"include '{arch.gin_file}'", "",
      f"HF_TOKENIZER_DIR = {tokenizer_dir!r}",
      f"EMBEDDING_SIZE = {arch.vocab_size}",
      "network.T5Config:",
      f"  emb_dim = {arch.emb_dim}",
      f"  num_heads = {arch.num_heads}",
      f"  num_encoder_layers = {arch.num_encoder_layers}",
      f"  num_decoder_layers = {arch.num_decoder_layers}",
      f"  head_dim = {arch.head_dim}",
      f"  mlp_dim = {arch.mlp_dim}",
  ]
  if arch.gin_file == GIN_T5_1_1:
    lines.append(f"  mlp_activations = {arch.mlp_activations!r}")
    lines.append(f"  logits_via_embedding = {arch.logits_via_embedding}")
  return "\n".join(lines) + "\n"


@dataclasses.dataclass
class Conversion:
  checkpoint_dir: str
  gin_file: str
  tokenizer_dir: Optional[str]
  architecture: Architecture
  ignored: List[str]
  num_params: int


def convert(model_dir: str, output_dir: str, save_dtype: str = "float32") -> Conversion:
  """Converts the HF model folder `model_dir` into `output_dir`: `checkpoint_0/`, `model.gin`
  and (when `model_dir` holds one) `tokenizer/`."""
  config = read_config(model_dir)
  state = read_state_dict(model_dir)
  if "shared.weight" not in state:
    raise ConversionError(f"{model_dir}: no `shared.weight` tensor; not a T5 checkpoint.")
  arch = architecture(config, state["shared.weight"].shape[0],
                      os.path.join(model_dir, "config.json"))
  params, ignored = to_t5x_params(state, arch, model_dir)
  del state
  os.makedirs(output_dir, exist_ok=True)
  checkpoint_dir = write_t5x_checkpoint(params, arch, output_dir, save_dtype)
  tokenizer_dir = os.path.join(output_dir, "tokenizer")
  tokenizer_files = [f for f in os.listdir(model_dir)
                     if f in ("tokenizer.json", "tokenizer_config.json", "vocab.json",
                              "merges.txt", "spiece.model", "special_tokens_map.json",
                              "added_tokens.json")]
  if tokenizer_files:
    os.makedirs(tokenizer_dir, exist_ok=True)
    for f in tokenizer_files:
      shutil.copyfile(os.path.join(model_dir, f), os.path.join(tokenizer_dir, f))
  else:
    tokenizer_dir = None
  gin_path = os.path.join(output_dir, "model.gin")
  with open(gin_path, "w", encoding="utf-8") as f:
    f.write(model_gin(arch, os.path.abspath(tokenizer_dir) if tokenizer_dir else "",
                      os.path.abspath(model_dir)))
  num_params = sum(int(np.prod(x.shape)) for x in _leaves(params))
  return Conversion(checkpoint_dir, gin_path, tokenizer_dir, arch, ignored, num_params)


def _leaves(tree: Mapping):
  for value in tree.values():
    if isinstance(value, Mapping):
      yield from _leaves(value)
    else:
      yield value
