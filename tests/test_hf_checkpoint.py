"""HF T5-family checkpoints -> T5X: a random tiny HF T5 (T5 1.0 and 1.1), converted and loaded
through the converter's gin model file, gives the HF model's logits; the HF tokenizer vocabulary
round-trips code; vocabulary/embedding mismatches fail naming both. All offline.

The tokenizer is a byte-level BPE like CodeT5's (<pad>=0, <s>=1, </s>=2, <unk>=3), trained here
with `tokenizers`. Weights are written in the exact HF formats (model.safetensors with HF tensor
names; pytorch_model.bin by torch.save of the state dict).
"""
import json
import os

import numpy as np
import pytest

pytest.importorskip("t5x", reason="the T5X extra is not installed")
pytest.importorskip("transformers", reason="transformers is not installed")

from code_t5 import errors  # noqa: E402
from code_t5.data import hf_vocabulary  # noqa: E402
from code_t5.train import checkpoint_checks, hf_checkpoint  # noqa: E402

CODE = ("def add(a, b):\n    return a + b\n\n\nclass Point:\n\tdef __init__(self):  \n"
        "        self.x = 'é→'\r\n        pass\n")
# Logits are float32 on both sides; the difference is summation order only.
ATOL = 1e-4
EMBEDDING_ROWS = 384  # the tokenizer has fewer ids, as Flan-T5's 32100 ids in 32128 rows


@pytest.fixture(scope="module")
def tokenizer_dir(tmp_path_factory):
  from tokenizers import ByteLevelBPETokenizer
  from transformers import PreTrainedTokenizerFast
  bpe = ByteLevelBPETokenizer()
  bpe.train_from_iterator([CODE * 3, "import os\nprint(os.getcwd())\n"], vocab_size=300,
                          min_frequency=1,
                          special_tokens=["<pad>", "<s>", "</s>", "<unk>", "<mask>"])
  tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe._tokenizer, pad_token="<pad>",
                                      bos_token="<s>", eos_token="</s>", unk_token="<unk>",
                                      mask_token="<mask>")
  path = str(tmp_path_factory.mktemp("tokenizer"))
  tokenizer.save_pretrained(path)
  return path


def test_tokenizer_vocabulary_round_trips_code(tokenizer_dir):
  import tensorflow as tf
  vocab = hf_vocabulary.HuggingFaceVocabulary(tokenizer_dir)
  assert (vocab.pad_id, vocab.eos_id, vocab.unk_id) == (0, 2, 3)
  ids = vocab.encode(CODE)
  assert ids and vocab.eos_id not in ids and 1 not in ids  # seqio appends EOS, no BOS
  assert vocab.decode(ids) == CODE
  # Decoding stops at EOS and drops padding, as T5X predictions arrive.
  assert vocab.decode(ids + [vocab.eos_id, 5, 6, 0, 0]) == CODE
  assert vocab.decode([0, 0] + ids) == CODE
  # The TF ops, in a dataset map as seqio's tokenize runs them, and batched.
  ds = tf.data.Dataset.from_tensors(CODE).map(vocab.encode_tf)
  assert next(iter(ds)).numpy().tolist() == ids
  assert vocab.decode_tf(tf.constant(ids + [vocab.eos_id, 7])).numpy().decode() == CODE
  batch = vocab.encode_tf(tf.constant([CODE, "x = 1\n"]))
  assert batch.to_list() == [ids, vocab.encode("x = 1\n")]
  decoded = vocab.decode_tf(batch.to_tensor())
  assert [t.decode() for t in decoded.numpy()] == [CODE, "x = 1\n"]


def test_missing_or_foreign_tokenizer_fails_naming_the_folder(tmp_path, tokenizer_dir):
  with pytest.raises(FileNotFoundError, match=str(tmp_path)):
    _ = hf_vocabulary.HuggingFaceVocabulary(str(tmp_path)).vocab_size
  with open(os.path.join(tokenizer_dir, "tokenizer.json"), encoding="utf-8") as f:
    spec = json.load(f)
  # A tokenizer whose pad id is not 0 (GPT-2 style) cannot feed T5X.
  foreign = tmp_path / "foreign"
  foreign.mkdir()
  from transformers import PreTrainedTokenizerFast
  PreTrainedTokenizerFast(tokenizer_file=os.path.join(tokenizer_dir, "tokenizer.json"),
                          pad_token="<unk>", eos_token="</s>").save_pretrained(str(foreign))
  assert spec["added_tokens"][3]["content"] == "<unk>"
  with pytest.raises(ValueError, match="pad id is 3"):
    _ = hf_vocabulary.HuggingFaceVocabulary(str(foreign)).vocab_size


