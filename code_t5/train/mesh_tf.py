"""`code-t5-mtf ...`: t5's Mesh TensorFlow trainer, runnable on TF 2.15.

Takes every flag of `python -m t5.models.mesh_transformer_main`. Before mesh_tensorflow is
imported it restores `ops.register_tensor_conversion_function` (moved in TF 2.15; too late to do
from `--module_import`), and it passes `--module_import=code_t5.mixtures` (unless given one) so
our tasks and mixtures are registered.
"""
import sys

from code_t5 import quiet

WRONG_STACK = ("error: the Mesh TF trainer needs tf.estimator, which TensorFlow {version} no "
               "longer has (gone after 2.15): run it in its own environment, "
               "python3.11 -m venv .venv-mtf && .venv-mtf/bin/pip install -r "
               "requirements/mtf.txt && .venv-mtf/bin/pip install --no-deps t5==0.9.4 -e . "
               "(README.md, 'Training with Mesh TensorFlow').")


def apply_tf_compat() -> None:
  """Aliases the TF symbol that mesh_tensorflow 0.1.21 still imports from its old place."""
  from tensorflow.python.framework import ops  # pylint: disable=g-import-not-at-top
  if not hasattr(ops, "register_tensor_conversion_function"):
    from tensorflow.python.framework import tensor_conversion_registry  # pylint: disable=g-import-not-at-top
    ops.register_tensor_conversion_function = (
        tensor_conversion_registry.register_tensor_conversion_function)


def main() -> None:
  quiet.silence()
  import tensorflow as tf  # pylint: disable=g-import-not-at-top
  wrong_stack = WRONG_STACK.format(version=tf.__version__)
  if any(arg in ("-h", "--help") for arg in sys.argv[1:]):
    _help(None if hasattr(tf.compat.v1, "estimator") else wrong_stack)
    return
  if not hasattr(tf.compat.v1, "estimator"):
    sys.exit(wrong_stack)
  apply_tf_compat()
  if not any(arg.startswith("--module_import") for arg in sys.argv[1:]):
    sys.argv.append("--module_import=code_t5.mixtures")  # t5's default: every t5 task instead
  from t5.models import mesh_transformer_main  # pylint: disable=g-import-not-at-top
  mesh_transformer_main.console_entry_point()


def _help(wrong_stack) -> None:
  """Our usage, then the flags of t5's trainer (absl's --help would list this module's: none)."""
  print("usage: code-t5-mtf [--flag=value ...]\n\n" + __doc__)
  if wrong_stack:
    print(wrong_stack.replace("error: ", "note: ", 1))
    return
  apply_tf_compat()
  from absl import flags  # pylint: disable=g-import-not-at-top
  from t5.models import mesh_transformer_main  # pylint: disable=g-import-not-at-top
  print(flags.FLAGS.module_help(mesh_transformer_main))


if __name__ == "__main__":
  main()
