"""Transcripts: exact lines in, exact lines out, every command in every state (habit 6).

Each transcript runs against a real store (a fresh account with two messages) through the real session,
over a fake connection (TLS or not). "C:" lines are sent one at a time; the "S:" lines that follow are
exactly what the server must write in answer. ``{v}`` stands for the INBOX UIDVALIDITY, ``{SP}`` for a
trailing space (the empty "+ " challenge).
"""

from __future__ import annotations

import base64

import pytest

from tests.pop3.helpers import PASSWORD, USER, Driver, make_services, message, populate_store

PLAIN = base64.b64encode(f"\0{USER}\0{PASSWORD}".encode()).decode()
LOGIN = (f"C: USER {USER}\nS: +OK send PASS\nC: PASS {PASSWORD}\n"
         "S: +OK maildrop locked and ready, 2 messages (332 octets)\n")
M1 = message(1).decode().replace("\r\n.", "\r\n..").rstrip("\r\n").split("\r\n")

TRANSCRIPTS: dict[str, tuple[bool, str]] = {
    "capa plaintext hides USER and SASL, offers STLS": (False, """
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE 0 USER
S: UTF8
S: STLS
S: IMPLEMENTATION Pillarbox-0.1.0
S: .
"""),
    "user and pass refused before TLS": (False, f"""
C: USER {USER}
S: -ERR plaintext authentication is not allowed without TLS; use STLS first
C: PASS {PASSWORD}
S: -ERR plaintext authentication is not allowed without TLS; use STLS first
C: AUTH PLAIN {PLAIN}
S: -ERR plaintext authentication is not allowed without TLS; use STLS first
"""),
    "stls then login": (False, f"""
C: STLS
S: +OK Begin TLS negotiation
C: STLS
S: -ERR TLS is already active
{LOGIN}"""),
    "utf8 then stls refused": (False, """
C: UTF8
S: +OK UTF8 enabled
C: STLS
S: -ERR STLS is not allowed after UTF8
"""),
    "capa over tls": (True, """
C: CAPA
S: +OK Capability list follows
S: TOP
S: UIDL
S: USER
S: SASL SCRAM-SHA-256 PLAIN LOGIN
S: RESP-CODES
S: AUTH-RESP-CODE
S: PIPELINING
S: EXPIRE 0 USER
S: UTF8 USER
S: IMPLEMENTATION Pillarbox-0.1.0
S: .
"""),
    "authorization state refusals": (True, f"""
C: PASS {PASSWORD}
S: -ERR USER first
C: STAT
S: -ERR command not valid in this state
C: RETR 1
S: -ERR command not valid in this state
C: APOP bob c4c9334bac560ecc979e58001b3e22fb
S: -ERR APOP is not supported; use USER/PASS or AUTH over TLS
C: USER {USER}
S: +OK send PASS
C: PASS nope
S: -ERR [AUTH] authentication failed
C: PASS {PASSWORD}
S: -ERR USER first
C: USER nobody@example.com
S: +OK send PASS
C: PASS {PASSWORD}
S: -ERR [AUTH] authentication failed
C: FOO
S: -ERR unknown command
C: QUIT
S: +OK mx.test closing connection
"""),
    "auth list and plain": (True, f"""
C: AUTH
S: +OK authentication mechanisms follow
S: SCRAM-SHA-256
S: PLAIN
S: LOGIN
S: .
C: AUTH CRAM-MD5
S: -ERR unrecognized authentication mechanism
C: AUTH PLAIN
S: +{{SP}}
C: *
S: -ERR authentication cancelled
C: AUTH PLAIN !!!
S: -ERR malformed authentication exchange
C: AUTH PLAIN {base64.b64encode(f"{chr(0)}{USER}{chr(0)}wrong".encode()).decode()}
S: -ERR [AUTH] authentication failed
C: AUTH PLAIN {PLAIN}
S: +OK maildrop locked and ready, 2 messages (332 octets)
C: AUTH PLAIN {PLAIN}
S: -ERR command not valid in this state
"""),
    "auth login": (True, f"""
C: AUTH LOGIN
S: + VXNlcm5hbWU6
C: {base64.b64encode(USER.encode()).decode()}
S: + UGFzc3dvcmQ6
C: {base64.b64encode(PASSWORD.encode()).decode()}
S: +OK maildrop locked and ready, 2 messages (332 octets)
"""),
    "transaction commands": (True, LOGIN + """
C: STAT
S: +OK 2 332
C: LIST
S: +OK 2 messages (332 octets)
S: 1 166
S: 2 166
S: .
C: LIST 2
S: +OK 2 166
C: LIST 3
S: -ERR no such message
C: LIST 0
S: -ERR no such message
C: UIDL
S: +OK unique-id listing follows
S: 1 {v}.1
S: 2 {v}.2
S: .
C: UIDL 1
S: +OK 1 {v}.1
C: DELE 1
S: +OK message 1 deleted
C: DELE 1
S: -ERR message 1 already deleted
C: RETR 1
S: -ERR message 1 already deleted
C: STAT
S: +OK 1 166
C: LIST
S: +OK 1 messages (166 octets)
S: 2 166
S: .
C: RSET
S: +OK maildrop has 2 messages (332 octets)
C: NOOP
S: +OK
C: USER x
S: -ERR command not valid in this state
C: STLS
S: -ERR command not valid in this state
C: TOP 2 0
S: +OK top of message follows
S: From: alice@example.org
S: To: bob@example.com
S: Subject: test 2
S: Message-ID: <m2@example.org>
S:
S: .
C: RETR x
S: -ERR invalid message number
C: QUIT
S: +OK mx.test closing connection, 0 messages deleted
"""),
}


