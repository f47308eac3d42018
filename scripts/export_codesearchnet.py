"""Front end of code_t5.commands.export_codesearchnet; --help for usage.

Installed as the console script `code-t5-export-codesearchnet`."""
import sys

from code_t5.commands.export_codesearchnet import main

if __name__ == "__main__":
  sys.exit(main())
