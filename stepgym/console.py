"""The rich `Console` the command line and the demo print through (one, so their output interleaves)."""

from __future__ import annotations

import sys

from rich.console import Console

# a fixed width when piped, so logs and CI output wrap the same way everywhere
console = Console(width=None if sys.stdout.isatty() else 120)
