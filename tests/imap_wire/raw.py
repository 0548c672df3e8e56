"""A raw IMAP client over implicit TLS for exact-bytes tests, and the transcript runner.

Transcript files (``transcripts/*.txt``) are conversations after login, one line each:

    # a comment
    C: a1 SELECT INBOX           the client sends this line; ``\\r\\n`` inside it is a CRLF, and
                                  ``<<text>>`` is sent as the literal ``{n+}\\r\\ntext`` (LITERAL+)
    S: * 0 EXISTS                 the server's next line, exactly
    S~ \\* OK \\[UIDVALIDITY (?P<v>\\d+)\\].*   the server's next line matches this regular expression;
                                  named groups are remembered and ``${v}`` in later lines is their value
    U: full@example.com          (first line only) log in as this user instead of bob

After each client line the runner reads exactly the server lines written below it. Every
transcript runs in a fresh account-free sandbox: it logs in as ``user`` and should create the
folders it uses, so transcripts do not depend on each other.
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
    """A transcript client line as bytes: escapes decoded, ``<<text>>`` turned into a LITERAL+."""
    data = line.replace("\\r\\n", "\r\n").encode("utf-8")
    return re.sub(rb"<<(.*?)>>", lambda m: b"{%d+}\r\n" % len(m.group(1)) + m.group(1), data, flags=re.DOTALL)


def run_transcript(client_for: Callable[[str], RawIMAP], text: str) -> None:
    """Play ``text`` (transcript format above) and assert every server line."""
    user = "bob@example.com"
    steps: list[tuple[str, list[tuple[str, str]]]] = []
    for number, raw in enumerate(text.splitlines(), 1):
        if not raw.strip() or raw.startswith("#"):
            continue
        kind, _, rest = raw.partition(" ")
        if kind == "U:":
            user = rest.strip()
        elif kind == "C:":
            steps.append((rest, []))
        elif kind in ("S:", "S~"):
            steps[-1][1].append((kind, rest))
        else:
            raise AssertionError(f"line {number}: expected C:, S: or S~")
    client = client_for(user)
    values: dict[str, str] = {}

    def fill(line: str) -> str:
        return re.sub(r"\$\{(\w+)\}", lambda m: values[m.group(1)], line)

    try:
        for sent, expected in steps:
            client.send(expand(fill(sent)) + b"\r\n")
            for kind, want in expected:
                got = client.line().decode("utf-8", "replace")
                if kind == "S:":
                    want = want.replace("\\r\\n", "\r\n")  # a literal in the response
                    assert got == fill(want), f"after {sent!r}: expected {fill(want)!r}, got {got!r}"
                    continue
                found = re.fullmatch(fill(want), got)
                assert found, f"after {sent!r}: expected /{fill(want)}/, got {got!r}"
                values.update(found.groupdict())
    finally:
        client.close()
