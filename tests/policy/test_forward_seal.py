"""An alias forwarding MX mail to a remote target: the queued copy is ARC-sealed by the alias domain,
the local copy is not (smtp/accept.py with a real store)."""

from __future__ import annotations

from collections.abc import Callable

import dkim

from pillarbox.dns.fake import FakeResolver
from pillarbox.mailauth.arc import verify_chain
from pillarbox.mailauth.dkim_sign import RSA, DKIMSigner, dns_value
from pillarbox.mailauth.spf import SPFResult, SPFVerdict
from pillarbox.policy.inbound import InboundPolicy, SenderCheck
from pillarbox.smtp.accept import MessageAcceptor
from pillarbox.smtp.envelope import Recipient, Transaction
from pillarbox.smtp.grammar import MailFrom, RcptTo
from pillarbox.store.sqlite.store import SQLiteStore
from tests.conftest import StoreTest
from tests.mailauth.keys import message, rsa_key, sign

HOST = "mx.forward.test"
TRACE = {"helo": "mail.example.com", "client_ip": "192.0.2.1", "tls": None, "authenticated": False, "esmtp": True}


def test_forwarded_copy_is_sealed(with_store: Callable[[StoreTest], None]) -> None:
    async def body(store: SQLiteStore) -> None:
        await store.add_domain("forward.test")
        carol = await store.add_account("carol@forward.test", "hash", None)
        resolver = FakeResolver({("s1._domainkey.example.com", "TXT"): [rsa_key().txt],
                                 ("_dmarc.example.com", "TXT"): ["v=DMARC1; p=reject"]})
        acceptor = MessageAcceptor(store, HOST, InboundPolicy(resolver, HOST), DKIMSigner(store))
        transaction = Transaction(MailFrom("alice@example.com"), [
            Recipient("fwd@forward.test", RcptTo("fwd@forward.test"), [carol], ["bob@remote.test"])])
        spf = SPFVerdict(SPFResult.PASS, "example.com", "mailfrom")
        raw = sign(message(), "example.com", "s1", rsa_key())
        reply = await acceptor.accept(raw, transaction, TRACE, "Q1", None,
                                      SenderCheck("192.0.2.1", "mail.example.com", "alice@example.com", spf))
        assert reply.code == 250
        [entry] = await store.list_queue()
        queued = await store.read_message(entry.message_id)
        assert queued.startswith(b"ARC-Seal: i=1; cv=none;")
        key = next(k for k in await store.dkim_keys("forward.test") if k.algorithm == RSA)
        resolver.records[(f"{key.selector}._domainkey.forward.test", "TXT")] = [dns_value(key)]
        assert (await verify_chain(resolver, queued)).result == "pass"

        def dnsfunc(name: bytes, timeout: float = 5) -> bytes | None:
            values = resolver.records.get((name.decode().rstrip(".").lower(), "TXT"), [])
            return values[0].encode() if values else None  # type: ignore[index]

        cv, _, reason = dkim.arc_verify(queued, dnsfunc=dnsfunc)
        assert cv == dkim.CV_Pass, reason
        inbox = await store.get_mailbox(carol.id, "INBOX")
        assert inbox is not None
        [stored] = await store.list_messages(inbox.id)
        local = await store.read_message(stored.message_id)
        assert b"ARC-Seal" not in local and b"Authentication-Results: " + HOST.encode() in local

    with_store(body)
