"""Front end of code_t5.commands.eval_autocomplete; --help for usage.

Installed as the console script `code-t5-eval-autocomplete`."""
import sys

from code_t5.commands.eval_autocomplete import main

if __name__ == "__main__":
  sys.exit(main())
