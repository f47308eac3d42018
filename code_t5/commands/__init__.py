"""The command-line programs: each module's `main` is the console script `code-t5-<name>` of
setup.py, the one way to run it.

Importing this package quiets TensorFlow's, XLA's and absl's start-up logs (code_t5/quiet.py)
before any command imports them; `--debug` shows them again."""
from code_t5 import quiet

quiet.silence()
