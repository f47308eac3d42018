"""Multi-device T5X on emulated CPU devices: GPU-style meshes, and a sharding probe trainer.

Importing this module (a gin file's `import t5x_sharding_probe`) makes T5X build its mesh on
CPU devices the way it does on GPUs: data = devices / num_partitions, model = num_partitions.
(T5X's own CPU mesh puts every local device on the model axis whatever num_partitions says.)
TPU meshes come from physical device coordinates, which CPU devices lack; their files differ
only in num_partitions, which this maps the same way.

`ShardingProbeTrainer` records how the live parameters and the first batch are sharded.

Used by test_t5x_multidevice.py through a gin file (`train.trainer_cls`), so the record comes
from the arrays `python -m t5x.train` really trains with, not from a parallel construction.
Writes JSON to $CODE_T5_SHARDING_PROBE: the mesh shape, and for a few named parameters and
every batch feature, the partition spec, global shape and the first device's shard shape.
"""
import json
import os

import jax
from t5x import partitioning
from t5x import trainer

PARAMS = ("token_embedder/embedding", "decoder/token_embedder/embedding", "encoder/layers_0/mlp/wi_0/kernel",
          "decoder/layers_0/mlp/wi_0/kernel", "decoder/layers_0/self_attention/query/kernel",
          "encoder/layers_0/attention/query/kernel",
          # LoRA adapters (runs/finetune_lora.gin), where present.
          "encoder/layers_0/attention/query/kernel_lora_a",
          "encoder/layers_0/attention/query/kernel_lora_b",
          "decoder/layers_0/mlp/wo/kernel_lora_a",
          "decoder/layers_0/mlp/wo/kernel_lora_b")


def _describe(array) -> dict:
  spec = getattr(array.sharding, "spec", None)
  return {"spec": [None if a is None else (list(a) if isinstance(a, tuple) else a)
                   for a in spec] if spec is not None else None,
          "shape": list(array.shape),
          "shard_shape": list(array.addressable_shards[0].data.shape),
          "checksum": float(abs(jax.device_get(array).astype("float64")).sum())}


def _flat(tree, prefix=""):
  for key, value in tree.items():
    name = f"{prefix}{key}"
    if hasattr(value, "items"):
      yield from _flat(value, name + "/")
    else:
      yield name, value


_t5x_default_mesh = partitioning.default_mesh


def _mesh_as_on_gpus(num_partitions, model_parallel_submesh=None, backend=None,
                     ici_mesh_shape=None, dcn_mesh_shape=None):
  if (jax.devices(backend)[-1].platform == "cpu" and not model_parallel_submesh
      and ici_mesh_shape is None):
    return partitioning.get_gpu_mesh(num_partitions)
  return _t5x_default_mesh(num_partitions, model_parallel_submesh, backend, ici_mesh_shape,
                           dcn_mesh_shape)


partitioning.default_mesh = _mesh_as_on_gpus


class ShardingProbeTrainer(trainer.Trainer):
  """t5x's Trainer, plus one record of the shardings at the first train call."""

  def train(self, batch_iter, num_steps, start_step=None):
    path = os.environ.get("CODE_T5_SHARDING_PROBE")
    if path and not os.path.exists(path):
      params = dict(_flat(self.train_state.params))
      batch = next(batch_iter)
      record = {"devices": jax.device_count(),
                "mesh": dict(self._partitioner.mesh.shape),
                "params": {name: _describe(params[name]) for name in PARAMS if name in params},
                "batch": {k: _describe(v) for k, v in batch.items()}}
      with open(path, "w") as f:
        json.dump(record, f)
      batch_iter = _prepend(batch, batch_iter)
    return super().train(batch_iter, num_steps, start_step)


def _prepend(first, rest):
  yield first
  yield from rest
