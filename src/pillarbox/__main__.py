"""``python -m pillarbox``: the same as the ``pillarbox`` command."""

import signal
import sys

if "--worker" in sys.argv:
    # A worker process: the primary passes SIGHUP on (a new certificate) as soon as it has started us;
    # until our handler is in place, ignore it rather than die of it (we load the current files anyway).
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

from pillarbox.cli import main

sys.exit(main())
