"""`python -m stepgym`: the same command line as `stepgym`."""

import sys

from stepgym.cli import main

if __name__ == "__main__":  # importing this module (as the import test does) runs nothing
    sys.exit(main())
