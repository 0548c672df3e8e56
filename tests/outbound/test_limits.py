"""RFC 9422 LIMITS kept by the SMTP client: at most RCPTMAX recipients a transaction, at most MAILMAX
transactions a session; and the parameters read from an EHLO reply."""

from __future__ import annotations

import asyncio

from pillarbox.config import Endpoint
from pillarbox.dns.fake import FakeResolver
from pillarbox.outbound.connect import ConnectSettings
from pillarbox.outbound.deliver import Deliverer, OutboundMessage, Outcome, Routing, Target
from pillarbox.smtp.client import Timeouts
from pillarbox.smtp.client_protocol import Extensions, ServerReply
from tests.outbound.smtpsink import SMTPSink


def test_limits_are_read_from_ehlo() -> None:
    ext = Extensions.parse(ServerReply(250, ("mx.test", "LIMITS RCPTMAX=20 MAILMAX=5 X=1", "SIZE 10")))
    assert (ext.limit("RCPTMAX"), ext.limit("MAILMAX"), ext.limit("RCPTDOMAINMAX")) == (20, 5, None)
    assert Extensions.parse(ServerReply(250, ("mx.test", "LIMITS RCPTMAX=0 MAILMAX=x"))).limit("RCPTMAX") is None


def test_the_client_keeps_rcptmax_and_mailmax() -> None:
    sink = SMTPSink(extensions=["PIPELINING", "LIMITS RCPTMAX=2 MAILMAX=2"])
    try:
        routing = Routing(sink.port, relay=Endpoint("127.0.0.1", sink.port), relay_tls="none")
        resolver = FakeResolver({("127.0.0.1", "A"): ["127.0.0.1"]})
        deliverer = Deliverer(resolver, ConnectSettings("mx.a.test", sink.port, Timeouts()), routing, None,
                              _no_report)
        targets = [Target(n, f"u{n}@b.test") for n in range(5)]

        async def record(outcomes: list[Outcome]) -> None:
            return None

        message = OutboundMessage("q1", "alice@a.test", b"Subject: x\r\n\r\nx\r\n")
        outcomes = asyncio.run(deliverer.deliver(message, "b.test", targets, record))
    finally:
        sink.close()
    assert [len(m.recipients) for m in sink.messages] == [2, 2]  # two transactions of two
    assert [o.kind for o in outcomes] == ["relayed"] * 4 + ["temporary"]
    assert outcomes[-1].status == "4.5.3"


async def _no_report(policy, host, result):  # type: ignore[no-untyped-def]
    return None



def test_mt_priority_is_passed_to_a_peer_that_takes_it() -> None:
    results = []
    for extensions in (["MT-PRIORITY"], []):
        sink = SMTPSink(extensions=["PIPELINING", *extensions])
        try:
            routing = Routing(sink.port, relay=Endpoint("127.0.0.1", sink.port), relay_tls="none")
            deliverer = Deliverer(FakeResolver({("127.0.0.1", "A"): ["127.0.0.1"]}),
                                  ConnectSettings("mx.a.test", sink.port, Timeouts()), routing, None, _no_report)

            async def record(outcomes: list[Outcome]) -> None:
                return None

            message = OutboundMessage("q1", "alice@a.test", b"Subject: x\r\n\r\nx\r\n", priority=5)
            asyncio.run(deliverer.deliver(message, "b.test", [Target(0, "u@b.test")], record))
            results.append(sink.messages[0].mail_params)
        finally:
            sink.close()
    assert results == [["MT-PRIORITY=5"], []]
