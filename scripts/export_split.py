"""Front end of code_t5.commands.export_split; --help for usage.

Installed as the console script `code-t5-export-split`."""
import sys

from code_t5.commands.export_split import main

if __name__ == "__main__":
  sys.exit(main())
