"""``python -m pendo_tui`` — same as the ``pendo-tui`` command."""

import sys

from pendo_tui.cli import main

sys.exit(main())
