"""DANE-EE and DANE-TA (RFC 7672 3.1) against real certificate chains from a test CA.

The server presents ``leaf, intermediate, root`` unless a case says otherwise; ``record`` builds the
TLSA record for one certificate of that chain.
"""

from __future__ import annotations

import asyncio
import hashlib
import ssl
from collections.abc import Callable, Coroutine
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from pillarbox.dns.resolver import TLSARecord
from pillarbox.outbound import dane
from pillarbox.outbound.connect import ConnectSettings, TLSFailure, open_session
from pillarbox.outbound.tlspolicy import HostPolicy
from pillarbox.smtp.client import Timeouts
from tests.certs import CertAuthority, Issued, der

HOST = "mx.b.test"
ROOT = CertAuthority()
INTERMEDIATE = ROOT.intermediate()
LEAF = INTERMEDIATE.issue([HOST])
CHAIN = [LEAF.der, der(INTERMEDIATE.cert), der(ROOT.cert)]


def record(usage: int, cert: x509.Certificate, selector: int = 0, mtype: int = 1) -> TLSARecord:
    """Computed here from the RFC 6698 2.1 definitions, not with the code under test."""
    selected = der(cert) if selector == 0 else cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    digest = {0: lambda b: b, 1: lambda b: hashlib.sha256(b).digest(), 2: lambda b: hashlib.sha512(b).digest()}
    return TLSARecord(usage, selector, mtype, digest[mtype](selected))


def failure(chain: list[bytes], records: list[TLSARecord], host: str = HOST) -> str:
    with pytest.raises(dane.DANEFailure) as caught:
        dane.authenticate(chain, records, host)
    return caught.value.result


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
@pytest.mark.parametrize("anchor", [ROOT.cert, INTERMEDIATE.cert], ids=["root", "intermediate"])
def test_dane_ta_in_the_presented_chain_accepts(anchor: x509.Certificate, selector: int, mtype: int):
    dane.authenticate(CHAIN, [record(dane.DANE_TA, anchor, selector, mtype)], HOST)


@pytest.mark.parametrize("selector", [0, 1])
@pytest.mark.parametrize("mtype", [0, 1, 2])
def test_dane_ee_matches_the_leaf(selector: int, mtype: int):
    dane.authenticate(CHAIN[:1], [record(dane.DANE_EE, LEAF.cert, selector, mtype)], HOST)


def test_dane_ee_ignores_names_and_dates():
    expired = INTERMEDIATE.issue(["elsewhere.test"], valid=(-10, -5))
    dane.authenticate([expired.der], [record(dane.DANE_EE, expired.cert)], HOST)


def test_trust_anchor_not_presented_fails():
    """RFC 7672 3.1.2: the server must send the TA, even for a key-only 2 1 x record."""
    assert failure(CHAIN[:2], [record(dane.DANE_TA, ROOT.cert, selector=1)]) == "tlsa-invalid"


def test_name_mismatch_under_dane_ta_fails():
    assert failure(CHAIN, [record(dane.DANE_TA, ROOT.cert)], host="mx2.b.test") == "certificate-host-mismatch"



def test_dane_ta_accepts_the_tlsa_base_domain_or_the_mx_alias():
    """RFC 7672 3.2.2: the CNAME-expanded TLSA base domain first, the MX host name (its alias) too;
    a failure is reported for the first name."""
    dane.authenticate(CHAIN, [record(dane.DANE_TA, ROOT.cert)], "target.b.test", HOST)
    with pytest.raises(dane.DANEFailure) as caught:
        dane.authenticate(CHAIN, [record(dane.DANE_TA, ROOT.cert)], "target.b.test", "alias.b.test")
    assert caught.value.result == "certificate-host-mismatch"


def test_host_name_no_certificate_can_carry_fails():
    assert failure(CHAIN, [record(dane.DANE_TA, ROOT.cert)], host="mx_1.b.test") == "certificate-host-mismatch"

def test_wildcard_name_under_dane_ta_accepts():
    leaf = INTERMEDIATE.issue(["*.b.test"])
    dane.authenticate([leaf.der, *CHAIN[1:]], [record(dane.DANE_TA, ROOT.cert)], HOST)


