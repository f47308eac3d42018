"""Front end of code_t5.commands.prepare_flcc; --help for usage.

Installed as the console script `code-t5-prepare-flcc`."""
import sys

from code_t5.commands.prepare_flcc import main

if __name__ == "__main__":
  sys.exit(main())
