"""`code-t5-search`: the code search command line (code_t5.search.cli)."""
import sys

from code_t5.search import cli

sys.exit(cli.main())
