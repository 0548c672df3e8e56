"""``pillarbox queue``, ``dkim`` and ``dns``: the outbound half of administration.

``queue`` works on the store while the server runs (the runner notices retries at its next poll).
``dns DOMAIN`` prints, as zone-file lines with fully-qualified names, every record the domain must
publish: MX, SPF, DKIM (creating the keys if the domain has none yet), DMARC, MTA-STS, TLS-RPT,
and the SRV/autoconfig records mail clients use to find the server (RFC 6186, RFC 8314).
"""

from __future__ import annotations

import argparse
import hashlib
from datetime import UTC, datetime
from typing import Any

from pillarbox.admin.common import EX_OK, iso, listing, print_json
from pillarbox.config import load_config
from pillarbox.errors import NotFound
from pillarbox.mailauth import dkim_sign
from pillarbox.obs import get_logger, log_event
from pillarbox.policy.publish import mta_sts_policy
from pillarbox.store.api import Backend
from pillarbox.store.records import QueuedMessage, is_queue_id

TTL = 3600
log = get_logger("queue")


def _when(seconds: int | None) -> str | None:
    return iso(datetime.fromtimestamp(seconds, UTC)) if seconds else None


def _entry_object(entry: QueuedMessage) -> dict[str, Any]:
    return {
        "id": entry.id, "sender": entry.sender, "created": _when(entry.created), "held": entry.held,
        "envid": entry.envid, "ret": entry.ret,
        "recipients": [{
            "address": r.address, "state": r.state, "attempts": r.attempts,
            "next_attempt": _when(r.next_attempt) if r.state == "pending" else None,
            "last_error": r.last_error, "status": r.status, "remote_mta": r.remote_mta,
            "notify": list(r.notify), "orcpt": r.orcpt,
        } for r in entry.recipients],
    }


def _missing(queue_id: str) -> NotFound:
    # a message that only had local recipients, or whose delivery ended, has no queue entry (any more)
    return NotFound(f"no queue entry {queue_id}: not queued, or its delivery has ended (see: pillarbox queue list)")


async def _require(store: Backend, queue_id: str) -> QueuedMessage:
    entry = await store.get_queue_entry(queue_id)
    if entry is None:
        raise _missing(queue_id)
    return entry


# ---------------------------------------------------------------------------------------------- queue


async def queue_list(store: Backend, args: argparse.Namespace) -> int:
    objects = [_entry_object(e) for e in await store.list_queue()]
    rows = [{**o, "recipient": r} for o in objects for r in o["recipients"]]
    if args.json:
        print_json(objects)
        return EX_OK
    return listing(False, ("ID", "SENDER", "RECIPIENT", "STATE", "ATTEMPTS", "NEXT ATTEMPT", "LAST ERROR"), rows,
                   lambda o: (str(o["id"]) + (" (held)" if o["held"] else ""), o["sender"] or "<>",
                              o["recipient"]["address"], o["recipient"]["state"], o["recipient"]["attempts"],
                              o["recipient"]["next_attempt"] or "-", o["recipient"]["last_error"] or ""),
                   "the queue is empty")


