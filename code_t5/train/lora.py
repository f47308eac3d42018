"""LoRA adapters for this package's T5X models (runs/finetune_lora.gin), and their merge.

The mechanism is qwix's LoRA provider: it intercepts the matmuls of the modules whose path
matches a pattern and adds `x @ A @ B * alpha / rank` beside each kernel, with A and B as new
params `<kernel>_lora_a` (in, rank) and `<kernel>_lora_b` (rank, out), shaped like the kernel
as T5X stores it, so merging is `kernel + A @ B * alpha / rank`. No module of T5X or flaxformer
is copied. The base is frozen with T5X's MultiOptimizer: the model's own optimizer sees only
the adapters, so the base params carry no optimizer state and are never updated.

qwix finds a kernel's params by tracing back from the matmul, which needs a jitted call (T5X
always jits); an eager call would run without the adapters.
"""
import copy
import functools
import re
from typing import Any, Mapping

from code_t5 import errors

errors.one_line_in_t5x()

ADAPTER_SUFFIXES = ("_lora_a", "_lora_b")
# The logical axis of the adapters' rank: replicated on every mesh, not factored by Adafactor
# (which factors no dimension under 128 anyway).
RANK_AXIS = "lora_rank"


def is_adapter(path: str) -> bool:
  """Whether a '/'-joined param path is an adapter (`<kernel>_lora_a` or `_lora_b`)."""
  return path.endswith(ADAPTER_SUFFIXES)


def adapt(model: Any, rank: int = 8, alpha: float = 16.0, dropout: float = 0.0,
          targets: str = r".*attention/(query|value)") -> Any:
  """`model` (a T5X model of models/*.gin) with LoRA adapters on the kernels of the modules
  whose path (e.g. `encoder/layers_0/attention/query`, `decoder/layers_1/mlp/wo`) matches the
  regular expression `targets` in full; only the adapters train."""
  import qwix  # pylint: disable=g-import-not-at-top
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  from t5x import optimizers  # pylint: disable=g-import-not-at-top
  if not isinstance(rank, int) or rank < 1:
    raise errors.UsageError(f"lora.adapt.rank = {rank!r}: the adapters' rank must be a whole "
                            "number of at least 1 (e.g. LORA_RANK = 8).")
  if not 0.0 <= dropout < 1.0:
    raise errors.UsageError(f"lora.adapt.dropout = {dropout!r}: must be in [0, 1).")
  try:
    re.compile(targets)
  except re.error as e:
    raise errors.UsageError(f"lora.adapt.targets = {targets!r}: not a regular expression "
                            f"({e}).") from None
  _patch_qwix()
  adapted = copy.copy(model)
  adapted.__class__ = _adapted_class(type(model))
  adapted.lora_settings = {"rank": rank, "alpha": float(alpha), "dropout": float(dropout),
                           "targets": targets}
  # Every entry point T5X applies the module with (decoding calls encode/decode directly).
  methods = [m for m in ("__call__", "encode", "decode", "embed") if hasattr(model.module, m)]
  adapted.module = qwix.apply_lora_to_model(model.module, qwix.LoraProvider([qwix.LoraRule(
      module_path=targets, rank=rank, alpha=float(alpha), dropout=float(dropout))]),
                                            methods=methods)
  adapters = traverse_util.ModelParamTraversal(lambda path, _: is_adapter(path))
  adapted.optimizer_def = optimizers.MultiOptimizer(
      [(adapters, _for_adapters(model.optimizer_def))])
  return adapted


def _primal(x: Any) -> Any:
  while hasattr(x, "primal"):  # JVP/linearize tracers wrap the traced value
    x = x.primal
  return x


def find_param_under_grad(find_param):
  """qwix's `find_param`, which also finds a kernel T5X reshapes before its matmul when the
  call is differentiated (T5X's train step): qwix traces the value back through the reshape,
  which under jax.grad is hidden in the tracer's `primal`, so it would otherwise find no kernel
  and leave the adapters out of the loss (zero gradients, silently)."""
  import jax  # pylint: disable=g-import-not-at-top
  from qwix._src.utils import flax_util  # pylint: disable=g-import-not-at-top

  def find(x, ptq_array_type=None):
    name = find_param(x, ptq_array_type)
    if name is not None or not hasattr(x, "primal"):
      return name
    module = flax_util.get_current_module()
    params = module.scope._collection("params")  # pylint: disable=protected-access
    by_id = {id(_primal(flax_util.unbox(v))): n for n, v in params.items()}
    x = _primal(x)
    while isinstance(x, jax.core.Tracer):
      if id(x) in by_id:
        return by_id[id(x)]
      parent = getattr(x, "parent", None)
      if parent is None or len(parent.in_tracers) != 1:
        return None
      x = parent.in_tracers[0]  # a unary op on the kernel: reshape, astype
    return by_id.get(id(x))

  find.code_t5 = True
  return find


