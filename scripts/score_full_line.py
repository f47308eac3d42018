"""Front end of code_t5.commands.score_full_line; --help for usage.

Installed as the console script `code-t5-score-full-line`."""
import sys

from code_t5.commands.score_full_line import main

if __name__ == "__main__":
  sys.exit(main())
