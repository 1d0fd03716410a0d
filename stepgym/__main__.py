import sys

from stepgym.cli import main

sys.exit(main())