def _patch_qwix() -> None:
  from qwix._src.utils import flax_util  # pylint: disable=g-import-not-at-top
  if not getattr(flax_util.find_param, "code_t5", False):
    flax_util.find_param = find_param_under_grad(flax_util.find_param)


def _for_adapters(optimizer_def: Any) -> Any:
  """The model's optimizer, for the adapters: Adafactor gets a factor rule for the rank axis
  (it needs one for every axis) and steps not scaled by the param's size (B starts at zero,
  where Adafactor's relative steps would be 1e-3 times the learning rate)."""
  optimizer_def = copy.deepcopy(optimizer_def)
  hyper = getattr(optimizer_def, "hyper_params", None)
  if getattr(hyper, "logical_factor_rules", None) is not None:
    from t5x import adafactor  # pylint: disable=g-import-not-at-top
    optimizer_def.hyper_params = hyper = hyper.replace(logical_factor_rules={
        **hyper.logical_factor_rules, RANK_AXIS: adafactor.FactorDim.NONE})
  if getattr(hyper, "multiply_by_parameter_scale", False):
    optimizer_def.hyper_params = hyper.replace(multiply_by_parameter_scale=False)
  return optimizer_def


@functools.cache
def _adapted_class(base: type) -> type:
  """`base` whose initial variables also name the adapters' logical axes, so the partitioner
  shards A along its kernel's input axis and B along its output axis."""

  class Adapted(base):
    """A T5X model with LoRA adapters (code_t5/train/lora.py)."""

    def get_initial_variables(self, *args, **kwargs):
      variables = super().get_initial_variables(*args, **kwargs)
      return with_adapter_axes(variables, self.lora_settings["targets"])

  Adapted.__name__ = Adapted.__qualname__ = base.__name__  # errors name the model class
  return Adapted


def with_adapter_axes(variables: Mapping, targets: str) -> Any:
  """`variables` with `params_axes` for every adapter, from its kernel's axes; a UsageError
  when `targets` matched no kernel."""
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  from flax.core import freeze, unfreeze  # pylint: disable=g-import-not-at-top
  from flax.linen import partitioning  # pylint: disable=g-import-not-at-top
  frozen = not isinstance(variables, dict)  # given back as it came
  variables = unfreeze(variables)
  params = traverse_util.flatten_dict(variables["params"], sep="/")
  adapters = [p for p in params if is_adapter(p)]
  if not adapters:
    kernels = [p.rsplit("/", 1)[0] for p in params if p.endswith("/kernel")]
    raise errors.UsageError(
        f"lora.adapt.targets = {targets!r} matches no module with a kernel; the model's are "
        f"e.g. {', '.join(kernels[:4])} (LORA_TARGETS is matched in full, as a regex).")
  axes = traverse_util.flatten_dict(variables.get("params_axes", {}), sep="/")
  for path in adapters:
    kernel, suffix = path[:-len("_lora_a")], path[-len("_lora_a"):]
    base = axes.get(kernel + "_axes")
    if base is None:
      continue  # an unannotated kernel: its adapters are not annotated either
    names = (base.names[0], RANK_AXIS) if suffix == "_lora_a" else (RANK_AXIS, base.names[-1])
    axes[path + "_axes"] = partitioning.AxisMetadata(names=names)
  variables["params_axes"] = traverse_util.unflatten_dict(axes, sep="/")
  return freeze(variables) if frozen else variables


def merged_params(params: Mapping, alpha: float, rank: int) -> dict:
  """The params without adapters, each adapted kernel replaced by `kernel + A @ B * alpha /
  rank` (in float32, cast back to the kernel's dtype)."""
  import numpy as np  # pylint: disable=g-import-not-at-top
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  flat = traverse_util.flatten_dict(params, sep="/")
  merged = {}
  for path, value in flat.items():
    if is_adapter(path):
      continue
    a, b = flat.get(path + "_lora_a"), flat.get(path + "_lora_b")
    if a is not None and b is not None:
      delta = np.asarray(a, np.float32) @ np.asarray(b, np.float32) * (alpha / rank)
      if delta.shape != tuple(value.shape):
        raise errors.UsageError(f"{path}: adapters of shape {tuple(a.shape)} x {tuple(b.shape)} "
                                f"do not fit the kernel {tuple(value.shape)}: adapters of "
                                "another model.")
      value = (np.asarray(value, np.float32) + delta).astype(np.asarray(value).dtype)
    merged[path] = value
  return traverse_util.unflatten_dict(merged, sep="/")


def adapters_of(params: Mapping) -> dict:
  """The adapters alone, by '/'-joined path."""
  from flax import traverse_util  # pylint: disable=g-import-not-at-top
  return {p: v for p, v in traverse_util.flatten_dict(params, sep="/").items() if is_adapter(p)}


