"""Answering the CA's validation requests: HTTP-01 on the web port, TLS-ALPN-01 on 443.

The order runs in a thread (``orders.py``) and posts what to answer on the ``ChallengeBoard``; the
listeners, on the event loop, read it. Both sides are short dictionary operations under one lock.

HTTP-01 (RFC 8555 8.3): the CA fetches ``http://NAME/.well-known/acme-challenge/TOKEN`` on port 80 and
expects the key authorization as the body. Any Host is accepted: the token itself is the secret-free
proof, and a redirect or proxy in front must not change what we answer.

TLS-ALPN-01 (RFC 8737): the CA opens TLS to port 443 with SNI = the name and ALPN ``acme-tls/1`` only,
and expects a self-signed certificate for that name carrying the critical extension
id-pe-acmeIdentifier (1.3.6.1.5.5.7.1.31) whose value is the DER OCTET STRING of SHA-256(key
authorization) (3). Python's ``ssl`` cannot see the client's ALPN list before choosing a certificate,
so the SNI callback switches to the challenge certificate for a name with a validation pending; the
window is the seconds the CA takes to validate, and only the 443 listener does it (mail ports never
see a challenge certificate). Otherwise the 443 listener serves the host name's certificate, or a
mail domain's own certificate for its ``mta-sts.``/``autoconfig.`` names once one was issued.
"""

from __future__ import annotations

import datetime
import hashlib
import ssl
import tempfile
import threading
from collections.abc import Awaitable, Callable, MutableMapping
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID, ObjectIdentifier

from pillarbox.net.tls import TLSContextHolder, build_server_context

ACME_TLS_ALPN = "acme-tls/1"
ID_PE_ACME_IDENTIFIER = ObjectIdentifier("1.3.6.1.5.5.7.1.31")
HTTP01_PREFIX = "/.well-known/acme-challenge/"


class ChallengeBoard:
    """What to answer for validations in progress: HTTP-01 tokens and TLS-ALPN-01 certificates."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tokens: dict[str, str] = {}
        self._alpn: dict[str, ssl.SSLContext] = {}

    def add_http01(self, token: str, key_authorization: str) -> None:
        with self._lock:
            self._tokens[token] = key_authorization

    def add_tls_alpn01(self, name: str, key_authorization: str) -> None:
        context = challenge_context(name, key_authorization)
        with self._lock:
            self._alpn[name.lower()] = context

    def remove(self, token: str, name: str) -> None:
        with self._lock:
            self._tokens.pop(token, None)
            self._alpn.pop(name.lower(), None)

    def http01(self, token: str) -> str | None:
        with self._lock:
            return self._tokens.get(token)

    def tls_alpn01(self, name: str) -> ssl.SSLContext | None:
        with self._lock:
            return self._alpn.get(name.lower())


def challenge_certificate(name: str, key_authorization: str) -> tuple[bytes, bytes]:
    """The RFC 8737 3 certificate for ``name``: (cert PEM, key PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    digest = hashlib.sha256(key_authorization.encode("ascii")).digest()
    now = datetime.datetime.now(datetime.UTC)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1)).not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(name)]), critical=False)
        # extnValue is the DER encoding of an OCTET STRING holding the digest: tag 4, length 32
        .add_extension(x509.UnrecognizedExtension(ID_PE_ACME_IDENTIFIER, b"\x04\x20" + digest), critical=True)
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def challenge_context(name: str, key_authorization: str) -> ssl.SSLContext:
    cert_pem, key_pem = challenge_certificate(name, key_authorization)
    with tempfile.TemporaryDirectory() as folder:  # ssl loads chains only from files
        cert, key = Path(folder) / "c.pem", Path(folder) / "k.pem"
        cert.write_bytes(cert_pem)
        key.write_bytes(key_pem)
        context = build_server_context(cert, key)
    context.set_alpn_protocols([ACME_TLS_ALPN])
    return context


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def port80_app(board: ChallengeBoard) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
    """The ASGI application of the plain-HTTP port: the key authorization of a pending HTTP-01 token,
    404 for any other token, and a redirect to https for everything else (nothing is served in clear)."""

    async def app(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        path = scope["path"]
        if path.startswith(HTTP01_PREFIX):
            answer = board.http01(path.removeprefix(HTTP01_PREFIX))
            status, body = (200, answer.encode("ascii")) if answer is not None else (404, b"Not Found\n")
            headers = [(b"content-type", b"application/octet-stream" if answer else b"text/plain")]
        else:
            host = _host_of(dict(scope["headers"]).get(b"host", b"").decode("latin-1"))
            query = scope.get("query_string", b"").decode("latin-1")
            target = f"https://{host}{path}" + (f"?{query}" if query else "")
            status, body = (301, b"") if host else (400, b"Host header required\n")
            headers = [(b"location", target.encode("latin-1"))] if host else []
        headers.append((b"content-length", str(len(body)).encode()))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


def _host_of(header: str) -> str:
    """The Host header without its port ("[::1]:80" → "[::1]")."""
    host, colon, port = header.rpartition(":")
    return host if colon and port.isdigit() and not host.endswith(":") else header


DomainCertificate = Callable[[str], tuple[Path, Path] | None]
"""A mail domain → the files of its own certificate (for mta-sts./autoconfig.), if one was issued."""


class WebTLS:
    """The 443 listener's ``.context`` (what ``Listener`` reads per connection): the host name's
    certificate, switched by SNI to a domain's own certificate or to a pending challenge's."""

    def __init__(self, main: TLSContextHolder, board: ChallengeBoard, domain_certificate: DomainCertificate) -> None:
        self._main, self._board, self._domain_certificate = main, board, domain_certificate
        self._base_for: ssl.SSLContext | None = None
        self._base: ssl.SSLContext | None = None
        self._domains: dict[tuple[Path, float], ssl.SSLContext] = {}

    @property
    def context(self) -> ssl.SSLContext:
        if self._base is None or self._base_for is not self._main.context:  # the main certificate changed
            self._base_for = self._main.context
            self._base = build_server_context(self._main.cert_path, self._main.key_path)
            self._base.sni_callback = self._choose
        return self._base

    def _choose(self, connection: ssl.SSLObject, server_name: str | None, _context: ssl.SSLContext) -> None:
        if not server_name:
            return
        chosen = self._board.tls_alpn01(server_name) or self._domain_context(server_name)
        if chosen is not None:
            connection.context = chosen

    def _domain_context(self, server_name: str) -> ssl.SSLContext | None:
        label, _, domain = server_name.lower().partition(".")
        files = self._domain_certificate(domain) if label in ("mta-sts", "autoconfig") else None
        if files is None:
            return None
        key = (files[0], files[0].stat().st_mtime)
        if key not in self._domains:  # a renewed certificate has a new mtime: build it once
            self._domains = {k: v for k, v in self._domains.items() if k[0] != files[0]}
            self._domains[key] = build_server_context(*files)
        return self._domains[key]
