"""Greylisting (RFC 6647): a temporary failure for mail from a stranger, which a real MTA retries.

The idea: spam software fires and forgets, an MTA keeps a queue. So the first attempt of a triplet
(client network, sender, recipient) is answered ``451 4.7.1``; a retry after ``greylist_delay``
seconds passes, and the triplet is remembered (``greylist_max_age``) so its later mail goes straight
through. RFC 6647 4.2 asks for the network rather than the address (senders retry from another host
of a pool): a /24 for IPv4, a /64 for IPv6. A triplet not retried within ``greylist_retry_window``
starts over. A network that passed ``greylist_pass_count`` times is an MTA that retries properly and
skips greylisting from then on (postgrey's auto-whitelist; RFC 6647 4.1). The state lives in the
store, shared by every process and node, so a retry that lands on another worker still counts.

Off by default: it delays the first mail of every new correspondent by the delay plus the sender's
retry interval (often 15 to 30 minutes), which a small site may not want.
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable

from pillarbox.antispam.screening import plain_address
from pillarbox.config import AntispamConfig
from pillarbox.obs import Counter, get_logger, log_event
from pillarbox.store.api import AntispamStore

log = get_logger("antispam")
GREYLIST = Counter("pillarbox_antispam_greylist_total", "Greylisting decisions at RCPT", ("result",))
DEFERRING = ("new", "early")


def client_network(ip: str) -> str:
    address = plain_address(ip)
    prefix = 24 if isinstance(address, ipaddress.IPv4Address) else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


class Greylist:
    def __init__(self, store: AntispamStore, settings: AntispamConfig, clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    async def defer(self, ip: str, sender: str, recipient: str) -> bool:
        """True: answer this RCPT 451 4.7.1 (first sight, or a retry before the delay is over)."""
        network = client_network(ip)
        triplet = f"{network} {sender.lower() or '<>'} {recipient.lower()}"
        settings = self.settings
        result = await self.store.greylist(triplet, network, int(self.clock()), settings.greylist_delay,
                                           settings.greylist_retry_window, settings.greylist_pass_count)
        GREYLIST.inc(result=result)
        if result in DEFERRING:
            log_event(log, "info", "greylisted", client=ip, sender=sender or "<>", recipient=recipient, state=result)
        return result in DEFERRING

    async def expire(self) -> int:
        settings = self.settings
        return await self.store.expire_greylist(int(self.clock()), settings.greylist_retry_window,
                                                settings.greylist_max_age)
