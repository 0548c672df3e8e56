"""RFC 9422 LIMITS kept by the SMTP client: at most RCPTMAX recipients a transaction, at most MAILMAX
transactions a session; and the parameters read from an EHLO reply."""

from __future__ import annotations

from pillarbox.outbound.deliver import OutboundMessage, Target
from pillarbox.smtp.client_protocol import Extensions, ServerReply
from tests.outbound.relay_sink import relay_to_sink


def test_limits_are_read_from_ehlo() -> None:
    ext = Extensions.parse(ServerReply(250, ("mx.test", "LIMITS RCPTMAX=20 MAILMAX=5 X=1", "SIZE 10")))
    assert (ext.limit("RCPTMAX"), ext.limit("MAILMAX"), ext.limit("RCPTDOMAINMAX")) == (20, 5, None)
    assert Extensions.parse(ServerReply(250, ("mx.test", "LIMITS RCPTMAX=0 MAILMAX=x"))).limit("RCPTMAX") is None


def test_the_client_keeps_rcptmax_and_mailmax() -> None:
    message = OutboundMessage("q1", "alice@a.test", b"Subject: x\r\n\r\nx\r\n")
    targets = [Target(n, f"u{n}@b.test") for n in range(5)]
    outcomes, sink = relay_to_sink(["LIMITS RCPTMAX=2 MAILMAX=2"], message, targets)
    assert [len(m.recipients) for m in sink.messages] == [2, 2]  # two transactions of two
    assert [o.kind for o in outcomes] == ["relayed"] * 4 + ["temporary"]
    assert outcomes[-1].status == "4.5.3"


def test_mt_priority_is_passed_to_a_peer_that_takes_it() -> None:
    message = OutboundMessage("q1", "alice@a.test", b"Subject: x\r\n\r\nx\r\n", priority=5)
    results = [relay_to_sink(extensions, message, [Target(0, "u@b.test")])[1].messages[0].mail_params
               for extensions in (["MT-PRIORITY"], [])]
    assert results == [["MT-PRIORITY=5"], []]
