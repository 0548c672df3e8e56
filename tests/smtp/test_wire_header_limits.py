"""The header section's limits at the end of DATA / BDAT: 552 5.3.4 for its size, 554 5.6.0 for its lines.

Defaults (docs/security.md): 256 KiB and 5,000 lines. A refused message is not stored and the
session goes on; a header just inside both limits is delivered whole.
"""

from __future__ import annotations

import smtplib

from tests.smtp.conftest import MailServer


def folded_field(lines: int, width: int) -> bytes:
    """One field folded over ``lines`` continuation lines of ``width`` bytes each (CRLF included)."""
    return b"X-Big: start\r\n" + (b" " + b"b" * (width - 3) + b"\r\n") * lines


def send(server: MailServer, message: bytes, bdat: bool = False) -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", server.smtp, timeout=30) as client:
        client.ehlo("client.test")
        client.mail("a@remote.test")
        client.rcpt("bob@example.com")
        if bdat:
            client.putcmd(f"BDAT {len(message)} LAST")
            client.send(message)
            reply = client.getreply()
        else:
            reply = client.data(message)
        assert client.noop()[0] == 250  # the session goes on
        return reply


def test_header_over_256k_is_refused_with_552(server: MailServer):
    before = len(server.messages("bob@example.com"))
    message = folded_field(3500, 78) + b"Subject: big\r\n\r\nbody\r\n"  # 273 KB in 3,502 lines
    for bdat in (False, True):
        code, text = send(server, message, bdat)
        assert (code, text[:5]) == (552, b"5.3.4")
    assert len(server.messages("bob@example.com")) == before


def test_header_of_more_than_5000_lines_is_refused_with_554(server: MailServer):
    before = len(server.messages("bob@example.com"))
    code, text = send(server, folded_field(5000, 4) + b"Subject: long\r\n\r\nbody\r\n")  # 20 KB, 5,003 lines
    assert (code, text[:5]) == (554, b"5.6.0")
    assert len(server.messages("bob@example.com")) == before


def test_header_just_inside_the_limits_is_delivered(server: MailServer):
    header = folded_field(3300, 78) + b"Subject: fits\r\n"  # with the empty line: 257,431 bytes, 3,303 lines
    code, _text = send(server, header + b"\r\nbody\r\n")
    assert code == 250
    assert server.messages("bob@example.com")[-1].endswith(header + b"\r\nbody\r\n")
