"""DANE for SMTP (RFC 7672): TLSA records, trusted only when DNSSEC says so, decide the MX's certificate.

The problem: opportunistic STARTTLS can be stripped or intercepted, and a public CA proves nothing
about which host should receive a domain's mail. DANE publishes, under ``_25._tcp.<mx host>``, what
the MX's certificate must look like; because the records are signed (DNSSEC), an attacker cannot
forge them. RFC 7672 3.1: a usable, authenticated TLSA RRset makes TLS mandatory for that host and
the server's certificates must satisfy a record; with no usable record (unsigned answer, unknown
parameters, PKIX usages 0/1) the host gets ordinary opportunistic TLS. We trust the resolver's AD
bit (``dns/resolver.py``), so the resolver must be a validating one on a trusted path.

Two usages. DANE-EE (3): the leaf certificate or its key is pinned; names and dates are ignored
(RFC 7672 3.1.1). DANE-TA (2): a certificate the server sends above its leaf is the trust anchor,
trusted because DNSSEC says so and not because any store does; the leaf must chain to it (signatures,
validity) and name the MX host (RFC 7672 3.1.2, 3.2.2). The server must send the anchor itself even
for a key-only ``2 1 x`` record (RFC 7672 3.1.2), so the chain as presented is all we look at; as in
OpenSSL, a DANE-TA record matching the leaf itself does not count.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

from cryptography import x509
from cryptography.exceptions import UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.x509.verification import PolicyBuilder, Store, VerificationError

from pillarbox.dns.resolver import TLSARecord

DANE_TA = 2
DANE_EE = 3


class DANEFailure(Exception):
    """The presented certificates satisfy no usable TLSA record."""

    def __init__(self, message: str, result: str) -> None:
        super().__init__(message)
        self.result = result
        """RFC 8460 4.3.2.1 result type, for TLS-RPT."""


def usable(records: Sequence[TLSARecord]) -> list[TLSARecord]:
    return [r for r in records
            if r.usage in (DANE_TA, DANE_EE) and r.selector in (0, 1) and r.mtype in (0, 1, 2)]


def tlsa_name(host: str, port: int = 25) -> str:
    return f"_{port}._tcp.{host}"


def authenticate(chain: Sequence[bytes], records: Sequence[TLSARecord], host: str, *aliases: str) -> None:
    """Accept the server's certificates (DER, leaf first, as it sent them) for ``host`` or raise DANEFailure.
    A DANE-TA chain may name ``host`` or one of ``aliases`` (RFC 7672 3.2.2: the TLSA base domain, and the
    MX host name when that is an alias of it); a failure reports the first name's reason."""
    try:
        certs = [x509.load_der_x509_certificate(der) for der in chain]
    except ValueError as exc:
        raise DANEFailure(f"unreadable certificate: {exc}", "validation-failure") from exc
    if not certs:
        raise DANEFailure("no certificate", "tlsa-invalid")
    records = usable(records)
    if any(_matches(certs[0], r) for r in records if r.usage == DANE_EE):
        return
    anchors = [cert for cert in certs[1:] if any(_matches(cert, r) for r in records if r.usage == DANE_TA)]
    if not anchors:
        raise DANEFailure("certificate matches no TLSA record", "tlsa-invalid")
    failures = []
    for name in (host, *aliases):
        try:
            return _chains_to(anchors, certs, name)
        except DANEFailure as failure:
            failures.append(failure)
    raise failures[0]


def _chains_to(anchors: list[x509.Certificate], certs: list[x509.Certificate], host: str) -> None:
    try:
        verifier = PolicyBuilder().store(Store(anchors)).build_server_verifier(x509.DNSName(host))
    except ValueError as exc:  # an underscore, a U-label: no certificate can name this host
        message = f"{host!r} is not a name a certificate can carry: {exc}"
        raise DANEFailure(message, "certificate-host-mismatch") from exc
    try:
        verifier.verify(certs[0], certs[1:])
    except VerificationError as exc:
        result = _failure_type(str(exc))
        raise DANEFailure(f"certificate does not chain to the DANE-TA anchor: {exc}", result) from exc


def _failure_type(error: str) -> str:
    """RFC 8460 result type of a failed chain check, from the ``cryptography`` verifier's message."""
    text = error.lower()
    if "subjectaltname" in text:
        return "certificate-host-mismatch"
    if "not valid at validation time" in text:
        return "certificate-expired"
    return "certificate-not-trusted"


def _matches(cert: x509.Certificate, record: TLSARecord) -> bool:
    selected = _selected(cert, record.selector)
    return selected is not None and _digest(selected, record.mtype) == record.data


def _selected(cert: x509.Certificate, selector: int) -> bytes | None:
    """The certificate (0) or its SubjectPublicKeyInfo (1); None for a key type we cannot read (it matches nothing)."""
    if selector == 0:
        return cert.public_bytes(serialization.Encoding.DER)
    try:
        key = cert.public_key()
    except (UnsupportedAlgorithm, ValueError):
        return None
    return key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def _digest(data: bytes, mtype: int) -> bytes:
    if mtype == 1:
        return hashlib.sha256(data).digest()
    if mtype == 2:
        return hashlib.sha512(data).digest()
    return data


def record_for(cert_der: bytes, selector: int = 1, mtype: int = 1, usage: int = DANE_EE) -> TLSARecord:
    """The TLSA record (``3 1 1`` unless asked otherwise) that matches this certificate (the tests publish these)."""
    selected = _selected(x509.load_der_x509_certificate(cert_der), selector)
    if selected is None:
        raise ValueError("the certificate's key type is not supported")
    return TLSARecord(usage, selector, mtype, _digest(selected, mtype))
