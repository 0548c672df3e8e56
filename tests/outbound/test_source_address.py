"""Leaving from the right address: ``[outbound] source_ipv4/source_ipv6`` (by the peer's family), and
``pillarbox check`` wanting the PTR of each to name the EHLO name."""

from __future__ import annotations

import asyncio

from pillarbox.admin.check import Target, _ptr
from pillarbox.dns.fake import FakeResolver
from pillarbox.outbound.connect import ConnectSettings
from pillarbox.smtp.client import SMTPClient, Timeouts


def test_the_source_follows_the_family_of_the_peer() -> None:
    settings = ConnectSettings("mx.a.test", 25, Timeouts(), source_ipv4="127.0.0.9", source_ipv6="::1")
    assert settings.source_for("127.0.0.1") == "127.0.0.9" and settings.source_for("::1") == "::1"
    assert ConnectSettings("mx.a.test", 25, Timeouts()).source_for("192.0.2.1") is None


def test_a_connection_leaves_from_the_source_address() -> None:
    async def scenario() -> str:
        seen: list[str] = []

        async def greet(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            seen.append(writer.get_extra_info("peername")[0])
            writer.write(b"220 ok\r\n")
            await writer.drain()
            writer.close()

        server = await asyncio.start_server(greet, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        client = await SMTPClient.connect("127.0.0.1", port, Timeouts(), source="127.0.0.9")
        await client.greet()
        await client.close()
        server.close()
        return seen[0]

    assert asyncio.run(scenario()) == "127.0.0.9"


def test_check_wants_the_ptr_of_every_source_to_name_the_ehlo_name() -> None:
    resolver = FakeResolver({("192.0.2.1", "PTR"): ["mx.a.test"], ("192.0.2.7", "PTR"): ["other.a.test"]})
    target = Target("a.test", "mx.a.test", "192.0.2.1", [], sources=("192.0.2.7", "192.0.2.1"))
    findings = asyncio.run(_ptr(resolver, target))
    assert [(f.status, f.item) for f in findings] == [("ok", "PTR"), ("WRONG", "PTR")]
    assert "192.0.2.7 is other.a.test, not mx.a.test (the EHLO name)" in findings[1].detail
