from __future__ import annotations


def message(subject: str = "hello", body: str = "Hi there.\r\n", sender: str = "alice@example.org") -> bytes:
    return (
        f"From: Alice <{sender}>\r\nTo: bob@example.com\r\nSubject: {subject}\r\n"
        f"Date: Fri, 27 Nov 2026 10:00:00 +0000\r\nMessage-ID: <{subject.replace(' ', '.')}@example.org>\r\n"
        f"\r\n{body}"
    ).encode()
