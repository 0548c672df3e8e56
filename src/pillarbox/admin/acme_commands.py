"""``pillarbox acme status`` and ``pillarbox acme renew``: what the server's ACME job did, and asking it
to renew every certificate now (a request file, then SIGHUP to the server named in ``serve.lock``)."""

from __future__ import annotations

import argparse
import os
import signal
import time

from pillarbox.acme.status import status
from pillarbox.admin.common import EX_OK, CommandFailed, listing
from pillarbox.config import Config
from pillarbox.store.datadir import SERVE_LOCK_NAME


def _when(stamp: float | None) -> str:
    return time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(stamp)) if stamp else "-"


def acme_status(config: Config, args: argparse.Namespace) -> int:
    if not config.acme.directory:
        raise CommandFailed("ACME is off in this configuration (set [acme] directory, or run pillarbox quickstart)")
    current = status(config.data_dir)
    objects = [{**vars(c)} for c in current.certificates]
    return listing(args.json, ("CERTIFICATE", "EXPIRES", "NEXT ATTEMPT", "FAILURES", "LAST ERROR"), objects,
                   lambda o: (", ".join(o["names"]), _when(o["not_after"]), _when(o["next_attempt"]), o["failures"],
                              o["last_error"]), f"no ACME activity yet in {config.data_dir} (is serve running?)")


def acme_renew(config: Config, args: argparse.Namespace) -> int:
    if not config.acme.directory:
        raise CommandFailed("ACME is off in this configuration (set [acme] directory)")
    from pillarbox.acme.manager import request_renewal  # the ACME library loads only for this command

    pid = _server_pid(config)
    request_renewal(config.data_dir)
    os.kill(pid, signal.SIGHUP)
    print(f"asked the server (pid {pid}) to renew every certificate; see: pillarbox acme status")
    return EX_OK


def _server_pid(config: Config) -> int:
    try:
        text = (config.data_dir / SERVE_LOCK_NAME).read_text().strip()
        pid = int(text)
        os.kill(pid, 0)
    except (OSError, ValueError):
        raise CommandFailed(f"no pillarbox serve runs on {config.data_dir}; certificates are ordered when it starts"
                            ) from None
    return pid


def register(commands: argparse._SubParsersAction) -> None:
    actions = commands.add_parser("acme", help="certificates from the ACME CA").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    shown = actions.add_parser("status", help="each certificate: names, expiry, next attempt, last error")
    shown.add_argument("--json", action="store_true", help="print a JSON array")
    shown.set_defaults(func=acme_status, opens_store=False)
    actions.add_parser("renew", help="renew every certificate now (serve must run)").set_defaults(
        func=acme_renew, opens_store=False)
