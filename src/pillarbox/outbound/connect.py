"""Reach one destination: try its hosts and their addresses in order, with the TLS each needs.

RFC 5321 5.1: try the MX hosts in order; a connection that fails, or a greeting that is not 220,
moves on to the next address and then the next host. Addresses: IPv6 first, then IPv4 (the
resolver's order). STARTTLS is used whenever offered. When TLS is mandatory for a host (DANE, MTA-STS
enforce) and cannot be had, or the certificate does not pass, the host is skipped and the failure
recorded; when TLS was merely opportunistic and the handshake fails, we reconnect once without it
(RFC 7435: some TLS is better than no mail, and no mail is worse than plaintext).
"""

from __future__ import annotations

import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from pillarbox.dns.resolver import DNSTemporaryError, Resolver
from pillarbox.outbound import dane
from pillarbox.outbound.tlspolicy import HostPolicy, context_for
from pillarbox.smtp.client import SMTPClient, SMTPClientError, Timeouts

TLSReport = Callable[[HostPolicy, str, str], Awaitable[None]]
"""(policy, mx host, result) -> record a TLS-RPT result (``success`` or a failure type)."""


class TLSFailure(SMTPClientError):
    """TLS was required and could not be had (RFC 8460 result types in ``result``)."""

    def __init__(self, message: str, result: str) -> None:
        super().__init__(message)
        self.result = result


@dataclass
class Session:
    client: SMTPClient
    host: str
    policy: HostPolicy
    transactions: int = 0
    """Mail transactions run on it, against the peer's RFC 9422 MAILMAX."""

    @property
    def exhausted(self) -> bool:
        limit = self.client.extensions.limit("MAILMAX")
        return limit is not None and self.transactions >= limit


@dataclass(frozen=True)
class ConnectSettings:
    helo: str
    port: int
    timeouts: Timeouts
    ca_file: Path | None = None
    implicit_tls: bool = False
    username: str = ""
    password: str = ""
    source_ipv4: str = ""
    source_ipv6: str = ""
    """Where to leave from (``[outbound] source_ipv4/source_ipv6``), by the family of the peer's address."""

    def source_for(self, address: str) -> str | None:
        return (self.source_ipv6 if ":" in address else self.source_ipv4) or None


async def open_session(host: str, policy: HostPolicy, resolver: Resolver, settings: ConnectSettings,
                       report: TLSReport) -> Session:
    """A greeted, EHLO'd (and TLS'd if possible) session with ``host``; SMTPClientError if none."""
    try:
        addresses = await resolver.addresses(host)
    except DNSTemporaryError as exc:
        raise SMTPClientError(f"{host}: {exc}") from exc
    if not addresses:
        raise SMTPClientError(f"{host}: no address")
    errors = []
    for address in addresses:
        try:
            return await _session_at(address, host, policy, settings, report)
        except SMTPClientError as exc:
            if isinstance(exc, TLSFailure):
                raise
            errors.append(str(exc))
    raise SMTPClientError("; ".join(errors))


async def _session_at(address: str, host: str, policy: HostPolicy, settings: ConnectSettings,
                      report: TLSReport) -> Session:
    try:
        return await _handshake(address, host, policy, settings, use_tls=True, report=report)
    except TLSFailure as failure:
        await report(policy, host, failure.result)
        if policy.required or policy.kind == "relay":
            raise
    if policy.verifies_name:
        # MTA-STS testing mode (RFC 8461 5), or a first look at a domain (tls_memory): the failure is
        # reported (testing), the mail goes as if there were no policy — opportunistic TLS, and
        # plaintext only if even unverified TLS cannot be had.
        try:
            return await _handshake(address, host, _unverified(policy), settings, use_tls=True, report=_ignore)
        except TLSFailure:
            pass
    return await _handshake(address, host, policy, settings, use_tls=False, report=report)


