"""SPF/DKIM/DMARC on the wire: a real `pillarbox serve` (MX role) resolving through a loopback DNS server,
peers sending from chosen 127.0.0.x source addresses."""

from __future__ import annotations

import smtplib
from collections.abc import Iterator

import pytest

from pillarbox.config import PolicyConfig
from pillarbox.mailauth.arc import seal
from pillarbox.mailauth.dkim_sign import dns_value
from pillarbox.mime.headers import parse_fields
from pillarbox.policy.publish import mta_sts_id, mta_sts_policy
from tests.dnsserver import DNSServer
from tests.mailauth.keys import message, rsa_key, sign
from tests.mailauth.test_verifiers_hostile import sealing_key as relay_key
from tests.server_process import pillarbox
from tests.smtp.conftest import MailServer, start_server
from tests.stores import run_at

PEER = "127.0.0.5"
SERVED_POLICY_ID = mta_sts_id(mta_sts_policy(PolicyConfig().mta_sts_mode, "mx.test", PolicyConfig().mta_sts_max_age))


def _txt(text: str) -> str:
    """TXT rdata text: quoted strings of at most 255 characters."""
    return " ".join('"' + text[i:i + 200] + '"' for i in range(0, len(text), 200))


def zone() -> dict[tuple[str, str], list[str]]:
    key = rsa_key()
    records = {
        ("reject.test", "TXT"): [_txt("v=spf1 ip4:127.0.0.9 -all")],
        ("_dmarc.reject.test", "TXT"): [_txt("v=DMARC1; p=reject")],
        ("quarantine.test", "TXT"): [_txt("v=spf1 ip4:127.0.0.9 -all")],
        ("_dmarc.quarantine.test", "TXT"): [_txt("v=DMARC1; p=quarantine")],
        ("good.test", "TXT"): [_txt(f"v=spf1 ip4:{PEER} -all")],
        ("_dmarc.good.test", "TXT"): [_txt("v=DMARC1; p=reject")],
        ("signed.test", "TXT"): [_txt("v=spf1 -all")],
        ("_dmarc.signed.test", "TXT"): [_txt("v=DMARC1; p=reject")],
        ("s1._domainkey.signed.test", "TXT"): [_txt(key.txt)],
        (f"{relay_key().selector}._domainkey.relay.test", "TXT"): [_txt(dns_value(relay_key()))],
        # an organization that rejects, with subdomains publishing DMARC records none of which is usable:
        # their mail gets no DMARC policy at all (RFC 7489 6.6.3), not the organization's p=reject
        ("_dmarc.orgreject.test", "TXT"): [_txt("v=DMARC1; p=reject")],
        ("twice.orgreject.test", "TXT"): [_txt("v=spf1 ?all")],
        ("_dmarc.twice.orgreject.test", "TXT"): [_txt("v=DMARC1; p=none"), _txt("v=DMARC1; p=quarantine")],
        ("badp.orgreject.test", "TXT"): [_txt("v=spf1 ?all")],
        ("_dmarc.badp.orgreject.test", "TXT"): [_txt("v=DMARC1; p=bogus")],
        ("silent.orgreject.test", "TXT"): [_txt("v=spf1 ?all")],
        # a domain that publishes badly, for `pillarbox check`
        ("broken-pub.test", "MX"): ["10 mail.elsewhere.test."],
        ("broken-pub.test", "TXT"): [_txt("v=spf1 -all"), _txt("v=spf1 mx -all")],
        # one that publishes well
        ("fine.test", "MX"): ["10 mx.test."],
        ("fine.test", "TXT"): [_txt("v=spf1 ip4:127.0.0.1 -all")],
        ("_dmarc.fine.test", "TXT"): [_txt("v=DMARC1; p=reject")],
        ("_mta-sts.fine.test", "TXT"): [_txt(f"v=STSv1; id={SERVED_POLICY_ID}")],  # the id `pillarbox dns` gives
        ("mta-sts.fine.test", "A"): ["127.0.0.1"],
        ("_smtp._tls.fine.test", "TXT"): [_txt("v=TLSRPTv1; rua=mailto:tls@fine.test")],
        ("mx.test", "A"): ["127.0.0.1"],
        ("1.0.0.127.in-addr.arpa", "PTR"): ["mx.test."],
    }
    return records


