"""Front end of code_t5.commands.eval_code_search; --help for usage.

Installed as the console script `code-t5-eval-code-search`."""
import sys

from code_t5.commands.eval_code_search import main

if __name__ == "__main__":
  sys.exit(main())
