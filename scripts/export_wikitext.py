"""Front end of code_t5.commands.export_wikitext; --help for usage.

Installed as the console script `code-t5-export-wikitext`."""
import sys

from code_t5.commands.export_wikitext import main

if __name__ == "__main__":
  sys.exit(main())