def _hf_config(variant: str) -> dict:
  """config.json fields as the HF Hub files of CodeT5 (1.0) and Flan-T5 (1.1) spell them."""
  config = {"architectures": ["T5ForConditionalGeneration"], "model_type": "t5",
            "vocab_size": EMBEDDING_ROWS, "d_model": 32, "d_kv": 8, "d_ff": 48,
            "num_layers": 2, "num_decoder_layers": 3, "num_heads": 4,
            "relative_attention_num_buckets": 32, "relative_attention_max_distance": 128,
            "layer_norm_epsilon": 1e-6, "dropout_rate": 0.0, "pad_token_id": 0,
            "eos_token_id": 2, "decoder_start_token_id": 0}
  if variant == "t5_1_0":
    config.update(feed_forward_proj="relu")  # tie_word_embeddings absent: tied, as CodeT5
  else:
    config.update(feed_forward_proj="gated-gelu", tie_word_embeddings=False)
  return config


def _hf_tensors(config: dict, seed: int = 0) -> dict:
  """Random float32 weights under the HF T5ForConditionalGeneration names and shapes. Norm
  scales are random too, so a swapped layer norm changes the logits."""
  rng = np.random.default_rng(seed)
  d, inner, ff, heads = (config["d_model"], config["d_kv"] * config["num_heads"],
                         config["d_ff"], config["num_heads"])
  gated = config["feed_forward_proj"].startswith("gated")
  t = {"shared.weight": (EMBEDDING_ROWS, d)}

  def attention(p):
    t.update({f"{p}.q.weight": (inner, d), f"{p}.k.weight": (inner, d),
              f"{p}.v.weight": (inner, d), f"{p}.o.weight": (d, inner)})

  def mlp(p):
    for w in (["wi_0", "wi_1"] if gated else ["wi"]):
      t[f"{p}.DenseReluDense.{w}.weight"] = (ff, d)
    t[f"{p}.DenseReluDense.wo.weight"] = (d, ff)

  for stack, n in (("encoder", config["num_layers"]), ("decoder", config["num_decoder_layers"])):
    t[f"{stack}.block.0.layer.0.SelfAttention.relative_attention_bias.weight"] = (32, heads)
    t[f"{stack}.final_layer_norm.weight"] = (d,)
    for i in range(n):
      p = f"{stack}.block.{i}.layer"
      attention(f"{p}.0.SelfAttention")
      if stack == "decoder":
        attention(f"{p}.1.EncDecAttention")
      last = 2 if stack == "decoder" else 1
      mlp(f"{p}.{last}")
      for j in range(last + 1):
        t[f"{p}.{j}.layer_norm.weight"] = (d,)
  if config.get("tie_word_embeddings") is False:
    t["lm_head.weight"] = (EMBEDDING_ROWS, d)
  out = {}
  for name, shape in sorted(t.items()):
    if "layer_norm" in name:
      out[name] = (1 + 0.3 * rng.standard_normal(shape)).astype(np.float32)
    else:
      scale = 1.0 if name in ("shared.weight", "lm_head.weight") else 1 / np.sqrt(shape[-1])
      out[name] = (scale * rng.standard_normal(shape)).astype(np.float32)
  return out


def _write_hf_model(path: str, config: dict, tensors: dict, tokenizer_dir: str,
                    fmt: str) -> None:
  os.makedirs(path, exist_ok=True)
  with open(os.path.join(path, "config.json"), "w", encoding="utf-8") as f:
    json.dump(config, f)
  if fmt == "safetensors":
    from safetensors.numpy import save_file
    save_file(tensors, os.path.join(path, "model.safetensors"))
  else:
    import torch
    torch.save({k: torch.from_numpy(v) for k, v in tensors.items()},
               os.path.join(path, "pytorch_model.bin"))
  for f in os.listdir(tokenizer_dir):
    with open(os.path.join(tokenizer_dir, f), "rb") as src, \
         open(os.path.join(path, f), "wb") as dst:
      dst.write(src.read())


