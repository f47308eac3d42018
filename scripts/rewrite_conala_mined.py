"""Front end of code_t5.commands.rewrite_conala_mined; --help for usage.

Installed as the console script `code-t5-rewrite-conala-mined`."""
import sys

from code_t5.commands.rewrite_conala_mined import main

if __name__ == "__main__":
  sys.exit(main())
