"""code_t5: seqio tasks and mixtures for code models. Importing registers all of them."""
from code_t5 import tasks  # noqa: F401  (registers tasks)
from code_t5 import mixtures  # noqa: F401  (registers mixtures)

__version__ = "0.1.0"