def test_expired_leaf_under_dane_ta_fails():
    expired = INTERMEDIATE.issue([HOST], valid=(-10, -5))
    assert failure([expired.der, *CHAIN[1:]], [record(dane.DANE_TA, ROOT.cert)]) == "certificate-expired"


def test_leaf_not_signed_by_the_presented_chain_fails():
    stranger = CertAuthority("Someone Else").issue([HOST])
    assert failure([stranger.der, *CHAIN[1:]], [record(dane.DANE_TA, ROOT.cert)]) == "certificate-not-trusted"


def test_dane_ta_record_matching_the_leaf_does_not_count():
    assert failure(CHAIN, [record(dane.DANE_TA, LEAF.cert)]) == "tlsa-invalid"


def test_wrong_records_fail():
    assert failure(CHAIN, [TLSARecord(dane.DANE_EE, 1, 1, b"\xab" * 32),
                           TLSARecord(dane.DANE_TA, 0, 1, b"\xab" * 32)]) == "tlsa-invalid"


def test_no_or_unreadable_certificates_fail():
    records = [record(dane.DANE_EE, LEAF.cert)]
    assert failure([], records) == "tlsa-invalid"
    assert failure([b"not a certificate"], records) == "validation-failure"


def test_only_dane_usages_and_known_parameters_are_usable():
    good = [record(dane.DANE_TA, ROOT.cert), record(dane.DANE_EE, LEAF.cert, 1, 2)]
    pkix = [record(0, ROOT.cert), record(1, LEAF.cert)]
    unknown = [TLSARecord(3, 2, 1, b"x"), TLSARecord(3, 1, 3, b"x"), TLSARecord(4, 0, 0, b"x")]
    assert dane.usable(good + pkix + unknown) == good


def test_record_for_matches_the_independent_computation():
    for usage, selector, mtype in [(3, 1, 1), (2, 0, 1), (2, 1, 2), (3, 0, 0)]:
        expected = record(usage, LEAF.cert, selector, mtype)
        assert dane.record_for(LEAF.der, selector, mtype, usage) == expected


# ----------------------------------------------------------------------------- through a real TLS session

Runner = Callable[[Coroutine[Any, Any, Any]], Any]


async def _smtp_over_tls(context: ssl.SSLContext) -> asyncio.Server:
    """Just enough of an implicit-TLS SMTP server for a session to reach its DANE check."""

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx.b.test ESMTP\r\n")
        while line := await reader.readline():
            writer.write(b"221 bye\r\n" if line.upper().startswith(b"QUIT") else b"250 mx.b.test\r\n")
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0, ssl=context)


class OneAddress:
    async def addresses(self, host: str) -> list[str]:
        return ["127.0.0.1"]


def _server_context(tmp_path: Path, leaf: Issued, chain: list[x509.Certificate]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*leaf.write(tmp_path, "server", chain))
    return context


async def _session_results(context: ssl.SSLContext, records: list[TLSARecord]) -> tuple[list[str], str]:
    """(TLS-RPT results reported, error) for one DANE session attempt."""
    server = await _smtp_over_tls(context)
    return await _attempt(server, HOST, HostPolicy("dane", "b.test", tuple(records)), implicit=True)


async def _attempt(server: asyncio.Server, host: str, policy: HostPolicy, implicit: bool) -> tuple[list[str], str]:
    """One session with ``server`` (closed after): (TLS-RPT results reported, the TLSFailure's text or
    "" when the session was had)."""
    port = server.sockets[0].getsockname()[1]
    settings = ConnectSettings("a.test", port, Timeouts(connect=5, greeting=5, ehlo=5), implicit_tls=implicit)
    reported: list[str] = []

    async def report(policy: HostPolicy, host: str, result: str) -> None:
        reported.append(result)

    try:
        session = await open_session(host, policy, OneAddress(), settings, report)  # type: ignore[arg-type]
        await session.client.quit()
    except TLSFailure as exc:
        return reported, str(exc)
    finally:
        server.close()
    return reported, ""


