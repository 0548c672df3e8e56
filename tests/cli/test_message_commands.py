"""pillarbox mailbox list, message list / get / add (also as an MDA with sysexits codes)."""

from __future__ import annotations

from pillarbox.store.sqlite.store import SQLiteStore
from tests.cli.conftest import Pillarbox, json_of, message
from tests.stores import store_section

EX_NOUSER, EX_TEMPFAIL = 67, 75


def test_mailbox_list_shows_the_default_folders(bob: Pillarbox) -> None:
    folders = json_of(bob.ok("mailbox", "list", "bob@example.com", "--json"))
    assert {f["name"]: f["special_use"] for f in folders} == {
        "INBOX": None, "Drafts": "\\Drafts", "Sent": "\\Sent", "Trash": "\\Trash", "Junk": "\\Junk",
        "Archive": "\\Archive",
    }
    assert folders[0]["name"] == "INBOX"
    for folder in folders:
        assert folder["messages"] == folder["unseen"] == folder["size"] == 0
        assert folder["uidnext"] == 1 and folder["uidvalidity"] > 0 and folder["subscribed"] is True
    assert "\\Sent" in bob.ok("mailbox", "list", "bob@example.com").out
    assert "no user carol@example.com" in bob.fails("mailbox", "list", "carol@example.com", "--json")


def test_message_add_list_get_round_trip(bob: Pillarbox) -> None:
    raw = message("first", "Line one.\nLine two.\n")
    result = bob.ok("message", "add", "bob@example.com", input=raw)
    assert result.out == "delivered to bob@example.com/INBOX as UID 1\n"
    bob.ok("message", "add", "bob@example.com", "--folder", "Archive", "--flag", "\\seen", "--flag", "$Label1",
           input=message("second"))
    listed = json_of(bob.ok("message", "list", "bob@example.com", "--json"))
    stored = raw.replace(b"\n", b"\r\n")
    assert len(listed) == 1
    first = listed[0]
    assert first["uid"] == 1 and first["size"] == len(stored) and first["flags"] == []
    assert first["subject"] == "first" and "alice@example.org" in first["from"]
    assert first["date"].startswith("2026-11-27T10:00:00") and first["internal_date"].endswith("+00:00")
    archived = json_of(bob.ok("message", "list", "bob@example.com", "--folder", "Archive", "--json"))
    assert archived[0]["flags"] == ["$Label1", "\\Seen"]
    assert bob.ok("message", "get", "bob@example.com", "1").stdout == stored  # byte-exact, CRLF
    assert "first" in bob.ok("message", "list", "bob@example.com").out
    folders = {f["name"]: f for f in json_of(bob.ok("mailbox", "list", "bob@example.com", "--json"))}
    assert (folders["INBOX"]["messages"], folders["INBOX"]["unseen"], folders["INBOX"]["size"]) == (
        1, 1, len(stored))
    assert (folders["Archive"]["messages"], folders["Archive"]["unseen"]) == (1, 0)


def test_message_get_and_list_refusals(bob: Pillarbox) -> None:
    assert "no message with UID 7" in bob.fails("message", "get", "bob@example.com", "7")
    assert "no folder 'Nope'" in bob.fails("message", "list", "bob@example.com", "--folder", "Nope")
    assert "no folder 'Nope'" in bob.fails("message", "get", "bob@example.com", "1", "--folder", "Nope")
    assert "not a UID" in bob.fails("message", "get", "bob@example.com", "x", code=2)
    assert "not a flag" in bob.fails("message", "add", "bob@example.com", "--flag", "\\Recent", code=2)


def test_message_add_keeps_crlf_and_binary_bytes(bob: Pillarbox) -> None:
    raw = b"Subject: bin\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe caf\xc3\xa9\r\nbare\rcr\n"
    bob.ok("message", "add", "bob@example.com", input=raw)
    got = bob.ok("message", "get", "bob@example.com", "1").stdout
    assert got == b"Subject: bin\r\nContent-Transfer-Encoding: 8bit\r\n\r\n\xff\xfe caf\xc3\xa9\r\nbare\r\ncr\r\n"


