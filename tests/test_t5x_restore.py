"""The T5X restore helper builds its model in a private gin config and leaves the caller's."""
import gin
import pytest

from code_t5.train import t5x_restore


@gin.configurable
def _scaled(x: int, factor: int = 1) -> int:
  return x * factor


def test_the_callers_gin_config_survives_a_model_build():
  gin.clear_config()
  gin.parse_config("_scaled.factor = 3\nMACRO = 7")
  assert _scaled(2) == 6
  with t5x_restore.isolated_gin_config():
    assert _scaled(2) == 2  # the caller's bindings are not visible inside
    gin.parse_config("_scaled.factor = 10")
    assert _scaled(2) == 20
  assert _scaled(2) == 6 and gin.query_parameter("%MACRO") == 7


def test_a_failed_build_restores_the_callers_config_too():
  gin.clear_config()
  gin.parse_config("_scaled.factor = 5")
  gin.finalize()  # a locked config stays locked
  with pytest.raises(ValueError):
    t5x_restore.build_model(gin_text="MODEL = 1\n_scaled.no_such_parameter = 1")
  assert _scaled(1) == 5 and gin.config_is_locked()
  gin.clear_config()


def test_build_model_returns_the_models_value():
  gin.clear_config()
  assert t5x_restore.build_model(gin_text="MODEL = @_scaled()\n_scaled.x = 4\n"
                                 "_scaled.factor = 2") == 8
  assert gin.config_str() == ""
