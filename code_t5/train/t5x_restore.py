"""The one T5X restore sequence (gin model -> TrainStateInitializer -> checkpoint), as t5x.infer
does it, for code that uses a trained model outside the trainers (batch inference, search).

The model is built from its gin config in a private gin configuration: the caller's own gin
bindings are put back afterwards, whatever happened (t5x's own helpers clear them instead).
So bindings of functions the model calls later, such as `decoding.temperature_sample.*`, do not
apply at call time: pass those per call (T5X's `decoder_params`).
"""
import contextlib
import dataclasses
import os
from typing import Any, Iterator, Mapping, Optional, Sequence

import gin
from gin import config as gin_config

from code_t5.train import checkpoint_files


@contextlib.contextmanager
def isolated_gin_config() -> Iterator[None]:
  """Runs the block on an empty, unlocked gin config and restores the caller's afterwards.

  gin has no public save/restore, so this copies the module state its clear_config() resets.
  """
  saved = {name: getattr(gin_config, name).copy()
           for name in ("_CONFIG", "_SINGLETONS", "_IMPORTS", "_OPERATIVE_CONFIG")}
  locked = gin_config.config_is_locked()
  gin.clear_config()
  try:
    with gin.unlock_config():
      yield
  finally:
    gin.clear_config()
    for name, value in saved.items():
      state = getattr(gin_config, name)
      state.clear()
      state.update(value)
    gin_config._set_config_is_locked(locked)  # pylint: disable=protected-access


def build_model(gin_files: Sequence[str] = (), gin_text: str = "",
                bindings: Sequence[str] = ()) -> Any:
  """The `%MODEL` that gin files (and/or a config text such as T5X's config.gin) describe."""
  with isolated_gin_config():
    gin.parse_config_files_and_bindings(list(gin_files), [gin_text, *bindings],
                                        finalize_config=False)
    return gin.query_parameter("%MODEL").scoped_configurable_fn()


@dataclasses.dataclass
class Restored:
  model: Any
  state: Any  # t5x.train_state.TrainState
  initializer: Any  # t5x.utils.TrainStateInitializer
  partitioner: Any  # t5x.partitioning.PjitPartitioner


def restore(model: Any, checkpoint: str, input_shapes: Mapping[str, tuple],
            input_types: Optional[Mapping[str, Any]] = None) -> Restored:
  """Restores `checkpoint` (a checkpoint_<step> folder) into `model`'s parameters, on one
  partition, in float32; FileNotFoundError when there is no T5X checkpoint there."""
  from t5x import partitioning, utils  # pylint: disable=g-import-not-at-top  (T5X is optional)
  from code_t5.train import checkpoint_checks, lora  # pylint: disable=g-import-not-at-top
  if os.path.isdir(checkpoint) and not hasattr(model, "lora_settings") and any(
      map(lora.is_adapter, checkpoint_checks.checkpoint_shapes(checkpoint))):
    # Restoring by name would silently leave the adapters out.
    from code_t5 import errors  # pylint: disable=g-import-not-at-top
    raise errors.UsageError(
        f"{checkpoint}: a LoRA run's checkpoint (it holds adapters): merge them into a "
        "standard checkpoint first (code-t5-merge-lora --checkpoint=DIR --output_dir=OUT).")
  partitioner = partitioning.PjitPartitioner(num_partitions=1)
  initializer = utils.TrainStateInitializer(
      optimizer_def=None, init_fn=model.get_initial_variables, input_shapes=input_shapes,
      input_types=input_types, partitioner=partitioner)
  config = utils.RestoreCheckpointConfig(path=checkpoint, mode="specific", dtype="float32",
                                         strict=False)
  state, _ = utils.create_checkpoint_manager_and_restore(
      initializer, partitioner, config, checkpoint, None, use_orbax=True)
  if state is None:
    raise FileNotFoundError(f"{checkpoint}: no T5X checkpoint there.")
  return Restored(model, state, initializer, partitioner)


def checkpoint_and_config(path: str) -> tuple[str, str]:
  """The checkpoint_<step> folder `path` names (itself, or the newest in a t5x.train model dir)
  and the config.gin beside it; FileNotFoundError in one line when either is missing. Reads
  no checkpoint: a cheap check before T5X and JAX are imported."""
  checkpoint = checkpoint_files.latest_t5x_checkpoint(path)
  if not os.path.basename(os.path.normpath(checkpoint)).startswith("checkpoint_"):
    raise FileNotFoundError(f"{path}: no checkpoint_<step> folder; give a t5x.train model dir "
                            "or one of its checkpoint_<step> folders.")
  config = os.path.join(os.path.dirname(os.path.abspath(checkpoint)), "config.gin")
  if not os.path.exists(config):
    raise FileNotFoundError(f"{config}: no config.gin beside {checkpoint} (t5x.train writes "
                            "one into the model dir; copy it there).")
  return checkpoint, config


LORA_RUN = "train_script.train.model = @lora.adapt()"


def without_train_script(config: str, adapters: bool = False) -> str:
  """A T5X config.gin without the bindings of t5x.train's `__main__` (not ours to import), so
  the model it describes can be rebuilt outside the trainer. A LoRA run's config (the model
  it rebuilds would silently lack the adapters) is a UsageError unless `adapters`."""
  if LORA_RUN in config and not adapters:
    from code_t5 import errors  # pylint: disable=g-import-not-at-top
    raise errors.UsageError(
        "the checkpoint is a LoRA run's (runs/finetune_lora.gin): merge its adapters into a "
        "standard checkpoint first (code-t5-merge-lora --checkpoint=DIR --output_dir=OUT) and "
        "use OUT.")
  kept, skipping = [], False
  for line in config.splitlines():
    if line.startswith(("train_script.", "import __main__")):
      skipping = True
    elif skipping and line[:1] in (" ", "\t"):
      continue  # a continuation of the skipped binding
    else:
      skipping = False
    if not skipping:
      kept.append(line)
  return "\n".join(kept)
