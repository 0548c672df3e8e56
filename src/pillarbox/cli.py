"""The ``pillarbox`` command: argument parsing and dispatch, and the one place errors become one line.

Global options come before the subcommand: ``--config PATH`` (else $PILLARBOX_CONFIG, else the
default file of ``pillarbox.paths``, else built-in defaults), ``--log-level`` and ``--version``. The
commands themselves live in ``pillarbox.admin``; each gets an open store and returns the exit status.
An admin command opens only a store that exists (``store.datadir``). ``serve`` imports the server
lazily, so administration works without it.

Every failure is one line on stderr, ``pillarbox: error: <message>``, never a traceback: exit 2 for a
usage error (as argparse does), 1 for a refusal, and the sysexits.h codes 67 and 75 where
``message add`` serves as another MTA's delivery agent.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import sqlite3
import sys
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import replace
from typing import Any, NoReturn

from pillarbox.admin import (
    acme_commands,
    backup,
    importer,
    mailbox_message,
    queue_dkim_dns,
    quickstart,
    senders,
    sieve_commands,
    store_commands,
    tls_seen,
    tokens,
)
from pillarbox.admin import antispam as antispam_admin
from pillarbox.admin import domains_users as du
from pillarbox.admin.common import EX_FAIL, EX_TEMPFAIL, EX_USAGE, CommandFailed
from pillarbox.config import LOG_LEVELS, Config, load_config, parse_size
from pillarbox.errors import InvalidInput, PillarboxError, StorageFull, StoreUnavailable
from pillarbox.paths import default_config_path
from pillarbox.store.files import UMASK

Command = Callable[..., Awaitable[int]]
_FLAG_ATOM_SPECIALS = set('(){ %*"\\]')
_SYSTEM_FLAGS = {"\\seen": "\\Seen", "\\answered": "\\Answered", "\\flagged": "\\Flagged",
                 "\\deleted": "\\Deleted", "\\draft": "\\Draft"}


class Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line like every other error."""

    def error(self, message: str) -> NoReturn:
        print(f"pillarbox: error: {message} (see: {self.prog} --help)", file=sys.stderr)
        sys.exit(EX_USAGE)


# ---------------------------------------------------------------------------------------------- values


def quota_size(text: str) -> int | None:
    if text.strip().lower() in ("none", "unlimited"):
        return None
    try:
        return parse_size(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a size: {text!r} (e.g. 500K, 2M, 10G, or none)") from None


def message_count(text: str) -> int | None:
    if text.strip().lower() in ("none", "unlimited"):
        return None
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"not a message count: {text!r} (a positive number, or none)")
    return int(text)


def pop3_policy(text: str) -> int | None:
    """keep → None (never deleted by POP3), delete → 0 (at download), N → kept N days (RFC 2449 EXPIRE)."""
    word = text.strip().lower()
    if word == "keep":
        return None
    if word == "delete":
        return 0
    if word.isdigit() and int(word) > 0:
        return int(word)
    raise argparse.ArgumentTypeError(f"not a POP3 policy: {text!r} (keep, delete, or a number of days)")


def imap_flag(text: str) -> str:
    """A system flag (any case) or a keyword atom (RFC 9051 flag-keyword)."""
    if text.lower() in _SYSTEM_FLAGS:
        return _SYSTEM_FLAGS[text.lower()]
    if not text or text.startswith("\\") or any(c in _FLAG_ATOM_SPECIALS or ord(c) < 0x21 or ord(c) > 0x7e
                                                 for c in text):
        raise argparse.ArgumentTypeError(
            f"not a flag: {text!r} (\\Seen \\Answered \\Flagged \\Deleted \\Draft, or a keyword such as $Label1)")
    return text


