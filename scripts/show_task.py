"""Front end of code_t5.commands.show_task; --help for usage.

Installed as the console script `code-t5-show-task`."""
import sys

from code_t5.commands.show_task import main

if __name__ == "__main__":
  sys.exit(main())
