"""Which TLS a connection to one MX host must have: DANE, MTA-STS, or opportunistic.

Precedence (RFC 8461 2): a host with a usable DNSSEC-authenticated TLSA RRset is DANE's (TLS
mandatory, certificate must match a TLSA record); otherwise the domain's MTA-STS policy in enforce
mode (TLS mandatory, certificate valid for the MX name under our trust store, MX must be listed);
in testing mode the same checks but a failure only goes to the TLS-RPT counters; otherwise
opportunistic TLS (RFC 7435): STARTTLS whenever offered, certificate not checked, plaintext if the
server offers nothing. A smarthost gets verified TLS when ``relay_tls`` asks for it.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path

from pillarbox.dns.resolver import TLSARecord
from pillarbox.outbound.mtasts import client_context


@dataclass(frozen=True)
class HostPolicy:
    kind: str
    """``dane``, ``sts`` (enforce), ``sts-testing``, ``requiretls`` (RFC 8689: verified TLS to an MX
    host whose name DNSSEC or MTA-STS vouches for), ``relay``, ``opportunistic``; and from
    ``tls_memory``: ``probe`` (try verified, else as opportunistic), ``tls-seen`` (TLS a must),
    ``tls-pinned`` (verified TLS a must)."""
    policy_domain: str
    tlsa: tuple[TLSARecord, ...] = field(default=())
    names: tuple[str, ...] = field(default=())
    """DANE: the names a DANE-TA certificate may carry, the CNAME-expanded MX host name first when the
    TLSA records were found there (RFC 7672 2.2.3, 3.2.2); empty: the host name."""

    @property
    def required(self) -> bool:
        """TLS is a must (a failure defers the mail): DANE, MTA-STS enforce, REQUIRETLS, and a domain
        seen with TLS before (``tls_memory``)."""
        return self.kind in ("dane", "sts", "requiretls", "tls-seen", "tls-pinned")

    @property
    def verifies_name(self) -> bool:
        """The certificate is checked for the host name under our trust store (a ``probe`` tries)."""
        return self.kind in ("sts", "sts-testing", "requiretls", "tls-pinned", "probe")

    @property
    def report_type(self) -> str:
        """TLS-RPT policy-type (RFC 8460 4.3)."""
        return {"dane": "tlsa", "sts": "sts", "sts-testing": "sts"}.get(self.kind, "no-policy-found")

    def describe(self) -> str:
        return self.kind


def opportunistic_context() -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    return ctx


def context_for(policy: HostPolicy, ca_file: Path | None) -> ssl.SSLContext:
    """DANE checks the certificate itself after the handshake; STS and relays verify it in OpenSSL."""
    if policy.verifies_name or policy.kind == "relay":
        return client_context(ca_file)
    return opportunistic_context()

