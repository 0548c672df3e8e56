"""Messages shaped to hurt the server's parsers, read back over the wire with imaplib."""

from __future__ import annotations

from tests.imap_wire.conftest import IMAPServer


def test_thread_of_a_message_with_1500_references(server: IMAPServer):
    """It used to raise RecursionError (NO [SERVERBUG]) for that mailbox until the message went."""
    refs = " ".join(f"<r{i}@x.test>" for i in range(1500))
    client = server.login()
    try:
        assert client.create("Deep")[0] == "OK"
        message = f"Message-ID: <m@x.test>\r\nReferences: {refs}\r\nSubject: deep\r\n\r\nbody\r\n".encode()
        assert client.append("Deep", None, None, message)[0] == "OK"
        assert client.append("Deep", None, None, b"Message-ID: <r0@x.test>\r\nSubject: root\r\n\r\nx\r\n")[0] == "OK"
        client.select("Deep", readonly=True)
        assert client.thread("REFERENCES", "UTF-8", "ALL") == ("OK", [b"(2 1)"])  # its first reference is kept
    finally:
        client.logout()


def test_header_field_folded_over_50000_lines_is_fetched_whole(server: IMAPServer):
    field = b"X-Big: start\r\n" + b" b\r\n" * 50_000
    client = server.login()
    try:
        assert client.create("Folded")[0] == "OK"
        assert client.append("Folded", None, None, field + b"Subject: s\r\n\r\nbody\r\n")[0] == "OK"
        client.select("Folded", readonly=True)
        typ, data = client.fetch("1", "(BODY.PEEK[HEADER.FIELDS (X-BIG)])")
        assert typ == "OK" and data[0][1] == field + b"\r\n"
    finally:
        client.logout()