@pytest.mark.parametrize("name", list(TRANSCRIPTS))
def test_transcript(name: str, with_store):
    tls, script = TRANSCRIPTS[name]

    async def body(store) -> None:
        inbox = await populate_store(store, [message(1), message(2)])
        mailbox = await store.get_mailbox_by_id(inbox)
        driver = Driver(make_services(store), tls=tls)
        assert await driver.start() == b"+OK mx.test Pillarbox POP3 server ready\r\n"
        for client, expected in _exchanges(script.replace("{v}", str(mailbox.uidvalidity))):
            assert (await driver.send(client)).decode() == expected, client
        await driver.close()

    with_store(body)


def _exchanges(script: str) -> list[tuple[bytes, str]]:
    pairs: list[tuple[bytes, str]] = []
    for line in script.strip("\n").split("\n"):
        if line.startswith("C: "):
            pairs.append((line[3:].encode() + b"\r\n", ""))
        elif line.startswith("S: ") or line == "S:":
            client, expected = pairs[-1]
            pairs[-1] = (client, expected + line[3:].replace("{SP}", " ") + "\r\n")
    return pairs


def test_retr_sends_the_stored_bytes_dot_stuffed(with_store):
    async def body(store) -> None:
        await populate_store(store, [message(1)])
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        await driver.login()
        out = await driver.send(b"RETR 1\r\n")
        assert out == b"+OK 166 octets\r\n" + "\r\n".join(M1).encode() + b"\r\n.\r\n"
        await driver.close()

    with_store(body)


def test_a_message_with_utf8_header_fields_is_downgraded_outside_utf8_mode(with_store):
    """RFC 6856 2.1: outside UTF-8 mode RETR and TOP send the RFC 6857 surrogate (it was -ERR [UTF8],
    and mpop and fetchmail then never delivered the message). Messages with ASCII headers (an 8-bit
    body is fine) and UTF-8 mode get the stored bytes."""
    international = "From: jörg@example.org\r\nSubject: Grüße\r\n\r\nHallo\r\nzweite Zeile\r\n".encode()
    eight_bit_body = "From: a@example.org\r\nSubject: plain\r\n\r\nGrüße im Text\r\n".encode()
    surrogate = (b"From: =?UTF-8?B?asO2cmdAZXhhbXBsZS5vcmc=?= :;\r\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\r\n"
                 b"\r\nHallo\r\nzweite Zeile\r\n")

    async def body(store) -> None:
        await populate_store(store, [international, eight_bit_body])
        driver = Driver(make_services(store), tls=True)
        await driver.start()
        await driver.login()
        assert await driver.send(b"RETR 1\r\n") == b"+OK %d octets\r\n" % len(surrogate) + surrogate + b".\r\n"
        top = surrogate.partition(b"\r\n\r\n")[0] + b"\r\n\r\nHallo\r\n"
        assert await driver.send(b"TOP 1 1\r\n") == b"+OK top of message follows\r\n" + top + b".\r\n"
        # LIST describes the stored message (RFC 1939 11: an approximate size), UIDL is the same message's
        assert await driver.send(b"LIST 1\r\n") == b"+OK 1 %d\r\n" % len(international)
        assert (await driver.send(b"RETR 2\r\n")).endswith(eight_bit_body + b".\r\n")
        await driver.close()

        driver = Driver(make_services(store), tls=True)
        await driver.start()
        assert await driver.send(b"UTF8\r\n") == b"+OK UTF8 enabled\r\n"
        await driver.login()
        assert (await driver.send(b"RETR 1\r\n")).endswith(international + b".\r\n")
        await driver.close()

