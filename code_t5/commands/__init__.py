"""The command-line programs: each module's `main` is a console script of setup.py and is run
by the thin front end of the same name in scripts/."""
