"""IMAP over the wire with imaplib: login rules, folders, APPEND/FETCH byte-exactness, flags, SEARCH."""

from __future__ import annotations

import imaplib
import re
import socket

import pytest

from tests.imap_wire.conftest import IMAPServer
from tests.smtp.conftest import PASSWORD

MULTIPART = (
    b"From: Alice <alice@remote.test>\r\nTo: Bob <bob@example.com>\r\nSubject: =?utf-8?q?Gr=C3=BC=C3=9Fe?=\r\n"
    b"Date: Fri, 27 Nov 2026 10:00:00 +0100\r\nMessage-ID: <m1@remote.test>\r\nMIME-Version: 1.0\r\n"
    b"Content-Type: multipart/mixed; boundary=\"XX\"\r\n\r\npreamble\r\n--XX\r\n"
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nthe quick brown fox\r\n--XX\r\n"
    b"Content-Type: application/octet-stream; name=\"a.bin\"\r\nContent-Transfer-Encoding: base64\r\n"
    b"Content-Disposition: attachment; filename=\"a.bin\"\r\n\r\nAAECAw==\r\n--XX--\r\n"
)


def test_no_login_before_tls_on_143(server: IMAPServer):
    client = imaplib.IMAP4("127.0.0.1", server.imap, timeout=15)
    try:
        assert "LOGINDISABLED" in client.capabilities and "STARTTLS" in client.capabilities
        assert not any(c.startswith("AUTH=") for c in client.capabilities)
        with pytest.raises(imaplib.IMAP4.error, match="PRIVACYREQUIRED"):
            client.login("bob@example.com", PASSWORD)
    finally:
        client.shutdown()


def test_implicit_tls_login_and_wrong_password(server: IMAPServer):
    client = imaplib.IMAP4_SSL("127.0.0.1", server.imaps, ssl_context=server.tls_context(), timeout=15)
    assert "AUTH=PLAIN" in client.capabilities
    with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
        client.login("bob@example.com", "wrong")
    assert client.login("bob@example.com", PASSWORD)[0] == "OK"
    client.logout()


def test_authenticate_plain_with_initial_response(server: IMAPServer):
    client = imaplib.IMAP4("127.0.0.1", server.imap, timeout=15)
    client.starttls(ssl_context=server.tls_context())
    typ, _ = client.authenticate("PLAIN", lambda _: f"\0carol@example.com\0{PASSWORD}".encode())
    assert typ == "OK" and client.state == "AUTH"
    client.logout()


def test_special_use_folders_listed(server: IMAPServer):
    client = server.login()
    _typ, lines = client.list()
    listed = {line.decode().rsplit(" ", 1)[1]: line.decode() for line in lines}
    assert set(listed) >= {"INBOX", "Drafts", "Sent", "Trash", "Junk", "Archive"}
    assert "\\Sent" in listed["Sent"] and "\\Trash" in listed["Trash"]
    client.logout()


def test_append_then_fetch_is_byte_exact_and_peek_keeps_unseen(server: IMAPServer):
    client = server.login()
    _, data = client.append("Drafts", "(\\Draft $Label1)", imaplib.Time2Internaldate(1795000000), MULTIPART)
    uid = int(re.search(rb"APPENDUID \d+ (\d+)", data[0]).group(1))
    client.select("Drafts")
    _, data = client.uid("FETCH", str(uid), "(RFC822.SIZE BODY.PEEK[] FLAGS INTERNALDATE)")
    assert data[0][1] == MULTIPART
    assert f"RFC822.SIZE {len(MULTIPART)}".encode() in data[0][0]
    assert b"\\Draft" in data[1] and b"$Label1" in data[1] and b"\\Seen" not in data[0][0] + data[1]
    _, data = client.uid("FETCH", str(uid), "(BODY[1] BODY[2.MIME] BODY.PEEK[1]<4.5> BINARY[2])")
    blob = b"".join(part[1] if isinstance(part, tuple) else b"" for part in data)
    assert b"the quick brown fox" in blob and b"quick" in blob and b"\x00\x01\x02\x03" in blob
    _typ, data = client.uid("FETCH", str(uid), "(FLAGS)")
    assert b"\\Seen" in data[0]  # BODY[1] (not PEEK) set it
    client.logout()


def test_bodystructure_and_envelope(server: IMAPServer):
    client = server.login()
    client.append("Archive", None, None, MULTIPART)
    client.select("Archive")
    _typ, data = client.fetch("*", "(ENVELOPE BODYSTRUCTURE)")
    text = data[0].decode()
    assert '"=?utf-8?q?Gr=C3=BC=C3=9Fe?="' in text  # ENVELOPE keeps encoded words raw (RFC 9051 7.5.2)
    assert '(("Alice" NIL "alice" "remote.test"))' in text
    assert '("text" "plain" ("charset" "utf-8") NIL NIL "7BIT" 19 ' in text
    assert '"application" "octet-stream" ("name" "a.bin") NIL NIL "BASE64" 8 ' in text
    assert '"mixed" ("boundary" "XX")' in text
    client.logout()


