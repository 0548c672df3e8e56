"""Verdicts → action: DMARC decides when published, SPF knobs otherwise, DNS trouble defers."""

from __future__ import annotations

import asyncio

from pillarbox.dns.fake import TEMPFAIL, FakeResolver
from pillarbox.policy.inbound import Action, DMARCObservation, InboundPolicy, PolicySettings
from tests.mailauth.keys import message, rsa_key, sign

IP = "192.0.2.7"


class Recorder:
    def __init__(self) -> None:
        self.rows: list[DMARCObservation] = []

    async def record_dmarc(self, observation: DMARCObservation) -> None:
        self.rows.append(observation)


def run(records: dict, raw: bytes, mail_from: str = "alice@example.com", settings: PolicySettings | None = None,
        recorder: Recorder | None = None):
    policy = InboundPolicy(FakeResolver(records), "mx.test", settings, recorder, sample=lambda: 0.0)

    async def go():
        sender = await policy.check_sender(IP, "mail.example.com", mail_from)
        if sender.decision.action is not Action.ACCEPT:
            return sender, None
        return sender, await policy.evaluate(raw, sender)

    return asyncio.run(go())


def spf(text: str) -> dict:
    return {("example.com", "TXT"): [text]}


def dmarc(text: str) -> dict:
    return {("_dmarc.example.com", "TXT"): [text]}


def test_spf_temperror_defers_at_mail_from() -> None:
    sender, evaluation = run({("example.com", "TXT"): TEMPFAIL}, message())
    assert sender.decision.action is Action.TEMPFAIL and evaluation is None
    sender, evaluation = run({("example.com", "TXT"): TEMPFAIL}, message(),
                             settings=PolicySettings(spf_temperror="accept"))
    assert sender.decision.action is Action.ACCEPT and evaluation is not None


def test_dmarc_reject_and_quarantine() -> None:
    records = {**spf("v=spf1 -all"), **dmarc("v=DMARC1; p=reject")}
    _, evaluation = run(records, message())
    assert evaluation.decision.action is Action.REJECT and evaluation.decision.domain == "example.com"
    records.update(dmarc("v=DMARC1; p=quarantine"))
    assert run(records, message())[1].decision.action is Action.JUNK
    records.update(dmarc("v=DMARC1; p=none"))
    assert run(records, message())[1].decision.action is Action.ACCEPT


def test_dmarc_pass_with_dkim_despite_spf_fail() -> None:
    key = rsa_key()
    records = {**spf("v=spf1 -all"), **dmarc("v=DMARC1; p=reject"),
               ("s1._domainkey.example.com", "TXT"): [key.txt]}
    _, evaluation = run(records, sign(message(), "example.com", "s1", key))
    assert evaluation.decision.action is Action.ACCEPT
    header = evaluation.header.decode()
    assert header.startswith("Authentication-Results: mx.test;")
    assert "spf=fail" in header and "dkim=pass" in header and "header.d=example.com" in header
    assert "dmarc=pass (p=reject dis=none) header.from=example.com" in header


def test_spf_knobs_without_dmarc() -> None:
    assert run(spf("v=spf1 -all"), message())[1].decision.action is Action.JUNK
    reject = PolicySettings(spf_fail_without_dmarc="reject")
    assert run(spf("v=spf1 -all"), message(), settings=reject)[1].decision.action is Action.REJECT
    assert run(spf("v=spf1 ~all"), message())[1].decision.action is Action.ACCEPT
    assert run(spf(f"v=spf1 ip4:{IP} -all"), message())[1].decision.action is Action.ACCEPT


def test_spf_fail_never_rejects_when_dmarc_published() -> None:
    records = {**spf("v=spf1 -all"), **dmarc("v=DMARC1; p=none")}
    reject = PolicySettings(spf_fail_without_dmarc="reject")
    assert run(records, message(), settings=reject)[1].decision.action is Action.ACCEPT


def test_dmarc_temperror_defers() -> None:
    records = {**spf("v=spf1 -all"), ("_dmarc.example.com", "TXT"): TEMPFAIL}
    assert run(records, message())[1].decision.action is Action.TEMPFAIL


def test_null_sender_checks_helo() -> None:
    records = {("mail.example.com", "TXT"): [f"v=spf1 ip4:{IP} -all"]}
    sender, evaluation = run(records, message(), mail_from="")
    assert sender.spf.identity == "helo" and sender.spf.result.value == "pass"
    assert "smtp.helo=mail.example.com" in evaluation.header.decode()


def test_aggregate_rows_recorded() -> None:
    recorder = Recorder()
    records = {**spf(f"v=spf1 ip4:{IP} -all"), **dmarc("v=DMARC1; p=reject")}
    run(records, message(), recorder=recorder)
    [row] = recorder.rows
    assert (row.policy_domain, row.source_ip, row.dmarc_result, row.spf_aligned) == ("example.com", IP, "pass", True)
