"""The IMAP command parser: ``parse_command(framed) -> Command`` (RFC 9051 9 ``command``).

``command = tag SP (command-any / command-auth / command-nonauth / command-select) CRLF``. The
parser does not know the session state: it checks syntax only, and the session checks that the
command is allowed now. Whatever the input, the only exception that leaves ``parse_command`` is
``ProtocolError`` carrying a ``TaggedReply`` (BAD for syntax, NO where the RFC asks for it, e.g.
``[BADCHARSET]``); a bug in a parse function is reported as BAD too, never as a crash.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from pillarbox.errors import ProtocolError
from pillarbox.imap.framing import FramedCommand
from pillarbox.imap.parser import acl_cmds, notify_cmd, urlauth_cmds
from pillarbox.imap.parser import mailbox_cmds as mb
from pillarbox.imap.parser import message_cmds as msg
from pillarbox.imap.parser import metadata_cmds as meta
from pillarbox.imap.parser import session_cmds as ses
from pillarbox.imap.parser.commands import (
    AclCommand,
    Append,
    AppendMessage,
    Authenticate,
    CancelUpdate,
    Command,
    Compress,
    Copy,
    Create,
    Enable,
    Expunge,
    Fetch,
    GetMetadata,
    Id,
    ListCommand,
    Login,
    MailboxCommand,
    MultiSearch,
    Notify,
    QResync,
    QuotaRoot,
    Rename,
    Replace,
    Search,
    SearchReturn,
    Select,
    SetMetadata,
    SetQuota,
    Sort,
    Status,
    Store,
    Thread,
)
from pillarbox.imap.parser.fetch_att import FetchAtt, FetchModifiers, Section
from pillarbox.imap.parser.primitives import ParseError, Reader, parse_internal_date
from pillarbox.imap.parser.search_key import (
    And,
    DateKey,
    FlagKey,
    HeaderKey,
    KeywordKey,
    ModSeqKey,
    Not,
    NumberKey,
    Or,
    SearchKey,
    SetKey,
    StringKey,
)
from pillarbox.imap.parser.sequence_set import STAR, SequenceSet
from pillarbox.imap.response import TaggedReply

__all__ = [
    "STAR",
    "AclCommand",
    "And",
    "Append",
    "AppendMessage",
    "Authenticate",
    "CancelUpdate",
    "Command",
    "Compress",
    "Copy",
    "Create",
    "DateKey",
    "Enable",
    "Expunge",
    "Fetch",
    "FetchAtt",
    "FetchModifiers",
    "FlagKey",
    "GetMetadata",
    "HeaderKey",
    "Id",
    "KeywordKey",
    "ListCommand",
    "Login",
    "MailboxCommand",
    "ModSeqKey",
    "MultiSearch",
    "Not",
    "Notify",
    "NumberKey",
    "Or",
    "QResync",
    "QuotaRoot",
    "Rename",
    "Replace",
    "Search",
    "SearchKey",
    "SearchReturn",
    "Section",
    "Select",
    "SequenceSet",
    "SetKey",
    "SetMetadata",
    "SetQuota",
    "Sort",
    "Status",
    "Store",
    "StringKey",
    "Thread",
    "parse_command",
    "parse_internal_date",
]

Parser = Callable[[Reader, str, str], Command]
UidParser = Callable[[Reader, str, str, bool], Command]

COMMANDS: dict[str, Parser] = {
    **dict.fromkeys(
        ("CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "IDLE", "NAMESPACE",
         "UNAUTHENTICATE"),
        ses.parse_simple,
    ),
    "AUTHENTICATE": ses.parse_authenticate,
    "LOGIN": ses.parse_login,
    "ENABLE": ses.parse_enable,
    "ID": ses.parse_id,
    "GETQUOTA": ses.parse_quota_root,
    "SETQUOTA": ses.parse_setquota,
    "COMPRESS": ses.parse_compress,
    "SELECT": mb.parse_select,
    "EXAMINE": mb.parse_select,
    "CREATE": mb.parse_create,
    **dict.fromkeys(("DELETE", "SUBSCRIBE", "UNSUBSCRIBE", "GETQUOTAROOT"), mb.parse_mailbox_only),
    "RENAME": mb.parse_rename,
    "LIST": mb.parse_list,
    "LSUB": mb.parse_list,
    "STATUS": mb.parse_status,
    "APPEND": mb.parse_append,
    "ESEARCH": msg.parse_esearch,
    "CANCELUPDATE": msg.parse_cancelupdate,
    "GETMETADATA": meta.parse_getmetadata,
    "SETMETADATA": meta.parse_setmetadata,
    "NOTIFY": notify_cmd.parse_notify,
    **dict.fromkeys(("SETACL", "DELETEACL", "GETACL", "LISTRIGHTS", "MYRIGHTS"), acl_cmds.parse_acl),
    **dict.fromkeys(("GENURLAUTH", "RESETKEY", "URLFETCH"), urlauth_cmds.parse_urlauth),
}
UID_COMMANDS: dict[str, UidParser] = {
    "SEARCH": msg.parse_search,
    "FETCH": msg.parse_fetch,
    "STORE": msg.parse_store,
    "COPY": msg.parse_copy,
    "MOVE": msg.parse_copy,
    "EXPUNGE": msg.parse_expunge,
    "SORT": msg.parse_sort,
    "THREAD": msg.parse_thread,
    "REPLACE": mb.parse_replace,
}
# tag = 1*<any ASTRING-CHAR except "+">
_TAG = re.compile(rb'[^(){ \x00-\x1f\x7f%*"\\+\x80-\xff]+')


def parse_command(framed: FramedCommand, *, utf8: bool = False, max_depth: int = 100) -> Command:
    """The command in ``framed``; ``utf8`` once UTF8=ACCEPT (or IMAP4rev2) is enabled.

    Raises only ``ProtocolError(TaggedReply)``.
    """
    raw = framed.raw
    found = _TAG.match(raw)
    if found is None or raw[found.end() : found.end() + 1] != b" ":
        raise ProtocolError(TaggedReply("*", "BAD", "Invalid tag"))
    tag = found.group().decode("ascii")
    reader = Reader(raw, utf8=utf8, max_depth=max_depth)
    reader.pos = found.end() + 1
    try:
        return _dispatch(reader, tag)
    except ParseError as exc:
        raise ProtocolError(TaggedReply(tag, exc.status, exc.text, exc.code)) from None
    except RecursionError:
        raise ProtocolError(TaggedReply(tag, "BAD", "Command nested too deeply")) from None
    except Exception as exc:  # a parser bug must not crash the session: report it as BAD
        raise ProtocolError(TaggedReply(tag, "BAD", "Invalid command syntax"), f"parser failure: {exc!r}") from exc


def _dispatch(reader: Reader, tag: str) -> Command:
    name = reader.keyword()
    uid = name == "UID"
    if uid:
        reader.sp()
        name = reader.keyword()
        if name not in UID_COMMANDS:
            raise ParseError(f"Unknown UID command {name}")
    if name in UID_COMMANDS:
        return UID_COMMANDS[name](reader, tag, name, uid)
    parser = COMMANDS.get(name)
    if parser is None:
        raise ParseError(f"Unknown command {name}")
    return parser(reader, tag, name)