@pytest.fixture(scope="module")
def dns() -> Iterator[DNSServer]:
    server = DNSServer(zone(), servfail=["broken.test"])
    yield server
    server.close()


@pytest.fixture(scope="module")
def mx(tmp_path_factory: pytest.TempPathFactory, dns: DNSServer) -> Iterator[MailServer]:
    extra = f'[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 2\n[policy]\npublic_ip = "127.0.0.1"\n'
    running = start_server(tmp_path_factory.mktemp("policy"), extra=extra, mail_auth=True)
    yield running
    assert running.process.stop() == 0
    assert "Traceback" not in running.process.log()


def send(mx: MailServer, sender: str, raw: bytes, rcpt: str = "bob@example.com") -> tuple[int, bytes]:
    with smtplib.SMTP("127.0.0.1", mx.smtp, source_address=(PEER, 0), timeout=30) as client:
        client.ehlo("peer.test")
        code, text = client.mail(sender)
        if code != 250:
            return code, text
        assert client.rcpt(rcpt)[0] == 250
        return client.data(raw)


def test_dmarc_reject_is_550(mx: MailServer) -> None:
    code, text = send(mx, "alice@reject.test", message("alice@reject.test", subject="reject me"))
    assert (code, text[:5]) == (550, b"5.7.1") and b"DMARC" in text and b"reject.test" in text


def test_dmarc_quarantine_goes_to_junk(mx: MailServer) -> None:
    code, _ = send(mx, "alice@quarantine.test", message("alice@quarantine.test", subject="quarantined"))
    assert code == 250
    junk = mx.messages("bob@example.com", "Junk")
    assert any(b"Subject: quarantined" in m for m in junk)
    assert not any(b"Subject: quarantined" in m for m in mx.messages("bob@example.com"))


def test_pass_with_forged_results_removed(mx: MailServer) -> None:
    forged = (b"Authentication-Results: mx.test; dkim=pass header.d=bank.test\r\n"
              b"Authentication-Results: elsewhere.example; spf=pass\r\n")
    code, _ = send(mx, "alice@good.test", forged + message("alice@good.test", subject="genuine"))
    assert code == 250
    [stored] = [m for m in mx.messages("bob@example.com") if b"Subject: genuine" in m]
    ours = [line for line in stored.split(b"\r\n") if line.lower().startswith(b"authentication-results: mx.test")]
    assert len(ours) == 1
    assert b"header.d=bank.test" not in stored
    assert b"Authentication-Results: elsewhere.example; spf=pass" in stored
    assert b"spf=pass" in stored and b"dmarc=pass" in stored


def test_dkim_pass_satisfies_dmarc_despite_spf_fail(mx: MailServer) -> None:
    raw = sign(message("alice@signed.test", subject="signed"), "signed.test", "s1", rsa_key())
    code, _ = send(mx, "alice@signed.test", raw)
    assert code == 250
    [stored] = [m for m in mx.messages("bob@example.com") if b"Subject: signed" in m]
    assert b"dkim=pass" in stored and b"header.d=signed.test" in stored and b"spf=fail" in stored


def test_spf_temperror_is_451(mx: MailServer) -> None:
    code, text = send(mx, "alice@broken.test", message("alice@broken.test"))
    assert code == 451 and text.startswith(b"4.7.")


def http_get(mx: MailServer, host: str, path: str = "/.well-known/mta-sts.txt") -> tuple[int, bytes]:
    import socket

    with socket.create_connection(("127.0.0.1", mx.process.port("http")), timeout=10) as sock:
        # the web face keeps HTTP/1.1 connections open (10 s): ask it to close, so reading to EOF ends at once
        sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        data = b""
        while chunk := sock.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def test_mta_sts_policy_served_for_local_domains(mx: MailServer) -> None:
    status, body = http_get(mx, "mta-sts.example.com")
    assert status == 200
    assert body == b"version: STSv1\r\nmode: testing\r\nmx: mx.test\r\nmax_age: 604800\r\n"
    assert http_get(mx, "MTA-STS.example.org:443")[0] == 200
    assert http_get(mx, "mta-sts.unknown.test")[0] == 404