def uid(text: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 2**32:
        raise argparse.ArgumentTypeError(f"not a UID: {text!r}")
    return int(text)


# ---------------------------------------------------------------------------------------------- parser


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("pillarbox")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown"


def build_parser() -> Parser:
    parser = Parser(prog="pillarbox", description="Pillarbox mail server and its administration.")
    parser.add_argument("--config", metavar="PATH",
                        help=f"configuration file (default: $PILLARBOX_CONFIG, else {default_config_path()})")
    parser.add_argument("--version", action="version", version=f"pillarbox {_version()}")
    parser.add_argument("--log-level", choices=LOG_LEVELS, help="log level (default: from the configuration)")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    serve = commands.add_parser("serve", help="run the mail server")
    serve.set_defaults(func=None)
    serve.add_argument("--node", metavar="NAME",
                       help="this server is node NAME: the file's [nodes.NAME] table says where it listens")
    # how the primary starts a worker process (pillarbox.workers), not for people
    serve.add_argument("--worker", type=int, default=0, help=argparse.SUPPRESS)
    serve.add_argument("--inherit", default="", help=argparse.SUPPRESS)
    serve.add_argument("--parent-fd", type=int, default=-1, help=argparse.SUPPRESS)
    _domain_commands(commands)
    _user_commands(commands)
    _alias_commands(commands)
    _mailbox_commands(commands)
    _message_commands(commands)
    queue_dkim_dns.register(commands)  # queue, dkim, dns
    store_commands.register(commands)  # store check, store migrate
    sieve_commands.register(commands)  # sieve, forward, vacation
    backup.register(commands)  # backup, restore
    acme_commands.register(commands)  # acme status, acme renew
    quickstart.register(commands)
    tokens.register(commands)  # token
    antispam_admin.register(commands)  # antispam allow|block|unlist|list|limits|hold|release
    tls_seen.register(commands)  # tls list, tls forget
    imp = commands.add_parser("import", help="import an mbox file or a Maildir into a mailbox")
    imp.add_argument("address", metavar="ADDRESS")
    imp.add_argument("path", metavar="PATH", help="an mbox file, a Maildir, or a Maildir++ root (subfolders too)")
    imp.add_argument("--folder", help="target folder (default INBOX; created when missing)")
    imp.set_defaults(func=importer.import_command)
    check = commands.add_parser("check", help="check what a domain publishes in DNS (MX, SPF, DKIM, DMARC, ...)")
    check.add_argument("domain", metavar="DOMAIN")
    check.set_defaults(func=_check_command)
    return parser


async def _check_command(store: Any, args: argparse.Namespace) -> int:
    from pillarbox.admin.check import check_command  # DNS and mailauth load only for this command

    return await check_command(store, args)


def _group(commands: argparse._SubParsersAction, name: str, help: str) -> argparse._SubParsersAction:
    parser = commands.add_parser(name, help=help)
    return parser.add_subparsers(dest="action", metavar="ACTION", required=True)


def _listing(actions: argparse._SubParsersAction, help: str, func: Command) -> argparse.ArgumentParser:
    parser = actions.add_parser("list", help=help)
    parser.add_argument("--json", action="store_true", help="print a JSON array")
    parser.set_defaults(func=func)
    return parser


def _domain_commands(commands: argparse._SubParsersAction) -> None:
    actions = _group(commands, "domain", "mail domains served here")
    add = actions.add_parser("add", help="serve a domain")
    add.add_argument("--postmaster", metavar="ADDRESS",
                     help="who reads its postmaster@ and abuse@ (default: the configuration's postmaster,"
                          " else the first user added to the domain)")
    add.set_defaults(func=du.domain_add)
    _listing(actions, "list the domains", du.domain_list)
    actions.add_parser("delete", help="stop serving a domain (it must have no users)").set_defaults(
        func=du.domain_delete)
    postmaster = actions.add_parser("postmaster", help="choose who reads a domain's postmaster@ and abuse@")
    postmaster.set_defaults(func=du.domain_postmaster)
    for action in ("add", "delete", "postmaster"):
        actions.choices[action].add_argument("domain", metavar="DOMAIN")
    postmaster.add_argument("address", metavar="ADDRESS", help="a local or remote address")


def _user_commands(commands: argparse._SubParsersAction) -> None:
    actions = _group(commands, "user", "mail accounts")
    for name, help, func in (("add", "create an account", du.user_add),
                             ("passwd", "set an account's password", du.user_passwd)):
        parser = actions.add_parser(name, help=help)
        parser.add_argument("address", metavar="ADDRESS")
        parser.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
        parser.set_defaults(func=func)
    actions.choices["add"].add_argument("--admin", action="store_true", help="may administer the server")
    admin = actions.add_parser("admin", help="let an account administer the server, or stop it")
    admin.add_argument("address", metavar="ADDRESS")
    admin.add_argument("state", choices=("on", "off"))
    admin.set_defaults(func=du.user_admin)
    _listing(actions, "list accounts with quota and usage", du.user_list)
    delete = actions.add_parser("delete", help="delete an account and all of its mail")
    delete.add_argument("address", metavar="ADDRESS")
    delete.set_defaults(func=du.user_delete)
    quota = actions.add_parser("quota", help="set an account's storage (and message-count) quota")
    quota.add_argument("address", metavar="ADDRESS")
    quota.add_argument("size", metavar="SIZE", type=quota_size, help="e.g. 500M, 10G, or none")
    quota.add_argument("--messages", metavar="N", type=message_count, default=argparse.SUPPRESS,
                       help="also limit the number of messages (a number, or none)")
    quota.set_defaults(func=du.user_quota)
    policy = actions.add_parser("pop3-policy", help="what POP3 downloads do to the server copy")
    policy.add_argument("address", metavar="ADDRESS")
    policy.add_argument("policy", metavar="keep|delete|DAYS", type=pop3_policy,
                        help="keep (default), delete after download, or leave on the server DAYS days")
    policy.set_defaults(func=du.user_pop3_policy)
    senders.register(actions)


def _alias_commands(commands: argparse._SubParsersAction) -> None:
    actions = _group(commands, "alias", "addresses that forward to others")
    add = actions.add_parser("add", help="create an alias (@domain is a catch-all)")
    add.add_argument("alias", metavar="ALIAS")
    add.add_argument("targets", nargs="+", metavar="TARGET", help="local or remote addresses")
    add.set_defaults(func=du.alias_add)
    _listing(actions, "list aliases", du.alias_list)
    delete = actions.add_parser("delete", help="delete an alias")
    delete.add_argument("alias", metavar="ALIAS")
    delete.set_defaults(func=du.alias_delete)


def _mailbox_commands(commands: argparse._SubParsersAction) -> None:
    actions = _group(commands, "mailbox", "an account's folders")
    listing = _listing(actions, "list folders with counts and sizes", mailbox_message.mailbox_list)
    listing.add_argument("address", metavar="ADDRESS")
    share = actions.add_parser("share", help="share a folder with a user of its domain (IMAP ACL rights)")
    share.add_argument("owner", metavar="OWNER", help="the folder's account")
    share.add_argument("folder", metavar="FOLDER")
    share.add_argument("grantee", metavar="GRANTEE", help='an address of the same domain, or "anyone" of it')
    share.add_argument("rights", metavar="RIGHTS",
                       help='RFC 4314 letters: "lr" read, "lrsw" and flags, "lrswite" and delete, "+i" adds,'
                            ' "-w" removes, "none" revokes')
    share.add_argument("--json", action="store_true", help="print the folder's ACL as JSON")
    share.set_defaults(func=mailbox_message.mailbox_share)


def _message_commands(commands: argparse._SubParsersAction) -> None:
    actions = _group(commands, "message", "messages in a folder")
    listing = _listing(actions, "list the messages of a folder", mailbox_message.message_list)
    get = actions.add_parser("get", help="write one message's stored bytes to stdout")
    get.set_defaults(func=mailbox_message.message_get)
    add = actions.add_parser("add", help="store one message from stdin (usable as an MDA)")
    add.set_defaults(func=mailbox_message.message_add, mda=True)
    add.add_argument("--flag", dest="flags", action="append", default=[], type=imap_flag, metavar="FLAG",
                     help="flag to set, e.g. \\Seen (repeatable)")
    for parser in (listing, get, add):
        parser.add_argument("address", metavar="ADDRESS")
    get.add_argument("uid", metavar="UID", type=uid)
    for parser in (listing, get):
        parser.add_argument("--folder", default="INBOX", help="folder (default INBOX)")
    add.add_argument("--folder", help="folder of ADDRESS (default: INBOX of every account ADDRESS reaches)")


# ---------------------------------------------------------------------------------------------- running


async def _run(config: Config, args: argparse.Namespace) -> int:
    from pillarbox.store.datadir import act_as_owner, require_store
    from pillarbox.store.factory import open_store

    if not config.store.url:  # on PostgreSQL the data_dir holds no store
        require_store(config.data_dir)
    act_as_owner(config.data_dir)
    if sys.stderr.isatty():  # a person at a terminal sees which store they act on; scripts stay quiet
        where = "PostgreSQL store" if config.store.url else f"data_dir {config.data_dir}"
        print(f"pillarbox: {where}", file=sys.stderr)
    store = await open_store(config)
    try:
        return int(await args.func(store, args))
    finally:
        await store.close()


def _serve(config: Config, args: argparse.Namespace) -> int:
    from pillarbox.app import serve
    from pillarbox.workers import WorkerSetup

    worker = WorkerSetup.from_args(args.worker, args.inherit, args.parent_fd) if args.worker else None
    return serve(config, worker)


def _dispatch(args: argparse.Namespace) -> int:
    if getattr(args, "before_config", False):  # quickstart writes the file the others read
        os.umask(UMASK)
        return int(args.func(args))
    os.umask(UMASK)  # whatever any command creates in the data_dir is its owner's alone (store/files.py)
    config = load_config(args.config, node=getattr(args, "node", None))
    if args.log_level:
        config = replace(config, log=replace(config.log, level=args.log_level))
    if args.command == "serve":
        return _serve(config, args)
    from pillarbox.obs import setup_logging

    setup_logging(args.log_level or "warning", config.log.format)
    if not getattr(args, "opens_store", True):  # works on the data_dir itself (backup, quickstart...)
        return int(args.func(config, args))
    args.settings = config  # for commands that apply its rules (message size, passwords, postmaster)
    return asyncio.run(_run(config, args))


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    tempfail = getattr(args, "mda", False)  # message add: the calling MTA retries on 75
    try:
        return _dispatch(args)
    except CommandFailed as exc:
        return _fail(str(exc), exc.exit_code)
    except InvalidInput as exc:  # a value the operation refused (a weak password: a usage error)
        return _fail(str(exc), EX_USAGE if exc.field == "password" else EX_FAIL)
    except StorageFull as exc:  # the disk reserve: the same command works once there is room
        return _fail(str(exc), EX_TEMPFAIL)
    except StoreUnavailable as exc:
        return _fail(str(exc), EX_TEMPFAIL if tempfail else EX_FAIL)
    except PillarboxError as exc:
        return _fail(str(exc), EX_FAIL)
    except OSError as exc:
        if isinstance(exc, BrokenPipeError):
            return _quiet_broken_pipe()
        where = f"{exc.filename}: " if exc.filename else ""
        return _fail(f"{where}{exc.strerror or exc}", EX_TEMPFAIL if tempfail else EX_FAIL)
    except sqlite3.Error as exc:
        return _fail(f"store failure: {exc}", EX_TEMPFAIL if tempfail else EX_FAIL)
    except KeyboardInterrupt:
        return _fail("interrupted", 130)
    except Exception as exc:  # a bug: still one line (the traceback goes to the debug log)
        logging.getLogger("pillarbox.cli").debug("unexpected error", exc_info=True)
        return _fail(f"unexpected {type(exc).__name__}: {exc}", EX_TEMPFAIL if tempfail else EX_FAIL)


def _fail(message: str, code: int) -> int:
    print(f"pillarbox: error: {' '.join(message.split())}", file=sys.stderr)
    return code


def _quiet_broken_pipe() -> int:
    # the reader went away (e.g. `| head`): not an error worth a line; keep Python from printing one
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return EX_FAIL


if __name__ == "__main__":
    sys.exit(main())
