"""``pillarbox tls list|forget``: the TLS each destination domain was seen with (``outbound.tls_memory``).

A domain is held to the best TLS it ever had; when its servers genuinely change (a new provider
without STARTTLS, a certificate no longer valid), mail to it waits until the administrator accepts
the change with ``tls forget``. The operations return data, the CLI prints it.
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from pillarbox.admin.common import EX_OK, listing
from pillarbox.admin.ops_directory import domain_field
from pillarbox.errors import NotFound
from pillarbox.outbound.tls_memory import LEVEL_NAMES
from pillarbox.store.api import OutboundQueueStore


async def list_tls_seen(store: OutboundQueueStore) -> list[dict[str, Any]]:
    return [{"domain": domain, "seen": LEVEL_NAMES.get(level, str(level)),
             "since": datetime.fromtimestamp(updated, UTC).isoformat()}
            for domain, level, updated in await store.list_tls_seen()]


async def forget_tls_seen(store: OutboundQueueStore, domain: str) -> dict[str, Any]:
    name = domain_field(domain)
    if not await store.forget_tls_seen(name):
        raise NotFound(f"nothing is remembered of {name}'s TLS")
    return {"domain": name, "forgotten": True}


async def tls_list(store: OutboundQueueStore, args: argparse.Namespace) -> int:
    return listing(args.json, ("DOMAIN", "SEEN", "SINCE"), await list_tls_seen(store),
                   lambda o: (o["domain"], o["seen"], o["since"][:16]), "no domain seen with TLS yet")


async def tls_forget(store: OutboundQueueStore, args: argparse.Namespace) -> int:
    result = await forget_tls_seen(store, args.domain)
    print(f"forgot the TLS {result['domain']} was seen with: its next delivery takes what it is offered")
    return EX_OK


def register(commands: argparse._SubParsersAction) -> None:
    actions = commands.add_parser("tls", help="the TLS destination domains were seen with").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    listing_parser = actions.add_parser("list", help="every domain and the best TLS it was seen with")
    listing_parser.add_argument("--json", action="store_true", help="print a JSON array")
    listing_parser.set_defaults(func=tls_list)
    forget = actions.add_parser("forget", help="accept a domain's changed TLS (after a refused downgrade)")
    forget.add_argument("domain", metavar="DOMAIN")
    forget.set_defaults(func=tls_forget)
