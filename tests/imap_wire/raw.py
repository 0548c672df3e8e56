"""A raw IMAP client over implicit TLS for exact-bytes tests, and the transcript runner.

Transcript files (``transcripts/*.txt``) are conversations after login, one line each:

    # a comment
    C: a1 SELECT INBOX           the client sends this line; ``\\r\\n`` inside it is a CRLF, ``\\xHH``
                                  the octet HH, and ``<<text>>`` is sent as the literal
                                  ``{n+}\\r\\ntext`` (LITERAL+)
    S: * 0 EXISTS                 the server's next line, exactly
    S~ \\* OK \\[UIDVALIDITY (?P<v>\\d+)\\].*   the server's next line matches this regular expression;
                                  named groups are remembered and ``${v}`` in later lines is their value
    U: full@example.com          (first line only) log in as this user instead of bob
    C2: b1 NOOP                   a digit after C, S names another session of the same user (opened
    S2: b1 OK NOOP completed      at its first line), for what one session sees of another's work

After each client line the runner reads exactly the server lines written below it, each from the
session the line names (a session in IDLE may be told of another's command). After a LOGOUT's lines
the server must close the connection without sending anything more. Every transcript runs in a fresh
account-free sandbox: it logs in as ``user`` and should create the folders it uses, so transcripts
do not depend on each other.
"""

from __future__ import annotations

import re
import socket
import ssl
import zlib
from collections.abc import Callable
from pathlib import Path

from tests.smtp.conftest import PASSWORD

TRANSCRIPTS = Path(__file__).parent / "transcripts"


class RawIMAP:
    def __init__(self, port: int, context: ssl.SSLContext, user: str | None = "bob@example.com") -> None:
        plain = socket.create_connection(("127.0.0.1", port), timeout=15)
        self.sock = context.wrap_socket(plain, server_hostname="mx.test")
        self.buffer = b""
        self.inflate: zlib._Decompress | None = None
        self.deflate: zlib._Compress | None = None
        self.greeting = self.line()
        if user is not None:
            self.command(f"t0 LOGIN {user} \"{PASSWORD}\"")

    def close(self) -> None:
        self.sock.close()

    def send(self, data: bytes) -> None:
        if self.deflate is not None:
            data = self.deflate.compress(data) + self.deflate.flush(zlib.Z_SYNC_FLUSH)
        self.sock.sendall(data)

    def _fill(self) -> None:
        chunk = self.sock.recv(65536)
        if not chunk:
            raise EOFError("server closed the connection")
        self.buffer += self.inflate.decompress(chunk) if self.inflate is not None else chunk

    def line(self) -> bytes:
        """One line without its CRLF; a literal's bytes follow in the same "line"."""
        while b"\r\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        found = re.search(rb"\{(\d+)\}$", line)
        if found:
            size = int(found.group(1))
            while len(self.buffer) < size:
                self._fill()
            line += b"\r\n" + self.buffer[:size]
            self.buffer = self.buffer[size:]
            line += self.line()
        return line

    def expect_closed(self, after: str) -> None:
        """The server closes the connection with nothing more to say."""
        try:
            while True:
                self._fill()
        except EOFError:
            pass
        assert self.buffer == b"", f"after {after!r}: the server sent {self.buffer!r} before closing"
        self.close()

    def command(self, text: str | bytes) -> list[bytes]:
        """Send a tagged command; the untagged lines and the tagged one (last)."""
        data = text.encode() if isinstance(text, str) else text
        tag = data.split(b" ", 1)[0]
        self.send(data + b"\r\n")
        lines = []
        while True:
            line = self.line()
            lines.append(line)
            if line.startswith(tag + b" "):
                return lines


def expand(line: str) -> bytes:
    """A transcript client line as bytes: escapes (``\\r\\n``, ``\\xHH`` for any octet) decoded,
    ``<<text>>`` turned into a LITERAL+ (``~<<text>>`` into a literal8)."""
    data = line.replace("\\r\\n", "\r\n").encode("utf-8")
    data = re.sub(rb"\\x([0-9A-Fa-f]{2})", lambda m: bytes([int(m.group(1), 16)]), data)
    return re.sub(rb"<<(.*?)>>", lambda m: b"{%d+}\r\n" % len(m.group(1)) + m.group(1), data, flags=re.DOTALL)


_LINE = re.compile(r"(?P<kind>[CS])(?P<session>\d*)(?P<mark>[:~]) ?(?P<rest>.*)")


def _parse(text: str) -> tuple[str, list[tuple[str, str, list[tuple[str, str, str]]]]]:
    """The user, and the steps: (session, client line, [(session, "S:" or "S~", expected line)])."""
    user = "bob@example.com"
    steps: list[tuple[str, str, list[tuple[str, str, str]]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        if raw.startswith("U: "):
            user = raw[3:].strip()
            continue
        found = _LINE.fullmatch(raw)
        if found is None or (found["kind"] == "C" and found["mark"] != ":"):
            raise AssertionError(f"line {number}: expected C:, S: or S~ (with a session number or not)")
        session = found["session"] or "1"
        if found["kind"] == "C":
            steps.append((session, found["rest"], []))
        else:
            steps[-1][2].append((session, "S" + found["mark"], found["rest"]))
    return user, steps


def run_transcript(client_for: Callable[[str], RawIMAP], text: str) -> None:
    """Play ``text`` (transcript format above) and assert every server line."""
    user, steps = _parse(text)
    clients: dict[str, RawIMAP] = {}
    values: dict[str, str] = {}

    def fill(line: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], line)

    def client(session: str) -> RawIMAP:
        if session not in clients:
            clients[session] = client_for(user)
        return clients[session]

    try:
        for session, sent, expected in steps:
            client(session).send(expand(fill(sent)) + b"\r\n")
            for reader, kind, want in expected:
                got = client(reader).line().decode("utf-8", "replace")
                if kind == "S:":
                    want = want.replace("\\r\\n", "\r\n")  # a literal in the response
                    assert got == fill(want), f"after {sent!r}: expected {fill(want)!r}, got {got!r}"
                    continue
                found = re.fullmatch(fill(want), got)
                assert found, f"after {sent!r}: expected /{fill(want)}/, got {got!r}"
                values.update(found.groupdict())
            if re.fullmatch(r"\S+ LOGOUT", sent, re.IGNORECASE):
                clients.pop(session).expect_closed(sent)
    finally:
        for open_client in clients.values():
            open_client.close()
