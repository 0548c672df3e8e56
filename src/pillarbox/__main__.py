"""``python -m pillarbox``: the same as the ``pillarbox`` command."""

import sys

from pillarbox.cli import main

sys.exit(main())
