"""Every command of RFC 9051 / 3501 and the extensions, mostly from the RFCs' own examples."""

from datetime import datetime, timedelta, timezone

import pytest

from pillarbox.imap.parser import (
    Append,
    AppendMessage,
    Authenticate,
    Command,
    Compress,
    Copy,
    Create,
    Enable,
    Expunge,
    Id,
    ListCommand,
    Login,
    MailboxCommand,
    QResync,
    QuotaRoot,
    Rename,
    Select,
    SequenceSet,
    SetQuota,
    Status,
    Store,
)
from tests.imap.parser_helpers import parse, refused


@pytest.mark.parametrize(
    "name", ["CAPABILITY", "NOOP", "LOGOUT", "STARTTLS", "CHECK", "CLOSE", "UNSELECT", "IDLE", "NAMESPACE"]
)
def test_no_argument_commands(name: str) -> None:
    assert parse(b"a002 " + name.lower().encode()) == Command("a002", name)
    assert refused(b"a002 " + name.encode() + b" extra").status == "BAD"


def test_expunge() -> None:
    assert parse(b"A202 EXPUNGE") == Expunge("A202", "EXPUNGE")
    assert parse(b"A003 UID EXPUNGE 3000:3002") == Expunge("A003", "EXPUNGE", True, SequenceSet(((3000, 3002),)))


def test_authenticate() -> None:
    assert parse(b"A001 AUTHENTICATE GSSAPI") == Authenticate("A001", "AUTHENTICATE", "GSSAPI")
    assert parse(b"a AUTHENTICATE PLAIN dGVzdAB0ZXN0AHRlc3Q=") == Authenticate(
        "a", "AUTHENTICATE", "PLAIN", b"dGVzdAB0ZXN0AHRlc3Q="
    )
    assert parse(b"a AUTHENTICATE EXTERNAL =").initial_response == b"="  # type: ignore[attr-defined]
    assert refused(b"a AUTHENTICATE PLAIN !!!").status == "BAD"


def test_login() -> None:
    assert parse(b"a001 LOGIN SMITH SESAME") == Login("a001", "LOGIN", "SMITH", "SESAME")
    assert parse(b'a LOGIN "fred foo" {6}\r\npa"s s') == Login("a", "LOGIN", "fred foo", 'pa"s s')
    assert parse(b'a LOGIN "j\xc3\xb6rg" x', utf8=True) == Login("a", "LOGIN", "jörg", "x")
    assert refused(b'a LOGIN "j\xc3\xb6rg" x').status == "BAD"


def test_enable() -> None:
    assert parse(b"t2 ENABLE CONDSTORE X-GOOD-IDEA utf8=accept") == Enable(
        "t2", "ENABLE", ("CONDSTORE", "X-GOOD-IDEA", "UTF8=ACCEPT")
    )
    assert refused(b"t2 ENABLE").status == "BAD"


def test_select_examine() -> None:
    assert parse(b"A142 SELECT inbox") == Select("A142", "SELECT", "INBOX")
    assert parse(b"A932 EXAMINE blurdybloop") == Select("A932", "EXAMINE", "blurdybloop", readonly=True)
    assert parse(b"a SELECT INBOX (CONDSTORE)").condstore  # type: ignore[attr-defined]
    command = parse(b"A02 SELECT INBOX (QRESYNC (67890007 20050715194045000 41,43:211,214:541))")
    assert command == Select(
        "A02",
        "SELECT",
        "INBOX",
        qresync=QResync(67890007, 20050715194045000, SequenceSet(((41, 41), (43, 211), (214, 541)))),
    )
    command = parse(
        b"B04 SELECT INBOX (QRESYNC (67890007 90060115194045000 1:29997 (5000,7500,9000,9990:9999 "
        b"15000,22500,27000,29970,29973,29976,29979,29982,29985,29988,29991,29994,29997)))"
    )
    assert command.qresync.seq_match[0] == SequenceSet.of("5000,7500,9000,9990:9999")  # type: ignore[attr-defined]
    assert parse(b"a SELECT x (QRESYNC (1 2))").qresync == QResync(1, 2)  # type: ignore[attr-defined]
    assert refused(b"a SELECT x (BOGUS)").status == "BAD"
    assert refused(b"a SELECT x (CONDSTORE").status == "BAD"


def test_create() -> None:
    assert parse(b"A003 CREATE owatagusiam/") == Create("A003", "CREATE", "owatagusiam/")
    assert parse(b't1 CREATE "Important Messages" (USE (\\flagged))') == Create(
        "t1", "CREATE", "Important Messages", ("\\Flagged",)
    )
    reply = refused(b"t1 CREATE x (USE (\\Bogus))")
    assert (reply.status, reply.code) == ("NO", "USEATTR")
    assert parse(b"t1 CREATE x (USE ())") == Create("t1", "CREATE", "x", ())  # RFC 6154 6: zero or more
    assert parse(b"t1 CREATE x (USE (\\Sent \\sent))").special_use == ("\\Sent",)  # type: ignore[attr-defined]
    assert refused(b"t1 CREATE x (USE (\\Sent ))").status == "BAD"


