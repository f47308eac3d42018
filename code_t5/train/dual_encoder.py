"""Moved to code_t5.models.dual_encoder. This name remains so that the config.gin of a run
trained before the move (`from code_t5.train import dual_encoder`) still loads."""
from code_t5.models.dual_encoder import *  # noqa: F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