def _batch(tokenizer_dir):
  """Two examples of different lengths, padded with 0 as seqio pads them."""
  vocab = hf_vocabulary.HuggingFaceVocabulary(tokenizer_dir)
  inputs = [vocab.encode("def add(a, b):\n    return") + [2],
            vocab.encode("class Point:\n\tpass") + [2]]
  targets = [vocab.encode(" a + b\n") + [2], vocab.encode("x = 'é→'\r\n") + [2]]

  def pad(rows):
    out = np.zeros((len(rows), max(map(len, rows))), np.int32)
    for i, r in enumerate(rows):
      out[i, :len(r)] = r
    return out

  enc, tgt = pad(inputs), pad(targets)
  dec_in = np.concatenate([np.zeros_like(tgt[:, :1]), tgt[:, :-1]], axis=1)
  dec_in = np.where(tgt > 0, dec_in, 0)
  return enc, dec_in, tgt


def _t5x_logits(conversion, enc, dec_in, tgt):
  """Builds MODEL from the converter's model.gin as t5x.train would and applies it to the
  weights t5x reads back from the checkpoint."""
  import gin
  from t5x import checkpoints
  gin.clear_config(clear_constants=True)
  try:
    gin.parse_config_files_and_bindings([conversion.gin_file], ["ACTIVATION_DTYPE = 'float32'"])
    model = gin.query_parameter("%MODEL").scoped_configurable_fn()
  finally:
    gin.clear_config(clear_constants=True)
  params = checkpoints.load_t5x_checkpoint(conversion.checkpoint_dir)["target"]
  return np.asarray(model.module.apply({"params": params}, enc, dec_in, tgt,
                                       enable_dropout=False))


def _hf_logits(config: dict, tensors: dict, enc, dec_in):
  """The reference: transformers' own T5ForConditionalGeneration on the same weights."""
  torch = pytest.importorskip(
      "torch", reason="torch is not installed: the HF reference logits need it "
      "(pip install torch==2.13.0, CPU wheel)")
  import transformers
  model = transformers.T5ForConditionalGeneration(transformers.T5Config(**config)).eval()
  state = {k: torch.from_numpy(v) for k, v in tensors.items()}
  if "lm_head.weight" in tensors:
    # transformers 5 ties lm_head to the embedding even for tie_word_embeddings=False; a
    # separate parameter gives T5 1.1 as its checkpoints define it (and as transformers 4 does).
    model.lm_head.weight = torch.nn.Parameter(state["lm_head.weight"].clone())
  missing, unexpected = model.load_state_dict(state, strict=False)
  assert not unexpected and set(missing) <= {"encoder.embed_tokens.weight",
                                             "decoder.embed_tokens.weight", "lm_head.weight"}
  if "lm_head.weight" in tensors:
    assert not torch.equal(model.lm_head.weight, model.shared.weight)
  with torch.no_grad():
    out = model(input_ids=torch.from_numpy(enc).long(),
                attention_mask=torch.from_numpy(enc > 0).long(),
                decoder_input_ids=torch.from_numpy(dec_in).long())
  return out.logits.numpy()


@pytest.mark.parametrize("variant,fmt", [("t5_1_0", "safetensors"), ("t5_1_1", "safetensors"),
                                         ("t5_1_1", "bin")])
