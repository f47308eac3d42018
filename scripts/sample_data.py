"""Front end of code_t5.commands.sample_data; --help for usage.

Installed as the console script `code-t5-sample-data`."""
import sys

from code_t5.commands.sample_data import main

if __name__ == "__main__":
  sys.exit(main())
