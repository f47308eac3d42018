"""The one T5X restore sequence (gin model -> TrainStateInitializer -> checkpoint), as t5x.infer
does it, for code that uses a trained model outside the trainers (batch inference, search).

The model is built from its gin config in a private gin configuration: the caller's own gin
bindings are put back afterwards, whatever happened (t5x's own helpers clear them instead).
So bindings of functions the model calls later, such as `decoding.temperature_sample.*`, do not
apply at call time: pass those per call (T5X's `decoder_params`).
"""
import contextlib
import dataclasses
from typing import Any, Iterator, Mapping, Optional, Sequence

import gin
from gin import config as gin_config


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
