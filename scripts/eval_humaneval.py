"""Front end of code_t5.commands.eval_humaneval; --help for usage.

Installed as the console script `code-t5-eval-humaneval`."""
import sys

from code_t5.commands.eval_humaneval import main

if __name__ == "__main__":
  sys.exit(main())