def settings_of(config: str) -> dict:
  """rank, alpha, dropout and targets of `lora.adapt` in a LoRA run's config.gin (built as
  the run built them, so defaults, macros and direct bindings all count)."""
  import gin  # pylint: disable=g-import-not-at-top
  from code_t5.train import t5x_restore  # pylint: disable=g-import-not-at-top
  text = t5x_restore.without_train_script(config, adapters=True) + "\nADAPTED = @lora.adapt()\n"
  with t5x_restore.isolated_gin_config():
    gin.parse_config_files_and_bindings([], [text], finalize_config=False)
    return dict(gin.query_parameter("%ADAPTED").scoped_configurable_fn().lora_settings)


def merge(checkpoint_path: str, output_dir: str) -> dict:
  """Writes OUTPUT_DIR/checkpoint_<step>: the LoRA run's checkpoint with its adapters merged
  into the kernels, a standard checkpoint of the base model (fresh optimizer state, as a
  converted one), and OUTPUT_DIR/config.gin, which t5x.eval/infer, the server and the CoNaLa
  rewrite load unchanged. Returns what it did."""
  import os  # pylint: disable=g-import-not-at-top
  from code_t5 import atomic_files  # pylint: disable=g-import-not-at-top
  from code_t5.train import checkpoint_checks, t5x_restore, t5x_save  # pylint: disable=g-import-not-at-top
  checkpoint, config_path = t5x_restore.checkpoint_and_config(checkpoint_path)
  with open(config_path) as f:
    config = f.read()
  if t5x_restore.LORA_RUN not in config:
    raise errors.UsageError(f"{config_path}: not a LoRA run (runs/finetune_lora.gin); its "
                            "checkpoints are standard already.")
  settings = settings_of(config)
  params = checkpoint_checks.checkpoint_params(checkpoint)
  if not adapters_of(params):
    raise errors.UsageError(f"{checkpoint}: no adapters (`*_lora_a`/`*_lora_b` params) in "
                            "the checkpoint of a LoRA run.")
  merged = merged_params(params, settings["alpha"], settings["rank"])
  model = t5x_restore.build_model(gin_text=t5x_restore.without_train_script(config,
                                                                            adapters=True))
  variables = t5x_save.initial_variables(model)
  want = checkpoint_checks._flatten(dict(variables["params"]))  # pylint: disable=protected-access
  have = checkpoint_checks._flatten(merged)  # pylint: disable=protected-access
  if want != have:
    wrong = sorted(set(want.items()) ^ set(have.items()))[:3]
    raise errors.UsageError(f"{checkpoint}: merged params do not fit the model of "
                            f"{config_path} (e.g. {wrong}): adapters of another model.")
  step = int(os.path.basename(os.path.normpath(checkpoint)).split("_")[-1])
  written = t5x_save.save_params(model, variables, merged, output_dir, step=step)
  atomic_files.write_bytes(os.path.join(output_dir, "config.gin"),
                           without_adapters(config).encode("utf-8"))
  return {"checkpoint": written, "settings": settings,
          "adapted_kernels": len(adapters_of(params)) // 2}


def without_adapters(config: str) -> str:
  """A LoRA run's config.gin as its merged checkpoint's: the base model, no `lora.adapt`."""
  from code_t5.train import t5x_restore  # pylint: disable=g-import-not-at-top
  lines = [line for line in config.replace(t5x_restore.LORA_RUN,
                                           "train_script.train.model = %MODEL").splitlines()
           if not line.lstrip().startswith("lora.adapt.")]
  return "\n".join(lines) + "\n"


def export_adapters(checkpoint_path: str, output_dir: str) -> dict:
  """Writes the adapters alone (OUTPUT_DIR/adapters.npz, by param path) and their settings
  (OUTPUT_DIR/adapters.json); returns the file's size and the adapters' parameter count."""
  import os  # pylint: disable=g-import-not-at-top
  import numpy as np  # pylint: disable=g-import-not-at-top
  from code_t5 import atomic_files  # pylint: disable=g-import-not-at-top
  from code_t5.train import checkpoint_checks, t5x_restore  # pylint: disable=g-import-not-at-top
  checkpoint, config_path = t5x_restore.checkpoint_and_config(checkpoint_path)
  with open(config_path) as f:
    settings = settings_of(f.read())
  adapters = {p: np.asarray(v) for p, v in
              adapters_of(checkpoint_checks.checkpoint_params(checkpoint)).items()}
  if not adapters:
    raise errors.UsageError(f"{checkpoint}: no adapters in this checkpoint (not a LoRA run's).")
  os.makedirs(output_dir, exist_ok=True)
  path = os.path.join(output_dir, "adapters.npz")
  with atomic_files.replacing(path) as tmp, open(tmp, "wb") as f:
    np.savez(f, **adapters)
  atomic_files.write_json(os.path.join(output_dir, "adapters.json"),
                          {"checkpoint": os.path.abspath(checkpoint), **settings}, indent=1)
  return {"path": path, "bytes": os.path.getsize(path),
          "parameters": int(sum(v.size for v in adapters.values()))}