def _unverified(policy: HostPolicy) -> HostPolicy:
    return HostPolicy("opportunistic", policy.policy_domain)


async def _ignore(policy: HostPolicy, host: str, result: str) -> None:
    return None


def failure_type(error: str) -> str:
    """RFC 8460 4.3.2.1 result type of a failed verifying handshake, from OpenSSL's message."""
    text = error.lower()
    if "hostname" in text or "ip address mismatch" in text:
        return "certificate-host-mismatch"
    if "expired" in text:
        return "certificate-expired"
    if "issuer" in text or "self-signed" in text or "self signed" in text or "untrusted" in text:
        return "certificate-not-trusted"
    return "validation-failure"


async def _handshake(address: str, host: str, policy: HostPolicy, settings: ConnectSettings, *, use_tls: bool,
                     report: TLSReport) -> Session:
    implicit = settings.implicit_tls and use_tls
    context = context_for(policy, settings.ca_file) if use_tls else None
    client = await SMTPClient.connect(address, settings.port, settings.timeouts,
                                      ssl_context=context if implicit else None,
                                      server_hostname=_server_name(host, policy), source=settings.source_for(address))
    try:
        greeting = await client.greet()
        if greeting.code != 220:
            raise SMTPClientError(f"{host}: greeting {greeting.code} {greeting.text}")
        await _ehlo(client, settings.helo, host)
        if use_tls and not implicit:
            await _starttls(client, host, policy, context)  # type: ignore[arg-type]
            await _ehlo(client, settings.helo, host)
        if use_tls and policy.kind == "dane":
            _check_dane(client, host, policy)
        if use_tls and client.tls is not None:
            await report(policy, host, "success")
        if settings.username:
            await _auth(client, host, settings)
    except BaseException:
        await client.close()
        raise
    return Session(client, host, policy)


def _server_name(host: str, policy: HostPolicy) -> str:
    """The name the TLS handshake asks for (SNI). Under DANE it is the TLSA base domain (RFC 7672 8.1,
    3.2.2): the CNAME-expanded MX host name when the TLSA records were found there (2.2.3), so a
    server that hosts several names presents the certificate those records describe."""
    return policy.names[0] if policy.kind == "dane" and policy.names else host


def _check_dane(client: SMTPClient, host: str, policy: HostPolicy) -> None:
    """RFC 7672 3.1: DANE checks the certificates itself, after a handshake that verified nothing."""
    try:
        dane.authenticate(client.peer_chain(), policy.tlsa, *(policy.names or (host,)))
    except dane.DANEFailure as failure:
        raise TLSFailure(f"{host}: {failure}", failure.result) from failure


async def _ehlo(client: SMTPClient, helo: str, host: str) -> None:
    reply = await client.ehlo(helo)
    if reply.code != 250:
        raise SMTPClientError(f"{host}: EHLO/HELO refused: {reply.code} {reply.text}")


async def _starttls(client: SMTPClient, host: str, policy: HostPolicy, context: ssl.SSLContext) -> None:
    if "STARTTLS" not in client.extensions:
        if policy.required or (policy.verifies_name and policy.kind != "probe") or policy.kind == "relay":
            raise TLSFailure(f"{host}: STARTTLS not offered", "starttls-not-supported")
        return
    try:
        reply = await client.starttls(context, _server_name(host, policy))
    except SMTPClientError as exc:
        raise TLSFailure(str(exc), failure_type(str(exc))) from exc
    if reply.code != 220:
        raise TLSFailure(f"{host}: STARTTLS refused: {reply.code} {reply.text}", "starttls-not-supported")


async def _auth(client: SMTPClient, host: str, settings: ConnectSettings) -> None:
    if client.tls is None:
        raise SMTPClientError(f"{host}: will not send the relay password without TLS")
    reply = await client.auth_plain(settings.username, settings.password)
    if reply.code != 235:
        raise SMTPClientError(f"{host}: AUTH refused: {reply.code} {reply.text}")
