"""What a load balancer sends first: PROXY protocol v1 lines and v2 blocks (the sender side, for tests),
and clients (smtplib, imaplib, raw sockets) that send one before their protocol starts."""

from __future__ import annotations

import imaplib
import ipaddress
import smtplib
import socket
import ssl

from pillarbox.net.proxy_header import (
    PP2_CLIENT_SSL,
    PP2_SUBTYPE_SSL_CIPHER,
    PP2_SUBTYPE_SSL_VERSION,
    PP2_TYPE_CRC32C,
    PP2_TYPE_SSL,
    V2_SIGNATURE,
    crc32c,
)

Address = tuple[str, int]
BALANCER = "127.0.0.2"
"""Where the wire tests' balancer connects from: their servers trust only it, so 127.0.0.1 is a stranger."""


def v1(source: Address, destination: Address) -> bytes:
    family = "TCP6" if ":" in source[0] else "TCP4"
    return f"PROXY {family} {source[0]} {destination[0]} {source[1]} {destination[1]}\r\n".encode()


def v2(source: Address | None, destination: Address | None = None, *, tlvs: tuple[tuple[int, bytes], ...] = (),
       command: int = 1, with_crc: bool = False) -> bytes:
    """A v2 block; ``source`` None: AF_UNSPEC. ``with_crc``: a CRC32C TLV last, as HAProxy adds it."""
    block, family = b"", 0x00
    if source is not None:
        destination = destination or ("127.0.0.1" if "." in source[0] else "::1", 25)
        src, dst = ipaddress.ip_address(source[0]), ipaddress.ip_address(destination[0])
        family = 0x11 if src.version == 4 else 0x21
        block = src.packed + dst.packed + source[1].to_bytes(2, "big") + destination[1].to_bytes(2, "big")
    extensions = b"".join(tlv(kind, value) for kind, value in tlvs)
    if with_crc:
        extensions += bytes([PP2_TYPE_CRC32C, 0, 4]) + bytes(4)
    body = block + extensions
    header = V2_SIGNATURE + bytes([0x20 | command, family]) + len(body).to_bytes(2, "big") + body
    if with_crc:
        header = header[:-4] + crc32c(header).to_bytes(4, "big")
    return header


def tlv(kind: int, value: bytes) -> bytes:
    return bytes([kind]) + len(value).to_bytes(2, "big") + value


def ssl_tlv(version: str = "TLSv1.3", cipher: str = "TLS_AES_256_GCM_SHA384", *,
            client: int = PP2_CLIENT_SSL) -> tuple[int, bytes]:
    """HAProxy's ``send-proxy-v2-ssl`` TLV: client flags, verify 0, then the version and cipher sub-TLVs."""
    subs = b"".join(tlv(kind, text.encode()) for kind, text in
                    ((PP2_SUBTYPE_SSL_VERSION, version), (PP2_SUBTYPE_SSL_CIPHER, cipher)) if text)
    return PP2_TYPE_SSL, bytes([client]) + bytes(4) + subs


def proxied_socket(port: int, header: bytes, timeout: float = 30, source: str = BALANCER) -> socket.socket:
    """A connection to 127.0.0.1:``port`` from ``source`` that has sent ``header``, as a balancer's would."""
    sock = socket.create_connection(("127.0.0.1", port), timeout=timeout, source_address=(source, 0))
    sock.sendall(header)
    return sock


def closed_by_peer(sock: socket.socket) -> bool:
    """The server closed ``sock`` without a word (a reset counts: it may close with our header unread)."""
    try:
        return sock.recv(1024) == b""
    except ConnectionResetError:
        return True


class ProxiedSMTP(smtplib.SMTP):
    """smtplib behind a balancer: ``ProxiedSMTP(header, "127.0.0.1", port)``."""

    def __init__(self, header: bytes, *args, **kwargs) -> None:
        self.proxy_header = header
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return proxied_socket(port, self.proxy_header, timeout)


class ProxiedSMTPS(smtplib.SMTP_SSL):
    """Port 465 behind a balancer in TCP mode: the header, then the ClientHello."""

    def __init__(self, header: bytes, *args, **kwargs) -> None:
        self.proxy_header = header
        super().__init__(*args, **kwargs)

    def _get_socket(self, host, port, timeout):
        return self.context.wrap_socket(proxied_socket(port, self.proxy_header, timeout), server_hostname=host)


class ProxiedIMAP(imaplib.IMAP4):
    def __init__(self, header: bytes, *args, **kwargs) -> None:
        self.proxy_header = header
        super().__init__(*args, **kwargs)

    def _create_socket(self, timeout):
        return proxied_socket(self.port, self.proxy_header, timeout)


class ProxiedIMAPS(imaplib.IMAP4_SSL):
    def __init__(self, header: bytes, *args, ssl_context: ssl.SSLContext, **kwargs) -> None:
        self.proxy_header = header
        super().__init__(*args, ssl_context=ssl_context, **kwargs)

    def _create_socket(self, timeout):
        sock = proxied_socket(self.port, self.proxy_header, timeout)
        return self.ssl_context.wrap_socket(sock, server_hostname="localhost")
