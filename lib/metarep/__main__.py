"""``python -m metarep``: see :mod:`metarep.cli`."""

import sys

from metarep.cli import main

sys.exit(main(prog="python -m metarep"))
