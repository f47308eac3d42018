"""Front end of code_t5.commands.train_vocab; --help for usage.

Installed as the console script `code-t5-train-vocab`."""
import sys

from code_t5.commands.train_vocab import main

if __name__ == "__main__":
  sys.exit(main())
