"""Front end of code_t5.commands.convert_hf_t5; --help for usage."""
import sys

from code_t5.commands.convert_hf_t5 import main

if __name__ == "__main__":
  sys.exit(main())
