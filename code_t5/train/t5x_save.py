"""Writing params as a standard T5X checkpoint of a model, with a fresh optimizer state (as
t5x.train would start it): what converted (hf_checkpoint.py) and merged (lora.py) params become.
"""
from typing import Any


def initial_variables(model: Any) -> Any:
  """The model's variables (params and their logical axes) as shapes, nothing allocated."""
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  features = model.FEATURE_CONVERTER_CLS.MODEL_FEATURES
  return jax.eval_shape(lambda: model.get_initial_variables(
      jax.random.PRNGKey(0), {f: (1, 8) for f in features}, {f: jnp.int32 for f in features}))


def save_params(model: Any, variables: Any, params: dict, output_dir: str, step: int = 0,
                save_dtype: str = "float32") -> str:
  """Saves `params` (checked by the caller against `variables`, from initial_variables) as
  OUTPUT_DIR/checkpoint_<step> with t5x.checkpoints.Checkpointer; returns that folder."""
  import os  # pylint: disable=g-import-not-at-top
  import jax  # pylint: disable=g-import-not-at-top
  import jax.numpy as jnp  # pylint: disable=g-import-not-at-top
  from flax.core import freeze, unfreeze  # pylint: disable=g-import-not-at-top
  from t5x import checkpoints, partitioning  # pylint: disable=g-import-not-at-top
  from t5x import train_state as train_state_lib  # pylint: disable=g-import-not-at-top
  variables = dict(unfreeze(variables))
  variables["params"] = jax.tree_util.tree_map(jnp.asarray, params)
  state = train_state_lib.FlaxOptimTrainState.create(model.optimizer_def, freeze(variables))
  if step:
    state = state.replace_step(jnp.asarray(step, jnp.int32))
  checkpoints.Checkpointer(state, partitioning.PjitPartitioner(num_partitions=1), output_dir,
                           save_dtype=jnp.dtype(save_dtype)).save(state)
  return os.path.join(output_dir, f"checkpoint_{step}")
