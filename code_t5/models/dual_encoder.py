"""A contrastive dual encoder for code search, as a T5X model (T5X's extension point: a
`BaseModel` subclass with its own feature converter), trained on `csn_<lang>_query_code`.

Queries and code go through one T5 encoder (t5x.examples.t5.network.Encoder, with the same
parameter names as T5 1.1, so a pretrained encoder-decoder checkpoint initialises it: see
runs/dual_encoder_from_t5.gin); the non-padding positions are mean-pooled, projected and
L2-normalised. The loss is InfoNCE over in-batch negatives at a temperature (SimCSE), in both
directions by default: query -> code and code -> query.

Needs T5X (not on PyPI); `load_encoder` gives the search CLI the trained encoder.
"""
import functools
import os
from typing import Any, Mapping, Optional, Sequence

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import seqio
import tensorflow as tf
from clu import metrics as clu_metrics
from flax import core as flax_core
from t5x import metrics as metrics_lib
from t5x import models
from t5x.examples.t5 import layers
from t5x.examples.t5 import network

from code_t5.models.contrastive_loss import info_nce

FEATURES = {"queries": "query_tokens", "passages": "passage_tokens"}


class DualEncoderFeatureConverter(seqio.FeatureConverter):
  """`queries`/`passages` -> `query_tokens`/`passage_tokens`, trimmed and padded. Never packs:
  in-batch negatives need exactly one pair per row."""

  TASK_FEATURES = {k: seqio.FeatureConverter.FeatureSpec(dtype=tf.int32) for k in FEATURES}
  MODEL_FEATURES = {v: seqio.FeatureConverter.FeatureSpec(dtype=tf.int32)
                    for v in FEATURES.values()}
  PACKING_FEATURE_DTYPES = {}

  def _convert_features(self, ds: tf.data.Dataset,
                        task_feature_lengths: Mapping[str, int]) -> tf.data.Dataset:
    ds = seqio.utils.trim_and_pad_dataset(ds.map(
        lambda ex: {k: ex[k] for k in FEATURES}), task_feature_lengths)
    return ds.map(lambda ex: {FEATURES[k]: v for k, v in ex.items()},
                  num_parallel_calls=tf.data.AUTOTUNE)

  def get_model_feature_lengths(self, task_feature_lengths: Mapping[str, int]) -> dict:
    return {FEATURES[k]: task_feature_lengths[k] for k in FEATURES}


class DualEncoder(nn.Module):
  """One T5 encoder for both sides; embeddings are unit vectors of `projection_dim`."""

  config: network.T5Config
  projection_dim: int = 256

  def setup(self):
    cfg = self.config
    # Named like network.Transformer's, so T5 encoder-decoder checkpoints restore into it.
    self.shared_embedding = layers.Embed(
        num_embeddings=cfg.vocab_size, features=cfg.emb_dim, dtype=cfg.dtype,
        attend_dtype=jnp.float32, embedding_init=nn.initializers.normal(stddev=1.0),
        one_hot=True, name="token_embedder")
    self.encoder = network.Encoder(config=cfg, shared_embedding=self.shared_embedding)
    self.projection = layers.DenseGeneral(self.projection_dim, dtype=jnp.float32,
                                          kernel_axes=("embed", "mlp"), name="projection")

  def embed(self, tokens: jnp.ndarray, enable_dropout: bool = False) -> jnp.ndarray:
    """[batch, length] token ids (0 = padding) -> [batch, projection_dim] unit vectors."""
    mask = tokens > 0
    hidden = self.encoder(tokens, layers.make_attention_mask(mask, mask, dtype=self.config.dtype),
                          deterministic=not enable_dropout)
    weights = mask[..., None].astype(jnp.float32)
    pooled = jnp.sum(hidden.astype(jnp.float32) * weights, axis=1) / jnp.maximum(
        jnp.sum(weights, axis=1), 1.0)
    projected = self.projection(pooled)
    return projected / jnp.maximum(jnp.linalg.norm(projected, axis=-1, keepdims=True), 1e-6)

  def __call__(self, query_tokens, passage_tokens, enable_dropout: bool = False):
    return self.embed(query_tokens, enable_dropout), self.embed(passage_tokens, enable_dropout)