def test_mailbox_commands() -> None:
    assert parse(b"A683 DELETE blurdybloop") == MailboxCommand("A683", "DELETE", "blurdybloop")
    assert parse(b"A002 SUBSCRIBE #news.comp.mail.mime") == MailboxCommand("A002", "SUBSCRIBE", "#news.comp.mail.mime")
    assert parse(b"A002 UNSUBSCRIBE Entw&APw-rfe") == MailboxCommand("A002", "UNSUBSCRIBE", "Entwürfe")
    assert parse(b"G GETQUOTAROOT INBOX") == MailboxCommand("G", "GETQUOTAROOT", "INBOX")
    assert parse(b"A682 RENAME blurdybloop sarasoop") == Rename("A682", "RENAME", "blurdybloop", "sarasoop")
    assert parse('a DELETE "Entwürfe"'.encode(), utf8=True) == MailboxCommand("a", "DELETE", "Entwürfe")
    # well-formed syntax, but no valid modified UTF-7 (RFC 3501 5.1.3): no mailbox can have that name
    reply = refused(b"a DELETE Entw&AGE-rfe")  # non-canonical
    assert (reply.status, reply.code) == ("NO", "CANNOT")
    assert refused('a DELETE "Entwürfe"'.encode()).status == "BAD"  # 8-bit without UTF8=ACCEPT


def test_list_basic_and_lsub() -> None:
    assert parse(b'A101 LIST "" ""') == ListCommand("A101", "LIST", "", ("",))
    assert parse(b"A102 LIST #news.comp.mail.misc *") == ListCommand("A102", "LIST", "#news.comp.mail.misc", ("*",))
    assert parse(b'A103 LIST /usr/staff/jones ""').patterns == ("",)  # type: ignore[attr-defined]
    assert parse(b"A202 LIST ~/Mail/ %").patterns == ("%",)  # type: ignore[attr-defined]
    assert parse(b'A002 LSUB "#news." "comp.mail.*"') == ListCommand("A002", "LSUB", "#news.", ("comp.mail.*",))
    assert parse(b'a LIST "" foo]bar').patterns == ("foo]bar",)  # type: ignore[attr-defined]


def test_list_extended() -> None:
    command = parse(b'A02 LIST (SUBSCRIBED RECURSIVEMATCH) "" "%" RETURN (CHILDREN)')
    assert command == ListCommand(
        "A02", "LIST", "", ("%",), ("SUBSCRIBED", "RECURSIVEMATCH"), ("CHILDREN",), extended=True
    )
    command = parse(b'A01 LIST "" ("INBOX" "Drafts" "Sent/%")')
    assert command.patterns == ("INBOX", "Drafts", "Sent/%")  # type: ignore[attr-defined]
    command = parse(b'A03 LIST () "" % RETURN (STATUS (MESSAGES UNSEEN) SPECIAL-USE MYRIGHTS)')
    assert command.returns == ("STATUS", "SPECIAL-USE", "MYRIGHTS")  # type: ignore[attr-defined]
    assert command.status_items == ("MESSAGES", "UNSEEN")  # type: ignore[attr-defined]
    assert parse(b'a LIST (SPECIAL-USE REMOTE) "" *').selection == ("SPECIAL-USE", "REMOTE")  # type: ignore[attr-defined]
    assert parse(b'a LIST "" % RETURN ()').extended  # type: ignore[attr-defined]
    assert refused(b'a LIST (RECURSIVEMATCH) "" %').status == "BAD"
    assert refused(b'a LIST (REMOTE RECURSIVEMATCH) "" %').status == "BAD"  # RFC 5258 3.1: "or only with REMOTE"
    assert parse(b'a LIST (SPECIAL-USE RECURSIVEMATCH) "" %').selection == ("SPECIAL-USE", "RECURSIVEMATCH")  # type: ignore[attr-defined]
    assert refused(b'a LIST (BOGUS) "" %').status == "BAD"
    assert refused(b'a LIST "" % RETURN (BOGUS)').status == "BAD"
    assert refused(b'a LSUB (SUBSCRIBED) "" %').status == "BAD"


def test_status() -> None:
    assert parse(b"A042 STATUS blurdybloop (UIDNEXT MESSAGES)") == Status(
        "A042", "STATUS", "blurdybloop", ("UIDNEXT", "MESSAGES")
    )
    command = parse(
        b"a STATUS INBOX (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE RECENT HIGHESTMODSEQ APPENDLIMIT MAILBOXID)"
    )
    assert len(command.items) == 10  # type: ignore[attr-defined]
    assert refused(b"a STATUS INBOX (BOGUS)").status == "BAD"
    assert refused(b"a STATUS INBOX ()").status == "BAD"