def test_converted_checkpoint_gives_the_hf_logits(tmp_path, tokenizer_dir, variant, fmt):
  if fmt == "bin":
    pytest.importorskip("torch", reason="torch is not installed: pytorch_model.bin needs it")
  config, tensors = _hf_config(variant), _hf_tensors(_hf_config(variant))
  hf_dir = str(tmp_path / "hf")
  _write_hf_model(hf_dir, config, tensors, tokenizer_dir, fmt)
  conversion = hf_checkpoint.convert(hf_dir, str(tmp_path / "t5x"))
  want_gin = hf_checkpoint.GIN_T5_1_0 if variant == "t5_1_0" else hf_checkpoint.GIN_T5_1_1
  assert conversion.architecture.gin_file == want_gin
  assert conversion.architecture.logits_via_embedding == (variant == "t5_1_0")
  assert conversion.num_params == sum(v.size for v in tensors.values())
  enc, dec_in, tgt = _batch(conversion.tokenizer_dir)
  got = _t5x_logits(conversion, enc, dec_in, tgt)
  assert got.shape == (2, tgt.shape[1], EMBEDDING_ROWS)
  want = _hf_logits(config, tensors, enc, dec_in)
  real = tgt > 0  # T5X masks padded target positions out of the decoder; HF does not
  diff = float(np.max(np.abs(got[real] - want[real])))
  print(f"{variant} {fmt}: max |T5X - HF| logit = {diff:.2e} "
        f"(logits up to {np.max(np.abs(want[real])):.1f})")
  assert diff < ATOL
  # A wrong mapping would not be this close: the logits are far from zero and differ by token.
  assert np.std(want[real]) > 0.5


def test_unsupported_config_and_stray_tensors_fail_naming_them(tmp_path, tokenizer_dir):
  config = _hf_config("t5_1_1")
  tensors = _hf_tensors(config)
  for key, value, needle in (("relative_attention_num_buckets", 64, "fixes it at 32"),
                             ("feed_forward_proj", "gelu", "'gelu' has no t5x equivalent")):
    hf_dir = str(tmp_path / key)
    _write_hf_model(hf_dir, {**config, key: value}, tensors, tokenizer_dir, "safetensors")
    with pytest.raises(hf_checkpoint.ConversionError, match=needle):
      hf_checkpoint.convert(hf_dir, str(tmp_path / "out"))
  hf_dir = str(tmp_path / "stray")
  _write_hf_model(hf_dir, config, {**tensors, "encoder.extra.weight": np.zeros(3, np.float32)},
                  tokenizer_dir, "safetensors")
  with pytest.raises(hf_checkpoint.ConversionError, match="encoder.extra.weight"):
    hf_checkpoint.convert(hf_dir, str(tmp_path / "out"))
  hf_dir = str(tmp_path / "missing")
  _write_hf_model(hf_dir, config, {k: v for k, v in tensors.items() if k != "lm_head.weight"},
                  tokenizer_dir, "safetensors")
  with pytest.raises(hf_checkpoint.ConversionError, match="lm_head.weight missing"):
    hf_checkpoint.convert(hf_dir, str(tmp_path / "out"))


def test_vocabulary_larger_than_the_embedding_fails_naming_both(tmp_path, tokenizer_dir):
  vocab = hf_vocabulary.HuggingFaceVocabulary(tokenizer_dir)
  assert checkpoint_checks.checked_vocab_size(vocab, EMBEDDING_ROWS) == EMBEDDING_ROWS
  with pytest.raises(errors.UsageError, match=rf"{tokenizer_dir} has {vocab.vocab_size} ids .* 256 "):
    checkpoint_checks.checked_vocab_size(vocab, 256)
  config = _hf_config("t5_1_0")
  hf_dir = str(tmp_path / "hf")
  _write_hf_model(hf_dir, config, _hf_tensors(config), tokenizer_dir, "safetensors")
  ckpt = hf_checkpoint.convert(hf_dir, str(tmp_path / "t5x")).checkpoint_dir
  assert checkpoint_checks.checked_vocab_size(vocab, EMBEDDING_ROWS, ckpt) == EMBEDDING_ROWS
  with pytest.raises(errors.UsageError, match=rf"checkpoint {ckpt} has a {EMBEDDING_ROWS}-row "
                     r"embedding .* built with 512"):
    checkpoint_checks.checked_vocab_size(vocab, 512, ckpt)


