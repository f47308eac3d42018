"""Front end of code_t5.commands.make_dev_dataset; --help for usage.

Installed as the console script `code-t5-make-dev-dataset`."""
import sys

from code_t5.commands.make_dev_dataset import main

if __name__ == "__main__":
  sys.exit(main())