def test_append() -> None:
    raw = b"A003 APPEND saved-messages (\\Seen) {23}\r\nDate: Mon, 7 Feb 1994\r\n"
    assert parse(raw) == Append(
        "A003", "APPEND", "saved-messages", (AppendMessage(("\\Seen",), None, b"Date: Mon, 7 Feb 1994\r\n"),)
    )
    command = parse(b'a APPEND x "17-Jul-1996 02:44:25 -0700" {2+}\r\nhi')
    when = datetime(1996, 7, 17, 2, 44, 25, tzinfo=timezone(timedelta(hours=-7)))
    assert command.messages == (AppendMessage((), when, b"hi"),)  # type: ignore[attr-defined]
    command = parse(b'a APPEND x (\\Seen $Forwarded) " 5-Mar-2024 09:08:07 +0530" ~{3}\r\n\x00\x01\x02')
    assert command.messages[0].binary and command.messages[0].flags == ("\\Seen", "$Forwarded")  # type: ignore[attr-defined]
    command = parse(b"a APPEND x UTF8 (~{1}\r\nz)")
    assert command.messages == (AppendMessage((), None, b"z", True),)  # type: ignore[attr-defined]


def test_multiappend() -> None:
    raw = b"A003 APPEND saved-messages (\\Seen) {3}\r\nabc (\\Seen) {4}\r\ndefg {1}\r\nh"
    command = parse(raw)
    assert [m.data for m in command.messages] == [b"abc", b"defg", b"h"]  # type: ignore[attr-defined]
    assert refused(b"a APPEND x {3}\r\nabc junk").status == "BAD"
    assert refused(b"a APPEND x (\\Recent) {1}\r\na").status == "BAD"
    assert refused(b"a APPEND x").status == "BAD"
    assert refused(b"a APPEND x {3}\r\nab\x00").status == "BAD"  # NUL only in literal8


def test_store() -> None:
    assert parse(b"A003 STORE 2:4 +FLAGS (\\Deleted)") == Store(
        "A003", "STORE", False, SequenceSet(((2, 4),)), "+", False, ("\\Deleted",)
    )
    command = parse(b"a UID STORE 1:* -flags.silent \\seen $Junk")
    assert (command.uid, command.mode, command.silent, command.flags) == (True, "-", True, ("\\Seen", "$Junk"))  # type: ignore[attr-defined]
    command = parse(b"d105 STORE 7,5,9 (UNCHANGEDSINCE 320162338) +FLAGS.SILENT (\\Deleted)")
    assert command.unchangedsince == 320162338  # type: ignore[attr-defined]
    assert parse(b"a STORE 1 FLAGS ()").flags == ()  # type: ignore[attr-defined]
    assert refused(b"a STORE 1 XFLAGS (\\Seen)").status == "BAD"
    assert refused(b"a STORE 1 FLAGS (\\Seen").status == "BAD"


def test_copy_move() -> None:
    assert parse(b"A003 COPY 2:4 MEETING") == Copy("A003", "COPY", False, SequenceSet(((2, 4),)), "MEETING")
    assert parse(b"a UID MOVE 42:69 foo") == Copy("a", "MOVE", True, SequenceSet(((42, 69),)), "foo")
    assert parse(b"a MOVE $ Trash").sequence_set.saved  # type: ignore[attr-defined]


def test_id_quota_compress() -> None:
    assert parse(b'a023 ID ("name" "sodr" "version" "19.34" "vendor" NIL)') == Id(
        "a023", "ID", (("name", "sodr"), ("version", "19.34"), ("vendor", None))
    )
    assert parse(b"a ID NIL") == Id("a", "ID", None)
    assert parse(b"a ID ()") == Id("a", "ID", ())
    assert parse(b'G0001 GETQUOTA "!partition/sda4"') == QuotaRoot("G0001", "GETQUOTA", "!partition/sda4")
    assert parse(b'S0000 SETQUOTA "#user/alice" (STORAGE 510)') == SetQuota(
        "S0000", "SETQUOTA", "#user/alice", (("STORAGE", 510),)
    )
    assert parse(b'a SETQUOTA "" ()') == SetQuota("a", "SETQUOTA", "", ())
    assert parse(b"a COMPRESS deflate") == Compress("a", "COMPRESS", "DEFLATE")


def test_unknown_and_invalid() -> None:
    assert refused(b"a FROB").text.startswith("Unknown command")
    assert refused(b"a UID NOOP").status == "BAD"
    reply = refused(b"+ NOOP")
    assert reply.tag == "*"
    assert refused(b"a").tag == "*"  # tag without a command
    assert refused(b"a ").tag == "a"
