"""``pillarbox queue``, ``dkim`` and ``dns``: the CLI face of the outbound operations (``ops_outbound``).

``dns DOMAIN`` prints, as zone-file lines with fully-qualified names, every record the domain must
publish: MX, SPF, DKIM (creating the keys if the domain has none yet), DMARC, TLS-RPT, the SRV
records of the client ports configured (RFC 6186, RFC 8314), and with a ``[listen] https`` listener
MTA-STS and the autoconfig/autodiscover names.
"""

from __future__ import annotations

import argparse

from pillarbox.admin import ops_outbound as ops
from pillarbox.admin.common import EX_OK, listing, print_json
from pillarbox.config import load_config
from pillarbox.errors import InvalidInput
from pillarbox.store.api import Store

# ---------------------------------------------------------------------------------------------- queue


async def queue_list(store: Store, args: argparse.Namespace) -> int:
    objects = await ops.list_queue(store)
    rows = [{**o, "recipient": r} for o in objects for r in o["recipients"]]
    if args.json:
        print_json(objects)
        return EX_OK
    return listing(False, ("ID", "SENDER", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"), rows,
                   lambda o: (str(o["id"]) + (" (held)" if o["held"] else ""), o["sender"] or "<>",
                              o["recipient"]["address"], o["recipient"]["state"], o["recipient"]["attempts"],
                              o["recipient"]["next_attempt"] or "-", o["recipient"]["last_error"] or ""),
                   "the queue is empty")


async def queue_show(store: Store, args: argparse.Namespace) -> int:
    obj = await ops.show_queue_entry(store, args.id)
    if args.json:
        print_json([{k: v for k, v in obj.items() if k not in ("headers", "subject", "size")}])
        return EX_OK
    print(f"queue id:  {obj['id']}{' (held)' if obj['held'] else ''}")
    print(f"sender:    <{obj['sender']}>")
    print(f"created:   {obj['created']}")
    for r in obj["recipients"]:
        print(f"recipient: <{r['address']}> {r['state']}, {r['attempts']} attempts"
              + (f", next {r['next_attempt']}" if r["next_attempt"] else ""))
        if r["last_error"]:
            print(f"           {r['last_error']}")
    print()
    print(obj["headers"])
    return EX_OK


async def queue_retry(store: Store, args: argparse.Namespace) -> int:
    result = await ops.retry_queue(store, None if args.all else args.id)
    print(f"{result['recipients']} recipient(s) will be tried again now")
    return EX_OK


async def queue_delete(store: Store, args: argparse.Namespace) -> int:
    await ops.delete_queue_entry(store, args.id)
    print(f"deleted queue entry {args.id} (no bounce is sent)")
    return EX_OK


async def queue_hold(store: Store, args: argparse.Namespace) -> int:
    held = args.action == "hold"
    await ops.hold_queue_entry(store, args.id, held)
    print(f"queue entry {args.id} {'held' if held else 'released'}")
    return EX_OK


# ---------------------------------------------------------------------------------------------- dkim


async def dkim_rotate(store: Store, args: argparse.Namespace) -> int:
    result = await ops.rotate_dkim_keys(store, args.domain)
    print(f"new DKIM keys for {result['domain']}: {', '.join(result['selectors'])}; publish:")
    for record in result["records"]:
        print(record)
    return EX_OK


async def dkim_list(store: Store, args: argparse.Namespace) -> int:
    keys = await ops.list_dkim_keys(store, args.domain)
    return listing(args.json, ("SELECTOR", "ALGORITHM", "ACTIVE", "CREATED"), keys,
                   lambda o: (o["selector"], o["algorithm"], "yes" if o["active"] else "no", o["created"]),
                   f"no DKIM keys for {args.domain}")


# ---------------------------------------------------------------------------------------------- dns


async def dns_command(store: Store, args: argparse.Namespace) -> int:
    result = await ops.domain_records(store, load_config(args.config), args.domain)
    domain = result["domain"]
    print(f"; records for {domain} (the MX host {result['hostname']} needs its own A/AAAA records)")
    for line in result["records"]:
        print(line)
    if result["mta_sts_policy"]:
        print(f"; https://mta-sts.{domain}/.well-known/mta-sts.txt serves:")
        for line in result["mta_sts_policy"].splitlines():
            print(f";   {line}")
    else:
        print("; no [listen] https: no MTA-STS, autoconfig or autodiscover records (nothing would serve them)")
    return EX_OK


# ---------------------------------------------------------------------------------------------- parser


def queue_id(text: str) -> str:
    """The id the SMTP reply and the logs show (any case)."""
    try:
        return ops.queue_id_field(text)
    except InvalidInput as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def register(commands: argparse._SubParsersAction) -> None:
    """Add the ``queue``, ``dkim`` and ``dns`` subcommands to the CLI's parser."""
    actions = commands.add_parser("queue", help="the outbound mail queue").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    listing_parser = actions.add_parser("list", help="queued messages with per-recipient state")
    listing_parser.add_argument("--json", action="store_true", help="print a JSON array")
    listing_parser.set_defaults(func=queue_list)
    for name, help, func in (("show", "one entry's details and headers", queue_show),
                             ("delete", "drop an entry without a bounce", queue_delete),
                             ("hold", "keep an entry from being tried", queue_hold),
                             ("release", "let a held entry be tried again", queue_hold)):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("id", metavar="ID", type=queue_id)
        parser.set_defaults(func=func)
    actions.choices["show"].add_argument("--json", action="store_true", help="print JSON")
    retry = actions.add_parser("retry", help="try an entry (or all) again now")
    group = retry.add_mutually_exclusive_group(required=True)
    group.add_argument("id", metavar="ID", type=queue_id, nargs="?")
    group.add_argument("--all", action="store_true", help="every pending recipient")
    retry.set_defaults(func=queue_retry)
    dkim = commands.add_parser("dkim", help="DKIM signing keys").add_subparsers(
        dest="action", metavar="ACTION", required=True)
    rotate = dkim.add_parser("rotate", help="make new Ed25519 and RSA keys for a domain, retire the old")
    rotate.set_defaults(func=dkim_rotate)
    keys = dkim.add_parser("list", help="a domain's DKIM keys")
    keys.add_argument("--json", action="store_true", help="print a JSON array")
    keys.set_defaults(func=dkim_list)
    for parser in (rotate, keys):
        parser.add_argument("domain", metavar="DOMAIN")
    dns = commands.add_parser("dns", help="print the DNS records a domain must publish (zone-file lines)")
    dns.add_argument("domain", metavar="DOMAIN")
    dns.set_defaults(func=dns_command)
