"""Small raw clients for the login wire tests: any source address on 127.0.0.0/8 (one "attacker" per
address), the exact reply line back, and a SCRAM-SHA-256 client (RFC 5802) for IMAP."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import smtplib
import socket
import ssl
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")
TLS = ssl._create_unverified_context()


def in_parallel(calls: list[Callable[[], T]]) -> list[T]:
    """Run each call on a thread of its own, all at once; their results in order."""
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda call: call(), calls))


class LineClient:
    def __init__(self, port: int, source: str = "127.0.0.1", tls: bool = True) -> None:
        plain = socket.create_connection(("127.0.0.1", port), timeout=30, source_address=(source, 0))
        self.sock: socket.socket = TLS.wrap_socket(plain) if tls else plain
        self.buffer = b""
        self.greeting = self.line()

    def __enter__(self) -> LineClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.sock.close()

    def send(self, line: str) -> None:
        self.sock.sendall(line.encode() + b"\r\n")

    def line(self) -> str:
        while b"\r\n" not in self.buffer:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\r\n", 1)
        return line.decode()

    def until_tagged(self, tag: str) -> list[str]:
        lines = [self.line()]
        while not lines[-1].startswith(tag + " ") and not lines[-1].startswith("+"):
            lines.append(self.line())
        return lines

    def command(self, text: str) -> list[str]:
        """An IMAP command: every line up to its tagged reply (or a continuation request)."""
        self.send(text)
        return self.until_tagged(text.split(" ", 1)[0])


def b64(data: str | bytes) -> str:
    return base64.b64encode(data.encode() if isinstance(data, str) else data).decode()


def plain(user: str, password: str) -> str:
    return b64(f"\0{user}\0{password}")


def imap_login(port: int, user: str, password: str, source: str = "127.0.0.1") -> str:
    """The tagged reply to LOGIN over implicit TLS."""
    with LineClient(port, source) as client:
        return client.command(f'a LOGIN "{user}" "{password}"')[-1]


def pop3_login(port: int, user: str, password: str, source: str = "127.0.0.1") -> str:
    with LineClient(port, source) as client:
        client.send(f"USER {user}")
        client.line()
        client.send(f"PASS {password}")
        return client.line()


def pop3_auth_plain(port: int, user: str, password: str, source: str = "127.0.0.1") -> str:
    with LineClient(port, source) as client:
        client.send(f"AUTH PLAIN {plain(user, password)}")
        return client.line()


def smtp_auth_plain(port: int, user: str, password: str, source: str = "127.0.0.1") -> tuple[int, bytes]:
    """AUTH PLAIN on an implicit-TLS submission port (465)."""
    with smtplib.SMTP_SSL("127.0.0.1", port, source_address=(source, 0), context=TLS, timeout=30) as client:
        client.ehlo()
        return client.docmd("AUTH", "PLAIN " + plain(user, password))


@dataclass
class ScramResult:
    server_first: dict[str, str]
    reply: list[str]
    server_final: str | None = None


def _hmac(key: bytes, message: bytes) -> bytes:
    return hmac.new(key, message, hashlib.sha256).digest()


def imap_scram(port: int, user: str, password: str, source: str = "127.0.0.1") -> ScramResult:
    """AUTHENTICATE SCRAM-SHA-256 over implicit TLS; checks the server's signature when it comes."""
    with LineClient(port, source) as client:
        return scram_exchange(client, user, password)


def scram_exchange(client: LineClient, user: str, password: str) -> ScramResult:
    nonce = secrets.token_urlsafe(18)
    bare = f"n={user},r={nonce}"
    first = client.command(f"s AUTHENTICATE SCRAM-SHA-256 {b64('n,,' + bare)}")[-1]
    server_first = base64.b64decode(first[2:]).decode()
    fields = dict(part.split("=", 1) for part in server_first.split(","))
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), base64.b64decode(fields["s"]), int(fields["i"]))
    without_proof = f"c=biws,r={fields['r']}"
    auth_message = f"{bare},{server_first},{without_proof}".encode()
    client_key = _hmac(salted, b"Client Key")
    signature = _hmac(hashlib.sha256(client_key).digest(), auth_message)
    proof = bytes(a ^ b for a, b in zip(client_key, signature, strict=True))
    client.send(b64(f"{without_proof},p={b64(proof)}"))
    reply = client.until_tagged("s")
    result = ScramResult(fields, reply)
    if reply[-1].startswith("+ "):
        result.server_final = base64.b64decode(reply[-1][2:]).decode()
        expected = "v=" + b64(_hmac(_hmac(salted, b"Server Key"), auth_message))
        assert result.server_final == expected, "the server's signature does not match"
        client.send("")
        result.reply = client.until_tagged("s")
    return result
