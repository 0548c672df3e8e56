"""Extension scenarios beyond one transcript: COMPRESS with a real zlib peer, MULTIAPPEND atomicity
under quota, and a QRESYNC resync after many changes made while the client was away."""

from __future__ import annotations

import random
import re
import zlib

from tests.imap_wire.conftest import IMAPServer
from tests.imap_wire.raw import RawIMAP
from tests.server_process import pillarbox


def raw(server: IMAPServer, user: str = "carol@example.com") -> RawIMAP:
    return RawIMAP(server.imaps, server.tls_context(), user)


def test_compress_deflate_both_ways_with_pipelined_command(server: IMAPServer):
    client = raw(server)
    try:
        client.send(b"z1 COMPRESS DEFLATE\r\n")
        assert client.line() == b"z1 OK DEFLATE active"  # the OK itself is not compressed
        client.deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
        client.inflate = zlib.decompressobj(-15)
        # two commands in one compressed write: the server must split them after inflating
        assert client.command("z2 NOOP\r\nz3 CAPABILITY")[-1] == b"z2 OK NOOP completed"
        lines = [client.line(), client.line()]
        assert lines[0].startswith(b"* CAPABILITY ") and b"COMPRESS=DEFLATE" in lines[0]
        assert lines[1] == b"z3 OK CAPABILITY completed"
        body = b"Subject: big\r\n\r\n" + b"compressible line\r\n" * 5000
        assert b"APPENDUID" in client.command(b"z4 APPEND INBOX {%d+}\r\n" % len(body) + body)[-1]
        assert client.command("z5 COMPRESS DEFLATE")[-1] == b"z5 BAD Compression is already active"
        assert client.command("z6 LOGOUT")[-1] == b"z6 OK LOGOUT completed"
    finally:
        client.close()


def test_compressed_bytes_pipelined_behind_compress_are_inflated(server: IMAPServer):
    client = raw(server)
    try:
        deflate = zlib.compressobj(6, zlib.DEFLATED, -15)
        early = deflate.compress(b"x1 NOOP\r\n") + deflate.flush(zlib.Z_SYNC_FLUSH)
        client.sock.sendall(b"x0 COMPRESS DEFLATE\r\n" + early)  # the framer holds them: take_buffered()
        assert client.line() == b"x0 OK DEFLATE active"
        client.deflate, client.inflate = deflate, zlib.decompressobj(-15)
        assert client.line() == b"x1 OK NOOP completed"
    finally:
        client.close()


def test_a_broken_deflate_stream_ends_the_session_cleanly(server: IMAPServer):
    client = raw(server)
    try:
        assert client.command("b1 COMPRESS DEFLATE")[-1] == b"b1 OK DEFLATE active"
        client.inflate = zlib.decompressobj(-15)
        client.sock.sendall(b"\xff\xfe not a deflate stream\r\n")
        assert client.line() == b"* BYE Invalid compressed data"
    finally:
        client.close()


def test_compress_bad_mechanism_leaves_plain_text(server: IMAPServer):
    client = raw(server)
    try:
        assert client.command("y1 COMPRESS LZMA")[-1] == b"y1 BAD Unknown compression mechanism"
        assert client.command("y2 NOOP")[-1] == b"y2 OK NOOP completed"
    finally:
        client.close()


def test_multiappend_is_all_or_nothing_under_quota(server: IMAPServer):
    pillarbox(server.process.config, "user", "quota", "dave@example.com", "2K")
    client = raw(server, "dave@example.com")
    try:
        client.command("a1 CREATE Atomic")
        small = b"Subject: s\r\n\r\n" + b"x" * 900 + b"\r\n"
        three = b"a2 APPEND Atomic" + b"".join(b" {%d+}\r\n" % len(small) + small for _ in range(3))
        assert client.command(three)[-1].startswith(b"a2 NO [OVERQUOTA]")
        assert client.command("a3 STATUS Atomic (MESSAGES SIZE)")[0] == b"* STATUS Atomic (MESSAGES 0 SIZE 0)"
        two = b"a4 APPEND Atomic" + b"".join(b" {%d+}\r\n" % len(small) + small for _ in range(2))
        assert re.fullmatch(rb"a4 OK \[APPENDUID \d+ 1:2\] APPEND completed", client.command(two)[-1])
        assert client.command("a5 COPY 1 Atomic")[-1].startswith(b"a5 BAD")  # nothing selected: wrong state
        client.command("a6 SELECT Atomic")
        assert client.command("a7 COPY 1 INBOX")[-1] == b"a7 NO [OVERQUOTA] Quota exceeded"
        assert client.command("a8 MOVE 1 INBOX")[-1].startswith(b"a8 OK")  # a move frees what it takes
        quota = client.command("a9 GETQUOTAROOT INBOX")
        assert quota[:2] == [b'* QUOTAROOT INBOX ""', b'* QUOTA "" (STORAGE 2 2)']
    finally:
        client.close()
        pillarbox(server.process.config, "user", "quota", "dave@example.com", "none")


def _state(client: RawIMAP, box: str) -> dict[int, bytes]:
    """UID → FLAGS of every message, as a full (slow) resync would learn them."""
    client.command(f"s1 EXAMINE {box}")
    found = {}
    for line in client.command("s2 UID FETCH 1:* (FLAGS)")[:-1]:
        match = re.fullmatch(rb"\* \d+ FETCH \(UID (\d+) FLAGS \((.*)\)\)", line)
        assert match, line
        found[int(match.group(1))] = match.group(2)
    return found


