"""``pillarbox mailbox`` and ``message``: look into mailboxes, and put one message in (also as an MDA).

``message add`` is what another MTA can call as its local delivery agent (like dovecot-lda or
procmail): the message on stdin, exit 0 only once it is durable, 67 (EX_NOUSER) for an unknown
recipient, 75 (EX_TEMPFAIL) when the store cannot take it now (over quota, database busy or failing),
so that the calling MTA retries later instead of bouncing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys

from pillarbox.address import AddressError
from pillarbox.admin.common import (
    EX_FAIL,
    EX_NOUSER,
    EX_OK,
    EX_TEMPFAIL,
    CommandFailed,
    human_size,
    iso,
    listing,
    require_account,
    require_mailbox,
    warn,
)
from pillarbox.admin.crlf import to_crlf
from pillarbox.admin.ops_directory import list_mailboxes
from pillarbox.admin.ops_sharing import share_mailbox
from pillarbox.auth.directory import Directory
from pillarbox.errors import QuotaExceeded, StoreError, StoreUnavailable
from pillarbox.store.api import Backend
from pillarbox.store.records import Appended, DeliveryTarget, Mailbox, Refused

# ---------------------------------------------------------------------------------------------- mailbox


async def mailbox_list(store: Backend, args: argparse.Namespace) -> int:
    return listing(
        args.json, ("FOLDER", "SPECIAL-USE", "MESSAGES", "UNSEEN", "SIZE"), await list_mailboxes(store, args.address),
        lambda o: (o["name"], o["special_use"] or "", o["messages"], o["unseen"], human_size(o["size"])),
        "no folders",
    )


async def mailbox_share(store: Backend, args: argparse.Namespace) -> int:
    result = await share_mailbox(store, args.owner, args.folder, args.grantee, args.rights)
    if args.json:
        print(json.dumps(result, indent=2, ensure_ascii=False))
        return EX_OK
    for who, rights in result["acl"].items():
        print(f"{who}\t{rights}")
    print(f"{result['owner']}'s {result['folder']} is {result['seen_by_grantee_as']} to those it is shared with")
    return EX_OK


# ---------------------------------------------------------------------------------------------- message


async def message_list(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    mailbox = await require_mailbox(store, account, args.folder)
    entries = await store.list_messages(mailbox.id)
    summaries = await store.get_summaries([e.message_id for e in entries])
    objects = []
    for entry in entries:
        summary = summaries.get(entry.message_id)
        objects.append({
            "uid": entry.uid, "size": entry.size, "flags": sorted(entry.flags),
            "from": summary.from_ if summary else None, "subject": summary.subject if summary else None,
            "date": iso(summary.date) if summary else None, "internal_date": iso(entry.internal_date),
            "message_id": summary.header_message_id if summary else None, "modseq": entry.modseq,
        })
    return listing(
        args.json, ("UID", "FLAGS", "SIZE", "RECEIVED", "FROM", "SUBJECT"), objects,
        lambda o: (o["uid"], " ".join(o["flags"]), human_size(o["size"]), o["internal_date"][:16],
                   o["from"], o["subject"]),
        f"no messages in {account.address}/{mailbox.name}",
    )


async def message_get(store: Backend, args: argparse.Namespace) -> int:
    account = await require_account(store, args.address)
    mailbox = await require_mailbox(store, account, args.folder)
    entries = await store.list_messages(mailbox.id, args.uid, args.uid)
    if not entries:
        raise CommandFailed(f"no message with UID {args.uid} in {account.address}/{mailbox.name}")
    data = await store.read_message(entries[0].message_id)
    sys.stdout.buffer.write(data)
    sys.stdout.buffer.flush()
    return EX_OK


async def message_add(store: Backend, args: argparse.Namespace) -> int:
    """Deliver stdin; every refusal is a CommandFailed carrying the sysexits code an MTA expects."""
    try:
        return await _message_add(store, args, args.settings.limits.max_message_size)
    except AddressError as exc:
        raise CommandFailed(str(exc), EX_NOUSER) from None
    except (sqlite3.Error, OSError, StoreUnavailable) as exc:
        raise CommandFailed(f"cannot store the message now: {exc}", EX_TEMPFAIL) from None


async def _message_add(store: Backend, args: argparse.Namespace, max_size: int) -> int:
    targets, names = await _targets(store, args)
    raw = sys.stdin.buffer.read(max_size + 1)
    if not raw.strip():
        raise CommandFailed("no message on stdin")
    if len(raw) > max_size:
        raise CommandFailed(f"message larger than limits.max_message_size ({human_size(max_size)})")
    flags = frozenset(args.flags)
    results = await store.deliver(to_crlf(raw), [DeliveryTarget(t.id, flags) for t in targets])
    return _report(results, names)


async def _targets(store: Backend, args: argparse.Namespace) -> tuple[list[Mailbox], dict[int, str]]:
    """The mailboxes the message goes to, and a name for each (for messages)."""
    if args.folder is not None:
        account = await store.get_account(args.address)
        if account is None:
            raise CommandFailed(f"no user {args.address}", EX_NOUSER)
        mailbox = await require_mailbox(store, account, args.folder)
        return [mailbox], {mailbox.id: f"{account.address}/{mailbox.name}"}
    resolution = await Directory(store).resolve(args.address)
    for remote in resolution.remote:
        warn(f"not forwarding to {remote}: message add delivers to local mailboxes only")
    if not resolution.accounts:
        raise CommandFailed(f"no user {args.address}", EX_NOUSER)
    mailboxes, names = [], {}
    for account in resolution.accounts:
        mailbox = await require_mailbox(store, account, "INBOX")
        mailboxes.append(mailbox)
        names[mailbox.id] = f"{account.address}/INBOX"
    return mailboxes, names


def _report(results: list[Appended | Refused], names: dict[int, str]) -> int:
    refused = [r for r in results if isinstance(r, Refused)]
    for result in results:
        if isinstance(result, Appended):
            print(f"delivered to {names[result.mailbox_id]} as UID {result.uid}")
    if not refused:
        return EX_OK
    for result in refused[:-1]:
        warn(f"not delivered to {names[result.mailbox_id]}: {result.error}")
    last = refused[-1]
    temporary = any(isinstance(r.error, QuotaExceeded) or not isinstance(r.error, StoreError) for r in refused)
    raise CommandFailed(f"not delivered to {names[last.mailbox_id]}: {last.error}",
                        EX_TEMPFAIL if temporary else EX_FAIL)