def test_check_reports_a_broken_domain(mx: MailServer) -> None:
    result = pillarbox(mx.process.config, "check", "broken-pub.test", check=False)
    out = result.stdout.decode()
    assert result.returncode == 1, out + result.stderr.decode()
    assert "WRONG    MX       MX points to mail.elsewhere.test (10), not to mx.test" in out
    assert "publish: broken-pub.test. MX 10 mx.test." in out
    assert "WRONG    SPF      2 SPF records" in out
    assert "MISSING  DMARC" in out and 'publish: _dmarc.broken-pub.test. TXT "v=DMARC1; p=quarantine' in out
    assert "MISSING  TLS-RPT" in out and "MISSING  MTA-STS" in out
    assert "ok       PTR      127.0.0.1 → mx.test" in out


def test_check_a_good_domain(mx: MailServer) -> None:
    result = pillarbox(mx.process.config, "check", "fine.test", check=False)
    out = result.stdout.decode()
    assert result.returncode == 0, out
    assert "ok       SPF      v=spf1 ip4:127.0.0.1 -all (pass for 127.0.0.1)" in out
    assert "fine.test publishes everything we need" in out


def test_dmarc_aggregate_data_recorded(mx: MailServer) -> None:
    send(mx, "alice@reject.test", message("alice@reject.test", subject="again"))
    observed = run_at(mx.data_dir, lambda store: store.dmarc_observations())
    rows = [tuple(o[key] for key in ("policy_domain", "source_ip", "dmarc_result", "disposition", "count"))
            for o in observed if o["policy_domain"] == "reject.test"]
    assert rows and rows[0][:4] == ("reject.test", PEER, "fail", "reject") and rows[0][4] >= 1


def stored_with_subject(mx: MailServer, subject: bytes) -> bytes:
    [stored] = [m for m in mx.messages("bob@example.com") if b"Subject: " + subject + b"\r\n" in m]
    return stored


def test_odd_header_lines_in_a_signed_and_sealed_message_are_delivered(mx: MailServer) -> None:
    """dkimpy raised on these lines and the MX answered 451 4.3.0 on every retry: the message never came.
    The odd lines are outside what the signature and the seal cover, so both still pass, and DMARC
    (p=reject, SPF -all) passes through the DKIM signature."""
    signed = sign(message("alice@signed.test", subject="odd lines"), "signed.test", "s1", rsa_key())
    results = b"Authentication-Results: relay.test; dkim=pass header.d=signed.test\r\n"
    forwarded = seal(results + signed, relay_key(), "relay.test")
    raw = b" a stray continuation\r\nX-Obs : v\r\n" + forwarded.replace(b"From:", b"no colon here\r\nFrom:", 1)
    code, text = send(mx, "alice@signed.test", raw)
    assert code == 250, text
    stored = stored_with_subject(mx, b"odd lines")
    [ours] = [v for n, v in parse_fields(stored, 0, len(stored)) if n == "authentication-results" and
              v.startswith("mx.test;")]
    assert "dkim=pass header.d=signed.test" in ours and "dmarc=pass" in ours and "arc=pass" in ours, ours


@pytest.mark.parametrize("domain", ["twice.orgreject.test", "badp.orgreject.test"])
def test_an_unusable_subdomain_record_does_not_inherit_the_org_reject(mx: MailServer, domain: str) -> None:
    """Was 550 5.7.1: discovery fell back to the organizational domain's p=reject."""
    code, text = send(mx, f"alice@{domain}", message(f"alice@{domain}", subject=f"from {domain}"))
    assert code == 250, text
    stored = stored_with_subject(mx, f"from {domain}".encode())
    assert b"dmarc=none" in stored


def test_a_subdomain_without_any_record_gets_the_org_reject(mx: MailServer) -> None:
    code, text = send(mx, "alice@silent.orgreject.test", message("alice@silent.orgreject.test"))
    assert (code, text[:5]) == (550, b"5.7.1") and b"orgreject.test" in text
