"""Imports t5's preprocessors with an install hint.

`t5` is installed with `pip install --no-deps` (its metadata pins seqio-nightly and
tfds-nightly, which would overwrite seqio and tensorflow-datasets), so it can be missing.
"""
try:
  from t5.data import preprocessors as t5_preprocessors  # noqa: F401
except ImportError as e:
  raise ImportError(
      "code_t5 needs the `t5` package (its span_corruption, prefix_lm and full_lm objectives). "
      "Install it without its pinned nightlies: `pip install --no-deps t5==0.9.4` "
      "(see README.md, \"Install and run the main job\").") from e
