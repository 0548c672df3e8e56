"""pillarbox import: mbox files and Maildirs (with Maildir++ subfolders), and refusals."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.cli.conftest import Pillarbox, json_of, message


def write_mbox(path: Path, count: int) -> None:
    with path.open("wb") as f:
        for n in range(count):
            f.write(b"From alice@example.org Fri Nov 27 10:00:00 2026\n")
            f.write(message(f"m{n}", f"Message number {n}.\n"))
            f.write(b"\n")


def test_import_mbox_with_flags_quoting_and_dates(bob: Pillarbox, tmp_path: Path) -> None:
    mbox = tmp_path / "old.mbox"
    mbox.write_bytes(
        b"From alice@example.org Sat Jan  3 01:05:34 1996\n"
        b"Subject: one\nStatus: RO\nX-Status: AF\n\n"
        b">From the start\n>>From quoted twice\nFrom here unquoted (mboxo)\n\n"
        b"From bob@example.com Tue Feb 10 12:00:00 +0200 2004\n"
        b"Subject: two\nDate: Mon, 1 Mar 2004 10:00:00 +0000\n\nbody two\n\n"
        b"From nobody Thu Jan  1 00:00:00 bogus\n"  # no date in From_: Date: header is used
        b"Subject: three\nDate: Mon, 1 Mar 2004 10:00:00 +0000\nStatus: O\n\nbody three\n"
    )
    result = bob.ok("import", "bob@example.com", str(mbox))
    assert result.out == "imported 3 messages into bob@example.com/INBOX\n"
    listed = sorted(json_of(bob.ok("message", "list", "bob@example.com", "--json")), key=lambda m: m["subject"])
    one, three, two = listed
    assert one["flags"] == ["\\Answered", "\\Flagged", "\\Seen"] and two["flags"] == three["flags"] == []
    assert one["internal_date"] == "1996-01-03T01:05:34+00:00"
    assert two["internal_date"] == "2004-02-10T10:00:00+00:00"
    assert three["internal_date"] == "2004-03-01T10:00:00+00:00"
    got = bob.ok("message", "get", "bob@example.com", str(one["uid"])).stdout
    assert got == (b"Subject: one\r\nStatus: RO\r\nX-Status: AF\r\n\r\n"
                   b"From the start\r\n>From quoted twice\r\nFrom here unquoted (mboxo)\r\n")


def test_import_into_a_new_folder(bob: Pillarbox, tmp_path: Path) -> None:
    mbox = tmp_path / "lists.mbox"
    write_mbox(mbox, 3)
    result = bob.ok("import", "bob@example.com", str(mbox), "--folder", "Lists/Python")
    assert result.out == ("created folder bob@example.com/Lists/Python\n"
                          "imported 3 messages into bob@example.com/Lists/Python\n")
    assert len(json_of(bob.ok("message", "list", "bob@example.com", "--folder", "Lists/Python", "--json"))) == 3
    folders = {f["name"]: f for f in json_of(bob.ok("mailbox", "list", "bob@example.com", "--json"))}
    assert folders["Lists/Python"]["subscribed"] is True  # imported mail shows in clients listing subscribed ones


@pytest.mark.slow
def test_import_10000_message_mbox(bob: Pillarbox, tmp_path: Path) -> None:
    mbox = tmp_path / "big.mbox"
    write_mbox(mbox, 10_000)
    started = time.monotonic()
    result = bob.ok("import", "bob@example.com", str(mbox))
    elapsed = time.monotonic() - started
    print(f"\nimported 10000 messages ({mbox.stat().st_size} bytes) in {elapsed:.1f}s: "
          f"{10_000 / elapsed:.0f} messages/s (including process start)")
    assert result.out == "imported 10000 messages into bob@example.com/INBOX\n"
    inbox = next(f for f in json_of(bob.ok("mailbox", "list", "bob@example.com", "--json")) if f["name"] == "INBOX")
    assert inbox["messages"] == 10_000 and inbox["uidnext"] == 10_001
    listed = json_of(bob.ok("message", "list", "bob@example.com", "--json"))
    assert sorted(int(m["subject"][1:]) for m in listed) == list(range(10_000))


def maildir(path: Path, files: dict[str, bytes], mtime: float = 1_000_000_000) -> Path:
    for sub in ("cur", "new", "tmp"):
        (path / sub).mkdir(parents=True, exist_ok=True)
    for name, data in files.items():
        (path / name).write_bytes(data)
        os.utime(path / name, (mtime, mtime))
    return path


def test_import_maildir_with_flags_and_subfolders(bob: Pillarbox, tmp_path: Path) -> None:
    root = maildir(tmp_path / "Maildir", {
        "new/1600000003.M1P1.host": message("new one"),
        "cur/1600000001.M1P1.host:2,S": message("seen"),
        "cur/1600000002.M1P1.host,S=300:2,FRSa": message("flagged answered seen"),
        "cur/1600000004.M1P1.host!2,DPT": message("draft forwarded deleted"),
        "tmp/1600000005.M1P1.host": message("in delivery: skipped"),
    })
    maildir(root / ".Lists.Caf&AOk-", {"cur/1600000010.M1.host:2,": message("in subfolder")}, 1_200_000_000)
    maildir(root / ".Sent", {"cur/1600000011.M1.host:2,S": message("sent")})
    (root / "dovecot-uidlist").write_text("3 V1 N1\n")
    result = bob.ok("import", "bob@example.com", str(root))
    assert "created folder bob@example.com/Lists/Café" in result.out
    assert result.out.splitlines()[-1] == (
        "imported 6 messages into bob@example.com (INBOX: 4, Lists/Café: 1, Sent: 1)")
    inbox = json_of(bob.ok("message", "list", "bob@example.com", "--json"))
    assert {m["subject"]: m["flags"] for m in inbox} == {
        "seen": ["\\Seen"],
        "flagged answered seen": ["\\Answered", "\\Flagged", "\\Seen"],
        "new one": [],
        "draft forwarded deleted": ["$Forwarded", "\\Deleted", "\\Draft"],
    }
    assert all(m["internal_date"] == "2001-09-09T01:46:40+00:00" for m in inbox)
    sub = json_of(bob.ok("message", "list", "bob@example.com", "--folder", "Lists/Café", "--json"))
    assert [(m["subject"], m["internal_date"]) for m in sub] == [("in subfolder", "2008-01-10T21:20:00+00:00")]
    stored = bob.ok("message", "get", "bob@example.com", "1", "--folder", "Lists/Café").stdout
    assert stored == message("in subfolder", eol="\r\n")
    assert len(json_of(bob.ok("message", "list", "bob@example.com", "--folder", "Sent", "--json"))) == 1


def test_import_maildir_into_a_folder_nests_subfolders(bob: Pillarbox, tmp_path: Path) -> None:
    root = maildir(tmp_path / "Maildir", {"cur/1.a:2,S": message("top")})
    maildir(root / ".Sub", {"new/2.b": message("below")})
    result = bob.ok("import", "bob@example.com", str(root), "--folder", "Old")
    assert result.out.splitlines()[-1] == "imported 2 messages into bob@example.com (Old: 1, Old/Sub: 1)"


def test_import_refusals(bob: Pillarbox, tmp_path: Path) -> None:
    plain_dir = tmp_path / "photos"
    plain_dir.mkdir()
    (plain_dir / "cat.jpg").write_bytes(b"\xff\xd8\xff")
    assert "not a Maildir" in bob.fails("import", "bob@example.com", str(plain_dir))
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(4096).replace(b"\n", b"") + b"\nFrom x Fri Nov 27 10:00:00 2026\n")
    line = bob.fails("import", "bob@example.com", str(garbage))
    assert "not an mbox file" in line and "nothing imported" in line
    assert "no such file" in bob.fails("import", "bob@example.com", str(tmp_path / "missing"))
    assert "no user carol@example.com" in bob.fails("import", "carol@example.com", str(garbage))
    assert json_of(bob.ok("message", "list", "bob@example.com", "--json")) == []


def test_import_empty_mbox_imports_nothing(bob: Pillarbox, tmp_path: Path) -> None:
    empty = tmp_path / "empty.mbox"
    empty.write_bytes(b"")
    assert bob.ok("import", "bob@example.com", str(empty)).out == f"no messages in {empty}; nothing imported\n"


def test_import_stops_cleanly_at_quota(bob: Pillarbox, tmp_path: Path) -> None:
    mbox = tmp_path / "many.mbox"
    write_mbox(mbox, 200)
    bob.ok("user", "quota", "bob@example.com", "10K")
    line = bob.fails("import", "bob@example.com", str(mbox))
    assert "over its storage quota" in line
    imported = int(line.split("; imported ")[1].split()[0])
    assert 0 < imported < 200
    assert f"imported {imported} messages into bob@example.com/INBOX before stopping" in line
    listed = json_of(bob.ok("message", "list", "bob@example.com", "--json"))
    assert len(listed) == imported and sum(m["size"] for m in listed) <= 10 * 1024


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads unreadable files")
def test_import_unreadable_file(bob: Pillarbox, tmp_path: Path) -> None:
    mbox = tmp_path / "secret.mbox"
    write_mbox(mbox, 1)
    mbox.chmod(0)
    assert "Permission denied" in bob.fails("import", "bob@example.com", str(mbox))
