"""The ACME manager's decisions without a CA: renewal information (RFC 9773) wins over the two-thirds
rule, a renewal request renews everything, a non-leader only picks up files; the TLS-ALPN-01 challenge
certificate (RFC 8737 3) for any key authorization; the HTTP-01 route."""

from __future__ import annotations

import asyncio
import hashlib
import time
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from hypothesis import given
from hypothesis import strategies as st

from pillarbox.acme.challenges import ID_PE_ACME_IDENTIFIER, ChallengeBoard, challenge_certificate, port80_app
from pillarbox.acme.files import CertFiles
from pillarbox.acme.manager import ACMEManager, Wanted, request_renewal
from pillarbox.acme.orders import Issued
from tests.certs import CertAuthority, pem

AUTHORITY = CertAuthority("fake ACME CA")
DAY = 86400.0


def fake_issue(log: list[str]):
    def issue(certificate: Wanted) -> Issued:
        log.append(certificate.name)
        issued = AUTHORITY.issue(list(certificate.names), valid=(0, 90))
        key = issued.key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                       serialization.NoEncryption())
        return Issued(pem(issued.cert, AUTHORITY.cert), key)

    return issue


def manager(tmp_path: Path, log: list[str], advice=None, clock=time.time, leader=None,
            handed: list[str] | None = None) -> ACMEManager:
    async def domains() -> list[str]:
        return []

    def on_issued(certificate: Wanted, files: CertFiles) -> None:
        (handed if handed is not None else []).append(certificate.name)

    return ACMEManager(tmp_path, "https://ca.test/dir", "mx.test", domains, fake_issue(log),
                       advice or (lambda chain: None), on_issued, clock, leader)


def test_renewal_information_wins_over_two_thirds(tmp_path: Path) -> None:
    log: list[str] = []
    suggested = time.time() + 10 * DAY
    due = asyncio.run(manager(tmp_path, log, advice=lambda chain: suggested).run_due())
    assert log == ["mx.test"] and abs(due - 10 * DAY) < 60


def test_without_advice_two_thirds_and_a_request_renews_now(tmp_path: Path) -> None:
    log: list[str] = []
    first = manager(tmp_path, log)
    due = asyncio.run(first.run_due())
    assert abs(due - 60 * DAY) < 60  # 2/3 of 90 days
    asyncio.run(first.run_due())
    assert log == ["mx.test"]
    request_renewal(tmp_path)
    asyncio.run(first.run_due())
    assert log == ["mx.test", "mx.test"]


def test_a_node_that_is_not_the_leader_only_picks_up_files(tmp_path: Path) -> None:
    log: list[str] = []
    asyncio.run(manager(tmp_path, log).run_due())  # the leader wrote the files

    async def no() -> bool:
        return False

    handed: list[str] = []
    follower = manager(tmp_path, log, leader=no, handed=handed)
    asyncio.run(follower.run_due())
    asyncio.run(follower.run_due())
    assert log == ["mx.test"] and handed == ["mx.test"]  # ordered nothing, handed the file over once


@given(st.text(alphabet=st.characters(min_codepoint=0x21, max_codepoint=0x7e), min_size=1, max_size=200))
def test_challenge_certificate_carries_the_digest(key_authorization: str) -> None:
    cert_pem, _key = challenge_certificate("mx.test", key_authorization)
    cert = x509.load_pem_x509_certificate(cert_pem)
    extension = cert.extensions.get_extension_for_oid(ID_PE_ACME_IDENTIFIER)
    assert extension.critical
    assert extension.value.value == b"\x04\x20" + hashlib.sha256(key_authorization.encode()).digest()
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert names.get_values_for_type(x509.DNSName) == ["mx.test"]


def test_port_80_answers_pending_tokens_and_redirects_the_rest() -> None:
    board = ChallengeBoard()
    app = port80_app(board)
    board.add_http01("tok", "tok.thumb")

    def get(path: str) -> tuple[int, dict[bytes, bytes], bytes]:
        sent: list[dict] = []

        async def send(message: dict) -> None:
            sent.append(message)

        async def receive() -> dict:
            return {"type": "http.request", "body": b""}

        path, _, query = path.partition("?")
        scope = {"type": "http", "method": "GET", "path": path, "query_string": query.encode(),
                 "headers": [(b"host", b"mx.test:80")]}
        asyncio.run(app(scope, receive, send))
        return sent[0]["status"], dict(sent[0]["headers"]), sent[1]["body"]

    assert get("/.well-known/acme-challenge/tok")[::2] == (200, b"tok.thumb")
    assert get("/.well-known/acme-challenge/other")[0] == 404
    status, headers, _ = get("/login?next=/")
    assert status == 301 and headers[b"location"] == b"https://mx.test/login?next=/"
    board.remove("tok", "mx.test")
    assert get("/.well-known/acme-challenge/tok")[0] == 404