def test_qresync_after_a_day_offline_returns_exactly_the_difference(server: IMAPServer):
    rng = random.Random(7)
    phone, desktop = raw(server), raw(server)
    try:
        phone.command("p1 ENABLE QRESYNC")
        desktop.command("d1 CREATE Resync")
        batch = b"".join(b" {%d+}\r\nSubject: m%d\r\n\r\nx\r\n" % (len(b"Subject: m%d\r\n\r\nx\r\n" % n), n)
                         for n in range(200))
        desktop.command(b"d2 APPEND Resync" + batch)
        lines = phone.command("p2 SELECT Resync")
        uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", b"".join(lines)).group(1))
        modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", b"".join(lines)).group(1))
        before = _state(phone, "Resync")
        phone.command("p3 UNSELECT")
        # the phone goes offline; the desktop flags, deletes and appends
        desktop.command("d3 SELECT Resync")
        for uid in rng.sample(range(1, 201), 60):
            desktop.command(f"d4 UID STORE {uid} +FLAGS (\\Flagged $Seen{uid % 3})")
        gone = rng.sample(range(1, 201), 25)
        desktop.command(f"d5 UID STORE {','.join(map(str, gone))} +FLAGS.SILENT (\\Deleted)")
        desktop.command("d6 EXPUNGE")
        desktop.command(b"d7 APPEND Resync {17+}\r\nSubject: new\r\n\r\nx")
        # back online: one SELECT with the old state; apply the answer to the old copy
        answer = phone.command(f"p4 SELECT Resync (QRESYNC ({uidvalidity} {modseq} 1:200))")
        assert answer[-1] == b"p4 OK [READ-WRITE] SELECT completed"
        vanished = [line for line in answer if line.startswith(b"* VANISHED (EARLIER) ")]
        assert len(vanished) == 1
        vanished_uids = _uids(vanished[0].split()[-1].decode())
        assert vanished_uids == set(gone)
        resynced = {uid: flags for uid, flags in before.items() if uid not in vanished_uids}
        fetches = [re.fullmatch(rb"\* \d+ FETCH \(UID (\d+) FLAGS \((.*)\) MODSEQ \(\d+\)\)", line)
                   for line in answer if b" FETCH " in line]
        assert all(fetches)
        changed = {int(m.group(1)): m.group(2) for m in fetches}
        resynced.update(changed)
        truth = _state(desktop, "Resync")
        assert resynced == {uid: flags for uid, flags in truth.items() if uid <= 200}
        assert set(changed) == {uid for uid in truth if uid <= 200 and truth[uid] != before.get(uid)}
        assert b"* 176 EXISTS" in answer  # 200 - 25 + 1 new (the client fetches UIDs > 200 itself)
    finally:
        phone.close()
        desktop.close()


def _uids(text: str) -> set[int]:
    found: set[int] = set()
    for piece in text.split(","):
        low, _, high = piece.partition(":")
        found.update(range(int(low), int(high or low) + 1))
    return found


def test_idle_pushes_vanished_and_modseq_once_qresync_is_enabled(server: IMAPServer):
    phone, desktop = raw(server), raw(server)
    try:
        desktop.command("d1 CREATE Pushed")
        desktop.command(b"d2 APPEND Pushed {12+}\r\nSubject: a\r\n {12+}\r\nSubject: b\r\n")
        phone.command("p1 ENABLE QRESYNC")
        phone.command("p2 SELECT Pushed")
        phone.send(b"p3 IDLE\r\n")
        assert phone.line() == b"+ idling"
        desktop.command("d3 SELECT Pushed")
        desktop.command("d4 STORE 2 +FLAGS.SILENT (\\Flagged)")
        # the phone selected first: the messages are \\Recent to it (RFC 3501 2.3.2)
        assert re.fullmatch(rb"\* 2 FETCH \(FLAGS \(\\Flagged \\Recent\) UID 2 MODSEQ \(\d+\)\)", phone.line())
        desktop.command("d5 STORE 1 +FLAGS.SILENT (\\Deleted)")
        assert phone.line().startswith(b"* 1 FETCH (FLAGS (\\Deleted \\Recent) UID 1 MODSEQ (")
        desktop.command("d6 EXPUNGE")
        assert phone.line() == b"* VANISHED 1"
        phone.send(b"DONE\r\n")
        assert phone.line() == b"p3 OK IDLE terminated"
    finally:
        phone.close()
        desktop.close()


def test_metadata_count_limit_is_all_or_nothing(server: IMAPServer):  # RFC 5464 4.3 [METADATA TOOMANY]
    client = raw(server, "dave@example.com")
    try:
        assert client.command("m1 CREATE Counted")[-1].startswith(b"m1 OK")
        pairs = " ".join(f"/private/n{i} \"v\"" for i in range(95))
        assert client.command(f"m2 SETMETADATA Counted ({pairs})")[-1] == b"m2 OK SETMETADATA completed"
        more = " ".join(f"/private/m{i} \"v\"" for i in range(6))
        refused = client.command(f"m3 SETMETADATA Counted ({more})")[-1]
        assert refused == b"m3 NO [METADATA TOOMANY] Too many annotations"
        assert client.command("m4 GETMETADATA Counted /private/m0")[0] == b"* METADATA Counted (/private/m0 NIL)"
        five = " ".join(f"/private/m{i} \"v\"" for i in range(5))
        assert client.command(f"m5 SETMETADATA Counted ({five} /shared/one \"v\")")[-1].endswith(b"completed")
    finally:
        client.close()
