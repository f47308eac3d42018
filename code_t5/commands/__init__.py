"""The command-line programs: each module's `main` is a console script of setup.py and is run
by the thin front end of the same name in scripts/.

Importing this package quiets TensorFlow's, XLA's and absl's start-up logs (code_t5/quiet.py)
before any command imports them; `--debug` shows them again."""
from code_t5 import quiet

quiet.silence()
