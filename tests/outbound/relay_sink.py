"""One message through a real ``Deliverer`` whose smarthost is an ``SMTPSink``: what the client sent."""

from __future__ import annotations

import asyncio

from pillarbox.config import Endpoint
from pillarbox.dns.fake import FakeResolver
from pillarbox.outbound.connect import ConnectSettings
from pillarbox.outbound.deliver import Deliverer, OutboundMessage, Outcome, Routing, Target
from pillarbox.outbound.tlspolicy import HostPolicy
from pillarbox.smtp.client import Timeouts
from tests.outbound.smtpsink import SMTPSink


def relay_to_sink(extensions: list[str], message: OutboundMessage,
                  targets: list[Target]) -> tuple[list[Outcome], SMTPSink]:
    """Deliver ``message`` to ``targets`` (all of b.test) through a sink advertising PIPELINING and
    ``extensions``; the outcomes, and the sink (closed) with the transactions it received."""
    sink = SMTPSink(extensions=["PIPELINING", *extensions])
    try:
        routing = Routing(sink.port, relay=Endpoint("127.0.0.1", sink.port), relay_tls="none")
        deliverer = Deliverer(FakeResolver({("127.0.0.1", "A"): ["127.0.0.1"]}),
                              ConnectSettings("mx.a.test", sink.port, Timeouts()), routing, None, _no_report)
        return asyncio.run(deliverer.deliver(message, "b.test", targets, _no_record)), sink
    finally:
        sink.close()


async def _no_report(policy: HostPolicy, host: str, result: str) -> None:
    return None


async def _no_record(outcomes: list[Outcome]) -> None:
    return None
