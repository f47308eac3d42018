"""Front end of code_t5.commands.export_conala; --help for usage.

Installed as the console script `code-t5-export-conala`."""
import sys

from code_t5.commands.export_conala import main

if __name__ == "__main__":
  sys.exit(main())