def test_converted_checkpoint_fine_tunes_on_an_hf_task_with_t5x(tmp_path, tokenizer_dir,
                                                                 monkeypatch):
  """As README's CodeT5 recipe: convert with the script, then t5x.train with the converter's
  model.gin, runs/finetune.gin and conala_rewrite_intent_hf, the tokenizer named by
  $CODE_T5_HF_TOKENIZER. Its loss before the first step is the HF model's on the same example,
  so training starts from the converted weights (a fresh model would be near log(384))."""
  import subprocess
  import sys

  import seqio
  from conftest import REPO_ROOT, run_command
  import conala_fixtures
  from code_t5.train import checkpoint_files
  config, tensors = _hf_config("t5_1_0"), _hf_tensors(_hf_config("t5_1_0"), seed=1)
  # Sharper logits (T5 1.0 scales them by 1/sqrt(d_model)): the loss is then far from a
  # fresh model's.
  tensors["shared.weight"] *= 4
  hf_dir, out = str(tmp_path / "codet5-tiny"), str(tmp_path / "converted")
  _write_hf_model(hf_dir, config, tensors, tokenizer_dir, "safetensors")
  converted = run_command("convert-hf-t5", f"--model_dir={hf_dir}", f"--output_dir={out}")
  assert converted.returncode == 0, converted.stderr[-3000:]
  assert "T5 1.0 (relu, tied)" in converted.stdout

  env = {"CODE_T5_DATA_DIR": str(tmp_path / "data"),
         hf_vocabulary.ENV_VAR: os.path.join(out, "tokenizer")}
  corpus = conala_fixtures.write_corpus(str(tmp_path / "corpus"))
  exported = run_command("export-conala", f"--from_disk={corpus}", env=env)
  assert exported.returncode == 0, exported.stderr[-3000:]
  model_dir = str(tmp_path / "finetuned")
  gin_dir = "code_t5/gin_configs/t5x"
  train = subprocess.run(
      [sys.executable, "-m", "t5x.train", f"--gin_file={out}/model.gin",
       f"--gin_file={gin_dir}/runs/finetune.gin", f"--gin_file={gin_dir}/mesh/cpu.gin",
       f"--gin_file={gin_dir}/tasks/conala_rewrite_intent.gin",
       "--gin.MIXTURE_OR_TASK_NAME='conala_rewrite_intent_hf'",
       f"--gin.INITIAL_CHECKPOINT_PATH='{out}/checkpoint_0'", "--gin.TRAIN_STEPS=2",
       f"--gin.MODEL_DIR='{model_dir}'", "--gin.BATCH_SIZE=2",
       # float32 and no z-loss: the loss is the plain cross entropy HF computes.
       "--gin.ACTIVATION_DTYPE='float32'", "--gin.Z_LOSS=0.0",
       "--gin.train.run_eval_before_training=True", "--gin.EVAL_STEPS=1",
       "--gin.train.infer_eval_dataset_cfg=None"],
      capture_output=True, text=True, cwd=REPO_ROOT, env={**os.environ, **env}, timeout=600)
  assert train.returncode == 0, train.stderr[-4000:]
  assert os.path.isdir(os.path.join(model_dir, "checkpoint_2"))
  losses = checkpoint_files.read_scalars(os.path.join(model_dir, "training_eval"),
                                     "loss_per_nonpadding_target_token")
  assert sorted(losses) == [0, 2], losses

  # The reference: the same validation example through the task, then through transformers.
  for key, value in env.items():
    monkeypatch.setenv(key, value)
  import code_t5.mixtures  # noqa: F401  (registers the tasks)
  task = seqio.get_mixture_or_task("conala_rewrite_intent_hf")
  (example,) = list(task.get_dataset({"inputs": 256, "targets": 128}, split="validation",
                                     shuffle=False))
  enc = example["inputs"].numpy()[None]
  tgt = example["targets"].numpy()[None]
  dec_in = np.concatenate([np.zeros_like(tgt[:, :1]), tgt[:, :-1]], axis=1)
  logits = _hf_logits(config, tensors, enc, dec_in)[0].astype(np.float64)
  log_z = np.log(np.exp(logits - logits.max(-1, keepdims=True)).sum(-1)) + logits.max(-1)
  hf_loss = float(np.mean(log_z - logits[np.arange(tgt.shape[1]), tgt[0]]))
  print(f"step-0 eval loss: T5X {losses[0]:.5f}, HF {hf_loss:.5f}; after 2 steps "
        f"{losses[2]:.5f} (log 384 = {np.log(EMBEDDING_ROWS):.2f})")
  assert abs(losses[0] - hf_loss) < 1e-3 * hf_loss
  assert abs(hf_loss - np.log(EMBEDDING_ROWS)) > 1.0
  assert losses[2] != losses[0]  # and the two steps trained them