def test_session_sees_the_whole_presented_chain(run: Runner, tmp_path: Path):
    context = _server_context(tmp_path, LEAF, [INTERMEDIATE.cert, ROOT.cert])
    reported, error = run(_session_results(context, [record(dane.DANE_TA, ROOT.cert, 1, 1)]))
    assert (reported, error) == (["success"], "")


def test_session_failing_dane_ta_is_reported_and_refused(run: Runner, tmp_path: Path):
    context = _server_context(tmp_path, LEAF, [INTERMEDIATE.cert])  # the root (the TA) is not sent
    reported, error = run(_session_results(context, [record(dane.DANE_TA, ROOT.cert, 1, 1)]))
    assert reported == ["tlsa-invalid"]
    assert error == "mx.b.test: certificate matches no TLSA record"


# ----------------------------------------------------------------------------- the name asked for (SNI)

ALIAS, BASE = "mx-alias.b.test", "mx-ta.b.test"
"""The MX host name, a validated CNAME of BASE, where the TLSA records were found (RFC 7672 2.2.3)."""
BASE_LEAF = INTERMEDIATE.issue([BASE])


async def _peer_noting_sni(context: ssl.SSLContext, implicit: bool, asked: list[str | None]) -> asyncio.Server:
    """An SMTP peer over implicit TLS or STARTTLS that notes the server name each handshake asks for."""
    context.sni_callback = lambda _sock, name, _ctx: asked.append(name)  # type: ignore[assignment, misc, return-value]

    async def session(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writer.write(b"220 mx-ta.b.test ESMTP\r\n")
        while line := await reader.readline():
            verb = line.upper().split()[0] if line.split() else b""
            if verb == b"STARTTLS" and not implicit:
                writer.write(b"220 2.0.0 go ahead\r\n")
                await writer.start_tls(context)
            elif verb == b"EHLO":
                writer.write(b"250-mx-ta.b.test\r\n250 " + (b"HELP" if implicit else b"STARTTLS") + b"\r\n")
            else:
                writer.write(b"221 bye\r\n" if verb == b"QUIT" else b"250 ok\r\n")
        writer.close()

    return await asyncio.start_server(session, "127.0.0.1", 0, ssl=context if implicit else None)


async def _server_name_asked(context: ssl.SSLContext, policy: HostPolicy, host: str,
                             implicit: bool) -> list[str | None]:
    asked: list[str | None] = []
    outcome = await _attempt(await _peer_noting_sni(context, implicit, asked), host, policy, implicit)
    assert outcome == (["success"], "")
    return asked


@pytest.mark.parametrize("implicit", [False, True], ids=["starttls", "implicit"])
def test_under_dane_sni_carries_the_cname_expanded_tlsa_base_domain(run: Runner, tmp_path: Path, implicit: bool):
    """RFC 7672 8.1 and 3.2.2: the client sends the TLSA base domain in SNI, the expanded name when the
    MX host name is a validated CNAME and the records were found at its target."""
    context = _server_context(tmp_path, BASE_LEAF, [INTERMEDIATE.cert, ROOT.cert])
    policy = HostPolicy("dane", "b.test", (record(dane.DANE_TA, ROOT.cert, 1, 1),), (BASE, ALIAS))
    assert run(_server_name_asked(context, policy, ALIAS, implicit)) == [BASE]


@pytest.mark.parametrize("policy", [
    HostPolicy("dane", "b.test", (record(dane.DANE_EE, BASE_LEAF.cert, 1, 1),), (ALIAS,)),  # records at the alias
    HostPolicy("opportunistic", "b.test"),
], ids=["dane-at-the-host-name", "no-dane"])
def test_otherwise_sni_carries_the_mx_host_name(run: Runner, tmp_path: Path, policy: HostPolicy):
    context = _server_context(tmp_path, BASE_LEAF, [INTERMEDIATE.cert, ROOT.cert])
    assert run(_server_name_asked(context, policy, ALIAS, implicit=False)) == [ALIAS]
