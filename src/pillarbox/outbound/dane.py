"""DANE for SMTP (RFC 7672): TLSA records, trusted only when DNSSEC says so, pin the MX's certificate.

The problem: opportunistic STARTTLS can be stripped or intercepted, and a public CA proves nothing
about which host should receive a domain's mail. DANE publishes, under ``_25._tcp.<mx host>``, what
the MX's certificate must look like; because the records are signed (DNSSEC), an attacker cannot
forge them. RFC 7672 3.1: a usable, authenticated TLSA RRset makes TLS mandatory for that host and
the certificate must match a record; with no usable record (unsigned answer, unknown parameters)
the host gets ordinary opportunistic TLS. Usages: 3 DANE-EE (the server's own certificate or key;
names and expiry are ignored, RFC 7672 3.1.1) and 2 DANE-TA (a trust anchor in the chain). Python's
ssl module exposes the peer's leaf certificate but not the chain it sent (before 3.13), so we
support DANE-EE; DANE-TA records count as unusable (documented gap). We trust the resolver's AD
bit (``dns/resolver.py``), so the resolver must be a validating one on a trusted path.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pillarbox.dns.resolver import TLSARecord

DANE_EE = 3


def usable(records: Sequence[TLSARecord]) -> list[TLSARecord]:
    return [r for r in records if r.usage == DANE_EE and r.selector in (0, 1) and r.mtype in (0, 1, 2)]


def tlsa_name(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host}"


def _selected(cert_der: bytes, selector: int) -> bytes:
    if selector == 0:
        return cert_der
    cert = x509.load_der_x509_certificate(cert_der)
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _digest(data: bytes, mtype: int) -> bytes:
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def matches(cert_der: bytes | None, records: Sequence[TLSARecord]) -> bool:
    """Does the server's certificate match one usable DANE-EE record?"""
    if cert_der is None:
        return False
    return any(_digest(_selected(cert_der, r.selector), r.mtype) == r.data for r in usable(records))


def record_for(cert_der: bytes, selector: int = 1, mtype: int = 1) -> TLSARecord:
    """The ``3 1 1`` record that pins this certificate's key (for ``pillarbox dns`` and tests)."""
    return TLSARecord(DANE_EE, selector, mtype, _digest(_selected(cert_der, selector), mtype))