def test_store_flags_and_search(server: IMAPServer):
    client = server.login("carol@example.com")
    client.select("INBOX")
    for n, subject in enumerate(["apples", "bananas", "cherries"]):
        body = f"From: Fruit {n} <fruit{n}@farm.test>\r\nSubject: {subject}\r\n\r\nWe sell {subject} cheap.\r\n"
        client.append("INBOX", None, None, body.encode())
    client.noop()
    assert client.search(None, "ALL")[1] == [b"1 2 3"]
    assert client.search(None, "SUBJECT", "BANANAS")[1] == [b"2"]
    assert client.search(None, "FROM", "fruit2@farm")[1] == [b"3"]
    assert client.search(None, "BODY", '"sell cherries"')[1] == [b"3"]
    assert client.search(None, "OR", "SUBJECT", "apples", "SUBJECT", "cherries")[1] == [b"1 3"]
    client.store("2", "+FLAGS", "(\\Flagged)")
    assert client.search(None, "FLAGGED")[1] == [b"2"]
    assert client.search(None, "NOT", "FLAGGED", "UNSEEN")[1] == [b"1 3"]
    assert client.uid("SEARCH", "UID", "2:*")[1] == [b"2 3"]
    assert client.search(None, "LARGER", "10000")[1] == [b""]
    client.logout()


def test_folder_management(server: IMAPServer):
    client = server.login()
    assert client.create("Projects/2026")[0] == "OK"
    assert client.create("Projects")[0] == "NO"  # created as the parent already
    assert client.rename("Projects", "Work")[0] == "OK"
    names = [line.decode().rsplit(" ", 1)[1] for line in client.list('""', "Work*")[1]]
    assert names == ["Work", "Work/2026"]
    assert client.create('"bad*name"')[0] == "NO"
    assert client.delete("INBOX")[0] == "NO"
    assert client.subscribe("Work/2026")[0] == "OK"
    assert client.unsubscribe("Work")[0] == "OK"
    lsub = [line.decode().rsplit(" ", 1)[1] for line in client.lsub('""', "Work*")[1]]
    assert lsub == ["Work/2026"]
    assert client.delete("Work/2026")[0] == "OK"
    assert client.select("Nope")[0] == "NO"
    client.logout()


def test_copy_move_and_expunge(server: IMAPServer):
    client = server.login()
    client.create("Moves")
    for n in range(3):
        client.append("Moves", None, None, f"Subject: move {n}\r\n\r\nbody\r\n".encode())
    client.select("Moves")
    typ, _ = client.uid("MOVE", "1:2", "Trash")
    assert typ == "OK"
    assert any(b"COPYUID" in line for line in client.response("OK")[1])
    assert client.response("EXPUNGE")[1] == [b"2", b"1"]  # highest first, so numbers stay valid
    _, data = client.search(None, "ALL")
    assert data == [b"1"]
    client.store("1", "+FLAGS", "(\\Deleted)")
    assert client.expunge()[1] == [b"1"]
    _, data = client.status("Moves", "(MESSAGES UIDNEXT)")
    assert b"MESSAGES 0 UIDNEXT 4" in data[0]
    client.logout()


def test_malformed_commands_get_bad_and_the_session_goes_on(server: IMAPServer):
    with socket.create_connection(("127.0.0.1", server.imap), timeout=10) as sock:
        sock.recv(4096)
        sock.sendall(b"a1 FOO\r\n\x00\xff junk\r\na2 NOOP\r\n")
        data = b""
        while b"a2 OK" not in data:
            data += sock.recv(4096)
        assert b"a1 BAD" in data and b"BAD" in data.split(b"\r\n")[1]


def test_uids_grow_and_are_never_reused(server: IMAPServer):
    client = server.login()
    client.create("Counter")
    client.append("Counter", None, None, b"Subject: one\r\n\r\nx\r\n")
    client.select("Counter")
    client.store("1", "+FLAGS", "(\\Deleted)")
    client.expunge()
    _typ, data = client.append("Counter", None, None, b"Subject: two\r\n\r\nx\r\n")
    assert re.search(rb"APPENDUID \d+ 2\]", data[0])
    client.logout()


def test_a_nul_stored_before_binary_parts_were_encoded_never_reaches_body(server: IMAPServer):
    """Mail stored as it came, NUL included (before mime.transport): BODY[] and RFC822 are an nstring
    and go out as a plain literal with 0x80 for NUL, the sizes unchanged; BINARY[] keeps the octets."""
    import asyncio

    from pillarbox.store.records import DeliveryTarget
    from tests.stores import open_at

    raw = (b"Subject: old\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n"
           b"\r\n\x00a\x00\r\n")

    async def store_as_it_came() -> None:
        store = await open_at(server.data_dir)
        try:
            account = await store.get_account("dave@example.com")
            inbox = await store.get_mailbox(account.id, "INBOX")
            await store.deliver(raw, [DeliveryTarget(inbox.id)])
        finally:
            await store.close()

    asyncio.run(store_as_it_came())
    client = imaplib.IMAP4_SSL("127.0.0.1", server.imaps, ssl_context=server.tls_context(), timeout=15)
    client.login("dave@example.com", PASSWORD)
    client.select("INBOX", readonly=True)
    typ, data = client.fetch("1", "(RFC822.SIZE BODY.PEEK[] BODY.PEEK[1])")
    assert typ == "OK"
    assert data[0][0].endswith(b"BODY[] {%d}" % len(raw)) and data[0][1] == raw.replace(b"\x00", b"\x80")
    assert b"RFC822.SIZE %d" % len(raw) in data[0][0]
    assert data[1][1] == b"\x80a\x80\r\n"
    client.logout()