async def queue_show(store: Backend, args: argparse.Namespace) -> int:
    entry = await _require(store, args.id)
    obj = _entry_object(entry)
    if args.json:
        print_json([obj])
        return EX_OK
    print(f"queue id:  {entry.id}{' (held)' if entry.held else ''}")
    print(f"sender:    <{entry.sender}>")
    print(f"created:   {obj['created']}")
    for r in obj["recipients"]:
        print(f"recipient: <{r['address']}> {r['state']}, {r['attempts']} attempts"
              + (f", next {r['next_attempt']}" if r["next_attempt"] else ""))
        if r["last_error"]:
            print(f"           {r['last_error']}")
    raw = await store.read_message(entry.message_id)
    print()
    print(raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", errors="replace").replace("\r\n", "\n"))
    return EX_OK


async def queue_retry(store: Backend, args: argparse.Namespace) -> int:
    if args.all:
        count = await store.retry_queue(None)
    else:
        await _require(store, args.id)
        count = await store.retry_queue([args.id])
    print(f"{count} recipient(s) will be tried again now")
    return EX_OK


async def queue_delete(store: Backend, args: argparse.Namespace) -> int:
    if not await store.delete_queue_entry(args.id):
        raise _missing(args.id)
    log_event(log, "info", "queue entry done", queue_id=args.id, result="deleted")
    print(f"deleted queue entry {args.id} (no bounce is sent)")
    return EX_OK


async def queue_hold(store: Backend, args: argparse.Namespace) -> int:
    held = args.action == "hold"
    if not await store.hold_queue_entry(args.id, held):
        raise _missing(args.id)
    print(f"queue entry {args.id} {'held' if held else 'released'}")
    return EX_OK


# ---------------------------------------------------------------------------------------------- dkim


async def dkim_rotate(store: Backend, args: argparse.Namespace) -> int:
    if not await store.has_domain(args.domain):
        raise NotFound(f"no domain {args.domain}")
    keys = await dkim_sign.rotate(store, args.domain)
    print(f"new DKIM keys for {args.domain}: {', '.join(k.selector for k in keys)}; publish:")
    for key in keys:
        print(_txt(f"{key.selector}._domainkey.{key.domain}.", dkim_sign.dns_value(key)))
    return EX_OK


async def dkim_list(store: Backend, args: argparse.Namespace) -> int:
    keys = await store.dkim_keys(args.domain, active_only=False)
    objects = [{"domain": k.domain, "selector": k.selector, "algorithm": k.algorithm, "active": k.active,
                "created": _when(k.created)} for k in keys]
    return listing(args.json, ("SELECTOR", "ALGORITHM", "ACTIVE", "CREATED"), objects,
                   lambda o: (o["selector"], o["algorithm"], "yes" if o["active"] else "no", o["created"]),
                   f"no DKIM keys for {args.domain}")


# ---------------------------------------------------------------------------------------------- dns


def _txt(name: str, value: str) -> str:
    chunks = " ".join(f'"{value[i:i + 255]}"' for i in range(0, len(value), 255))
    return f"{name} {TTL} IN TXT {chunks}"


def dns_records(domain: str, hostname: str, keys: list[Any], policy: str) -> list[str]:
    """Zone-file lines; ``policy`` is the served MTA-STS file, whose hash is the record's id (so the
    id changes exactly when the policy does, RFC 8461 3.1)."""
    d, mx = f"{domain}.", f"{hostname}."
    policy_id = hashlib.sha256(policy.encode()).hexdigest()[:20]
    lines = [f"{d} {TTL} IN MX 10 {mx}", _txt(d, "v=spf1 mx -all")]
    lines += [_txt(f"{k.selector}._domainkey.{d}", dkim_sign.dns_value(k)) for k in keys]
    lines += [
        _txt(f"_dmarc.{d}", f"v=DMARC1; p=quarantine; rua=mailto:postmaster@{domain}"),
        _txt(f"_mta-sts.{d}", f"v=STSv1; id={policy_id}"),
        f"mta-sts.{d} {TTL} IN CNAME {mx}",
        _txt(f"_smtp._tls.{d}", f"v=TLSRPTv1; rua=mailto:postmaster@{domain}"),
        f"autoconfig.{d} {TTL} IN CNAME {mx}",
        f"autodiscover.{d} {TTL} IN CNAME {mx}",
        f"_submissions._tcp.{d} {TTL} IN SRV 0 1 465 {mx}",
        f"_submission._tcp.{d} {TTL} IN SRV 1 1 587 {mx}",
        f"_imaps._tcp.{d} {TTL} IN SRV 0 1 993 {mx}",
        f"_imap._tcp.{d} {TTL} IN SRV 1 1 143 {mx}",
        f"_pop3s._tcp.{d} {TTL} IN SRV 10 1 995 {mx}",
        f"_pop3._tcp.{d} {TTL} IN SRV 20 1 110 {mx}",
        f"_autodiscover._tcp.{d} {TTL} IN SRV 0 1 443 {mx}",
    ]
    return lines


async def dns_command(store: Backend, args: argparse.Namespace) -> int:
    if not await store.has_domain(args.domain):
        raise NotFound(f"no domain {args.domain}; add it first with: pillarbox domain add {args.domain}")
    config = load_config(args.config)
    hostname = config.hostname
    policy = mta_sts_policy(config.policy.mta_sts_mode, hostname, config.policy.mta_sts_max_age)
    keys = await dkim_sign.ensure_keys(store, args.domain.lower())
    print(f"; records for {args.domain.lower()} (the MX host {hostname} needs its own A/AAAA records)")
    for line in dns_records(args.domain.lower(), hostname, keys, policy):
        print(line)
    print(f"; https://mta-sts.{args.domain.lower()}/.well-known/mta-sts.txt must serve:")
    for line in policy.splitlines():
        print(f";   {line}")
    return EX_OK


# ---------------------------------------------------------------------------------------------- parser


def queue_id(text: str) -> str:
    """The id the SMTP reply and the logs show (any case)."""
    if not is_queue_id(text.lower()):
        raise argparse.ArgumentTypeError(f"not a queue id: {text!r} (12 letters and digits, see: pillarbox queue list)")
    return text.lower()


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
