"""DKIM test keys generated per run, signing with dkimpy, public halves as DNS TXT records."""

from __future__ import annotations

import base64
from dataclasses import dataclass
from functools import lru_cache

import dkim
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa


@dataclass(frozen=True)
class Key:
    private: bytes
    txt: str
    algorithm: bytes


@lru_cache(maxsize=8)
def rsa_key(bits: int = 2048) -> Key:
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.TraditionalOpenSSL,
                                serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.DER,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return Key(private, f"v=DKIM1; k=rsa; p={base64.b64encode(public).decode()}", b"rsa-sha256")


@lru_cache(maxsize=2)
def ed25519_key() -> Key:
    key = ed25519.Ed25519PrivateKey.generate()
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw,
                             serialization.NoEncryption())
    public = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return Key(base64.b64encode(seed), f"v=DKIM1; k=ed25519; p={base64.b64encode(public).decode()}",
               b"ed25519-sha256")


def sign(message: bytes, domain: str, selector: str, key: Key, *, length: bool = False,
         canonicalize: tuple[bytes, bytes] = (b"relaxed", b"relaxed"), algorithm: bytes | None = None) -> bytes:
    signature = dkim.sign(message, selector.encode(), domain.encode(), key.private,
                          canonicalize=canonicalize, signature_algorithm=algorithm or key.algorithm,
                          include_headers=[b"from", b"to", b"subject", b"date"], length=length)
    return signature + message


def message(sender: str = "alice@example.com", subject: str = "Hello", body: str = "Hi Bob.\r\n") -> bytes:
    return (f"From: Alice <{sender}>\r\nTo: bob@example.org\r\nSubject: {subject}\r\n"
            f"Date: Mon, 1 Jan 2024 00:00:00 +0000\r\nMessage-ID: <1@example.com>\r\n\r\n{body}").encode()