def test_message_add_to_alias_and_subaddress(bob: Pillarbox) -> None:
    bob.ok("alias", "add", "team@example.com", "bob@example.com", "alice@example.com", "ext@remote.example")
    result = bob.ok("message", "add", "team@example.com", input=message("to the team"))
    assert "delivered to bob@example.com/INBOX" in result.out
    assert "delivered to alice@example.com/INBOX" in result.out
    assert "not forwarding to ext@remote.example" in result.stderr
    bob.ok("message", "add", "bob+lists@example.com", input=message("tagged"))
    subjects = [m["subject"] for m in json_of(bob.ok("message", "list", "bob@example.com", "--json"))]
    assert subjects == ["to the team", "tagged"]
    alice = json_of(bob.ok("message", "list", "alice@example.com", "--json"))
    assert [m["subject"] for m in alice] == ["to the team"]


def test_message_add_as_mda_exit_codes(bob: Pillarbox) -> None:
    assert "no user carol@example.com" in bob.fails("message", "add", "carol@example.com",
                                                    input=message(), code=EX_NOUSER)
    bob.fails("message", "add", "carol@elsewhere.example", input=message(), code=EX_NOUSER)
    bob.fails("message", "add", "carol@example.com", "--folder", "INBOX", input=message(), code=EX_NOUSER)
    bob.fails("message", "add", "garbage", input=message(), code=EX_NOUSER)
    assert "no message on stdin" in bob.fails("message", "add", "bob@example.com", input=b"")
    assert "no folder" in bob.fails("message", "add", "bob@example.com", "--folder", "Nope", input=message())

    async def tiny_quota(store: SQLiteStore) -> None:
        await store.set_quota("bob@example.com", 10, None)

    bob.with_store(tiny_quota)
    line = bob.fails("message", "add", "bob@example.com", input=message(), code=EX_TEMPFAIL)
    assert "quota" in line
    assert json_of(bob.ok("message", "list", "bob@example.com", "--json")) == []


def test_message_add_refuses_oversized(bob: Pillarbox) -> None:
    bob.config.write_text('data_dir = "data"\n[listen]\n[limits]\nmax_message_size = "1K"\n'
                          + store_section(bob.data_dir))
    line = bob.fails("message", "add", "bob@example.com", input=message(body="x" * 2000))
    assert "max_message_size" in line


def test_mailbox_share_gives_rights_within_the_domain(bob: Pillarbox) -> None:
    shared = json_of(bob.ok("mailbox", "share", "bob@example.com", "Archive", "alice@example.com", "lr", "--json"))
    assert shared == {"owner": "bob@example.com", "folder": "Archive", "acl": {"alice@example.com": "lr"},
                      "seen_by_grantee_as": "Shared/bob@example.com/Archive"}
    out = bob.ok("mailbox", "share", "bob@example.com", "Archive", "alice@example.com", "+ste").out
    assert out.splitlines()[0] == "alice@example.com\tlrsted"
    assert "rights" in bob.fails("mailbox", "share", "bob@example.com", "Archive", "alice@example.com", "lQ")
    assert "every right" in bob.fails("mailbox", "share", "bob@example.com", "Archive", "bob@example.com", "l")
    bob.ok("domain", "add", "example.org")
    bob.ok("user", "add", "carol@example.org", "--password-stdin", input="a long enough password 12\n")
    assert "within a domain" in bob.fails("mailbox", "share", "bob@example.com", "Archive", "carol@example.org", "l")
    assert "no folder" in bob.fails("mailbox", "share", "bob@example.com", "Nope", "alice@example.com", "l")
    bob.ok("mailbox", "share", "bob@example.com", "Archive", "alice@example.com", "none")

    async def shared_with_alice(store: SQLiteStore) -> list[str]:
        return [s.mailbox.name for s in await store.shared_with("alice@example.com")]

    assert bob.with_store(shared_with_alice) == []