def test_seed_002_chain_lora_on_a_converted_checkpoint_merged_rewrites_conala_mined(
    tmp_path, tokenizer_dir):
  """Seed 002 at CPU scale: convert a (random, tiny, CodeT5-shaped) HF checkpoint, fine-tune
  LoRA adapters on conala_rewrite_intent_hf, merge them, and rewrite conala-mined with the
  merged checkpoint: every mined pair once. The unmerged checkpoint is refused there."""
  import subprocess
  import sys

  from conftest import REPO_ROOT, run_command
  import conala_fixtures
  config = _hf_config("t5_1_0")
  hf_dir, out = str(tmp_path / "codet5-tiny"), str(tmp_path / "converted")
  _write_hf_model(hf_dir, config, _hf_tensors(config, seed=2), tokenizer_dir, "safetensors")
  converted = run_command("convert-hf-t5", f"--model_dir={hf_dir}", f"--output_dir={out}")
  assert converted.returncode == 0, converted.stderr[-3000:]
  env = {"CODE_T5_DATA_DIR": str(tmp_path / "data"),
         hf_vocabulary.ENV_VAR: os.path.join(out, "tokenizer")}
  corpus = conala_fixtures.write_corpus(str(tmp_path / "corpus"), num_mined=12)
  exported = run_command("export-conala", f"--from_disk={corpus}", env=env)
  assert exported.returncode == 0, exported.stderr[-3000:]
  gin_dir = "code_t5/gin_configs/t5x"
  lora_dir = str(tmp_path / "lora")
  train = subprocess.run(
      [sys.executable, "-m", "t5x.train", f"--gin_file={out}/model.gin",
       f"--gin_file={gin_dir}/runs/finetune_lora.gin", f"--gin_file={gin_dir}/mesh/cpu.gin",
       f"--gin_file={gin_dir}/tasks/conala_rewrite_intent.gin",
       "--gin.MIXTURE_OR_TASK_NAME='conala_rewrite_intent_hf'",
       f"--gin.INITIAL_CHECKPOINT_PATH='{out}/checkpoint_0'", "--gin.TRAIN_STEPS=4",
       f"--gin.MODEL_DIR='{lora_dir}'", "--gin.BATCH_SIZE=2", "--gin.train.eval_period=4",
       "--gin.utils.SaveCheckpointConfig.period=4", "--gin.EVAL_STEPS=1",
       "--gin.train.infer_eval_dataset_cfg=None"],
      capture_output=True, text=True, cwd=REPO_ROOT, env={**os.environ, **env}, timeout=600)
  assert train.returncode == 0, train.stderr[-4000:]
  merged = str(tmp_path / "merged")
  result = run_command("merge-lora", f"--checkpoint={lora_dir}", f"--output_dir={merged}",
                       env=env)
  assert result.returncode == 0, result.stderr[-3000:]
  rewrite = ["rewrite-conala-mined", f"--model_gin={out}/model.gin", "--batch_size=4",
             "--inputs_length=64", "--targets_length=8"]
  refused = run_command(*rewrite, f"--checkpoint={lora_dir}/checkpoint_4",
                        f"--out={tmp_path / 'refused.jsonl'}", env=env)
  assert refused.returncode != 0 and "merge them" in refused.stderr, refused.stderr[-2000:]
  done = run_command(*rewrite, f"--checkpoint={merged}/checkpoint_4",
                     f"--out={tmp_path / 'rewritten.jsonl'}", env=env)
  assert done.returncode == 0, done.stderr[-3000:]
  rows = [json.loads(x) for x in (tmp_path / "rewritten.jsonl").read_text().splitlines()]
  assert len(rows) == 12 and len({r["id"] for r in rows}) == 12
  assert all(isinstance(r["rewritten_intent"], str) for r in rows)
