"""What the server writes itself (DSNs, DMARC and TLS reports) goes out DKIM-signed by the served
domain the host name belongs to, so it passes DMARC at the receiver (relaxed alignment)."""

from __future__ import annotations

import dkim

from pillarbox.auth.directory import Directory
from pillarbox.mailauth.dkim_sign import DKIMSigner
from pillarbox.queue.reports import Reporter
from pillarbox.queue.schedule import RetryPolicy
from pillarbox.store.sqlite.store import SQLiteStore

NOTICE = (b"From: Mail Delivery System <MAILER-DAEMON@mx.a.test>\r\nTo: someone@remote.test\r\n"
          b"Subject: Undelivered Mail\r\nMessage-ID: <n1@mx.a.test>\r\n\r\nIt bounced.\r\n")


async def _queued(store: SQLiteStore, hostname: str) -> bytes:
    reporter = Reporter(store, Directory(store), hostname, RetryPolicy(), lambda: None, DKIMSigner(store))
    await reporter.send("someone@remote.test", NOTICE.replace(b"mx.a.test", hostname.encode()))
    entries = await store.lease_queue("test", 60, 10)
    assert [e.sender for e in entries] == [""]  # null reverse-path
    return await store.read_message(entries[0].message_id)


def test_a_report_is_signed_by_the_domain_above_the_host_name(with_store):
    async def body(store: SQLiteStore) -> None:
        await store.add_domain("a.test")
        raw = await _queued(store, "mx.a.test")
        keys = {f"{k.selector}._domainkey.{k.domain}.".encode(): k for k in await store.dkim_keys("a.test")}

        def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
            key = keys.get(name if name.endswith(b".") else name + b".")
            kind = "ed25519" if key and key.algorithm.startswith("ed25519") else "rsa"
            return f"v=DKIM1; k={kind}; p={key.public_key}".encode() if key else None

        assert raw.startswith(b"DKIM-Signature:") and b"d=a.test" in raw
        assert dkim.verify(raw, dnsfunc=dnsfunc)

    with_store(body)


def test_a_host_name_outside_our_domains_sends_unsigned(with_store):
    async def body(store: SQLiteStore) -> None:
        await store.add_domain("a.test")
        raw = await _queued(store, "mail.elsewhere.test")
        assert b"DKIM-Signature" not in raw

    with_store(body)