class DualEncoderModel(models.BaseModel):
  """T5X model: loss/eval are InfoNCE; `predict_batch` gives query embeddings (passage
  embeddings in aux); `score_batch` the cosine similarity of each pair."""

  FEATURE_CONVERTER_CLS = DualEncoderFeatureConverter

  def __init__(self, module: DualEncoder, vocabulary: seqio.Vocabulary, optimizer_def: Any,
               temperature: float = 0.05, symmetric: bool = True):
    super().__init__(optimizer_def=optimizer_def)
    self.module = module
    self.vocabulary = vocabulary
    self.temperature = temperature
    self.symmetric = symmetric

  def get_initial_variables(self, rng: jax.Array, input_shapes: Mapping[str, Any],
                            input_types: Optional[Mapping[str, Any]] = None):
    input_types = input_types or {}
    tokens = {k: jnp.ones(input_shapes[k], input_types.get(k, jnp.int32))
              for k in FEATURES.values()}
    return flax_core.freeze(self.module.init(rng, **tokens, enable_dropout=False))

  def _embed(self, params, batch, dropout_rng=None):
    rngs = {"dropout": dropout_rng} if dropout_rng is not None else None
    return self.module.apply({"params": params}, batch["query_tokens"],
                             batch["passage_tokens"], enable_dropout=rngs is not None, rngs=rngs)

  def loss_fn(self, params, batch, dropout_rng):
    queries, passages = self._embed(params, batch, dropout_rng)
    loss, accuracy = info_nce(queries, passages, self.temperature, self.symmetric)
    size = jnp.array(batch["query_tokens"].shape[0])
    metrics = {"loss": metrics_lib.AveragePerStep(total=loss),
               "in_batch_accuracy": clu_metrics.Average(total=accuracy * size, count=size),
               "timing/seqs_per_second": metrics_lib.TimeRate.from_model_output(
                   numerator=size),
               "timing/steps_per_second": metrics_lib.StepsPerTime.from_model_output(),
               "timing/seconds": metrics_lib.Time()}
    return loss, metrics

  def predict_batch_with_aux(self, params, batch, rng=None):
    del rng
    queries, passages = self._embed(params, batch)
    return queries, {"passage_embeddings": passages}

  def score_batch(self, params, batch, return_intermediates: bool = False):
    del return_intermediates
    queries, passages = self._embed(params, batch)
    return jnp.sum(queries * passages, axis=-1)


class Encoder:
  """A trained dual encoder from a T5X checkpoint, for indexing and search (numpy in and out).

  `checkpoint` is a `checkpoint_<step>` folder written by t5x.train; the model is rebuilt from
  the `config.gin` T5X saved beside it (or `model_gin`)."""

  def __init__(self, checkpoint: str, model_gin: Optional[str] = None, batch_size: int = 64,
               query_length: int = 64, code_length: int = 256):
    from code_t5.train import t5x_restore  # pylint: disable=g-import-not-at-top
    model_gin = model_gin or os.path.join(os.path.dirname(os.path.abspath(checkpoint)),
                                          "config.gin")
    if not os.path.exists(model_gin):
      raise FileNotFoundError(f"{model_gin}: no gin config for {checkpoint} (pass model_gin, "
                              "e.g. code_t5/gin_configs/t5x/models/dual_encoder_tiny.gin)")
    with open(model_gin) as f:
      self._model = t5x_restore.build_model(gin_text=t5x_restore.without_train_script(f.read()))
    self._vocab = self._model.vocabulary
    self._lengths = {"query_tokens": query_length, "passage_tokens": code_length}
    self._batch_size = batch_size
    restored = t5x_restore.restore(
        self._model, checkpoint, {k: (batch_size, n) for k, n in self._lengths.items()},
        {k: jnp.int32 for k in self._lengths})
    self._params = restored.state.params
    module = self._model.module
    self._embed = jax.jit(lambda params, tokens: module.apply(
        {"params": params}, tokens, method=DualEncoder.embed))

  def _run(self, texts: Sequence[str], length: int) -> np.ndarray:
    out = []
    for start in range(0, len(texts), self._batch_size):
      chunk = texts[start:start + self._batch_size]
      tokens = np.zeros((self._batch_size, length), np.int32)  # one compiled shape
      for i, text in enumerate(chunk):
        ids = self._vocab.encode(text)[:length - 1] + [self._vocab.eos_id]
        tokens[i, :len(ids)] = ids
      out.append(np.asarray(self._embed(self._params, tokens))[:len(chunk)])
    return np.concatenate(out) if out else np.zeros((0, self._model.module.projection_dim),
                                                    np.float32)

  def embed_queries(self, texts: Sequence[str]) -> np.ndarray:
    return self._run(texts, self._lengths["query_tokens"])

  def embed_code(self, texts: Sequence[str]) -> np.ndarray:
    return self._run(texts, self._lengths["passage_tokens"])


@functools.lru_cache(maxsize=2)
def load_encoder(checkpoint_or_model_dir: str) -> Encoder:
  """The search CLI's `--model=dense:t5x:<dir>`: a model dir (newest checkpoint) or checkpoint."""
  from code_t5.train import checkpoint_files  # pylint: disable=g-import-not-at-top
  return Encoder(checkpoint_files.latest_t5x_checkpoint(checkpoint_or_model_dir))
