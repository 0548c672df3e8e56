"""Sieve at delivery with a real store and a fake clock: filing, reject, vacation, redirect with SRS,
runtime errors into INBOX, the spam filter's verdict (smtp/accept.py → smtp/filtering.py → delivery/)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from pillarbox.antispam.filter import ContentFilter
from pillarbox.auth.directory import Directory
from pillarbox.config import AntispamConfig
from pillarbox.delivery.filtering import SieveFilter
from pillarbox.delivery.local import LocalReport
from pillarbox.errors import ProtocolError
from pillarbox.mailauth import srs
from pillarbox.mailauth.dkim_sign import DKIMSigner
from pillarbox.smtp import replies
from pillarbox.smtp.accept import MessageAcceptor
from pillarbox.smtp.envelope import Recipient, Role, Transaction, resolve_recipient
from pillarbox.smtp.grammar import MailFrom, RcptTo
from pillarbox.store.sqlite.store import SQLiteStore

TRACE = {"helo": "mail.example.net", "client_ip": "192.0.2.1", "tls": None, "authenticated": False, "esmtp": True}
DAY = 86400.0


class World:
    def __init__(self, tmp: Path, spam: bool = False) -> None:
        self.now = 1_750_000_000.0
        self.store = SQLiteStore.open(tmp / "data", clock=lambda: self.now)
        self.reports: list[LocalReport] = []
        self.directory = Directory(self.store)

        async def report(local: LocalReport) -> None:
            self.reports.append(local)

        self.acceptor = MessageAcceptor(self.store, "mx.example.com", None, DKIMSigner(self.store),
                                        reporter=report, sieve=SieveFilter(self.store), directory=self.directory,
                                        spam=ContentFilter(self.store, AntispamConfig()) if spam else None)

    async def setup(self) -> None:
        await self.store.add_domain("example.com")
        self.bob = await self.store.add_account("bob@example.com", "hash", None)
        self.carol = await self.store.add_account("carol@example.com", "hash", None)

    async def script(self, text: str, account_id: int | None = None) -> None:
        await self.store.put_sieve_script(account_id or self.bob.id, "main", text)
        await self.store.activate_sieve_script(account_id or self.bob.id, "main")

    async def send(self, raw: bytes, *accounts: str, sender: str = "alice@example.net") -> replies.Reply:
        recipients = []
        for address in accounts:
            account = await self.store.get_account(address)
            recipients.append(Recipient(address, RcptTo(address), [account] if account else [], []))
        return await self.send_to(raw, recipients, sender)

    async def send_to(self, raw: bytes, recipients: list[Recipient], sender: str = "alice@example.net",
                      params: dict[str, str | None] | None = None) -> replies.Reply:
        transaction = Transaction(MailFrom(sender, params or {}), recipients)
        return await self.acceptor.accept(raw, transaction, TRACE, "Q1", None)

    async def folder(self, account_id: int, name: str) -> list[bytes]:
        mailbox = await self.store.get_mailbox(account_id, name)
        if mailbox is None:
            return []
        return [await self.store.read_message(m.message_id) for m in await self.store.list_messages(mailbox.id)]

    async def queued(self) -> list[tuple[str, list[str], bytes]]:
        return [(e.sender, [r.address for r in e.recipients], await self.store.read_message(e.message_id))
                for e in await self.store.list_queue()]


def run(tmp_path: Path, body, spam: bool = False) -> None:  # type: ignore[no-untyped-def]
    async def main() -> None:
        world = World(tmp_path, spam)
        await world.setup()
        try:
            await body(world)
        finally:
            await world.store.close()

    asyncio.run(main())


def mail(*fields: str, body: str = "hello\r\n") -> bytes:
    base = ("From: Alice <alice@example.net>", "To: bob@example.com", "Subject: hi", "Message-ID: <1@example.net>")
    return ("".join(f + "\r\n" for f in (*base, *fields)) + "\r\n" + body).encode()


def test_list_id_into_a_folder_created_on_demand(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('require ["fileinto", "mailbox", "variables"];\n'
                           'if header :matches "List-Id" "*<*.*>" { fileinto :create "Lists/${2}"; }')
        reply = await world.send(mail("List-Id: Users <users.lists.example.org>"), "bob@example.com")
        assert reply.code == 250
        assert len(await world.folder(world.bob.id, "Lists/users")) == 1
        assert await world.folder(world.bob.id, "INBOX") == []
        assert await world.store.get_mailbox(world.bob.id, "Lists") is not None

    run(tmp_path, body)


@pytest.mark.parametrize("script", [
    'require "fileinto"; fileinto "bad*name";',
    'require "fileinto"; fileinto "no-such-folder";',
    'require "fileinto"; fileinto "a%b";',
    'redirect "not an address";',
    'require ["fileinto"];' + "".join(f'fileinto :copy "f{i}";' for i in range(3)),
])
def test_runtime_errors_and_refused_folders_deliver_to_inbox(tmp_path: Path, script: str) -> None:
    async def body(world: World) -> None:
        await world.script(script.replace(":copy", ""))
        assert (await world.send(mail(), "bob@example.com")).code == 250
        assert len(await world.folder(world.bob.id, "INBOX")) == 1

    run(tmp_path, body)


def test_reject_is_550_for_a_sole_recipient_and_a_dsn_otherwise(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('require "reject"; reject "I do not want this\r\nat all";')
        reply = await world.send(mail(), "bob@example.com")
        assert (reply.code, reply.enhanced) == (550, "5.7.1") and "I do not want this at all" in reply.text
        assert await world.folder(world.bob.id, "INBOX") == []
        reply = await world.send(mail(), "bob@example.com", "carol@example.com")
        assert reply.code == 250 and len(await world.folder(world.carol.id, "INBOX")) == 1
        assert await world.folder(world.bob.id, "INBOX") == []
        [report] = world.reports
        assert report.recipients[0].status == "5.7.1"
        assert "I do not want this" in (report.recipients[0].diagnostic or "")

    run(tmp_path, body)


def test_vacation_once_per_days_and_never_to_lists(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('require "vacation"; vacation :days 2 :subject "Away" "Back on Monday.";')
        await world.send(mail(), "bob@example.com")
        await world.send(mail(), "bob@example.com")
        replies_sent = await world.queued()
        assert len(replies_sent) == 1
        sender, recipients, reply = replies_sent[0]
        assert (sender, recipients) == ("", ["alice@example.net"])
        assert b"Auto-Submitted: auto-replied" in reply and b"Subject: Away" in reply
        world.now += 2 * DAY + 1
        await world.send(mail(), "bob@example.com")
        assert len(await world.queued()) == 2
        world.now += 3 * DAY
        await world.send(mail("List-Id: <l.example.net>"), "bob@example.com")
        await world.send(mail(), "bob@example.com", sender="owner-list@example.net")
        await world.send(mail("Precedence: bulk"), "bob@example.com", sender="other@example.net")
        await world.send(mail(), "bob@example.com", sender="")
        assert len(await world.queued()) == 2
        assert len(await world.folder(world.bob.id, "INBOX")) == 7  # vacation never costs the message

    run(tmp_path, body)


def test_redirect_leaves_with_an_srs_sender_and_delivered_to(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('redirect "bob@elsewhere.test";')
        assert (await world.send(mail(), "bob@example.com")).code == 250
        assert await world.folder(world.bob.id, "INBOX") == []
        [(sender, recipients, raw)] = await world.queued()
        assert recipients == ["bob@elsewhere.test"]
        assert sender.startswith("SRS0=") and sender.endswith("@example.com")
        assert srs.reverse(sender, await world.store.server_secret("srs"), world.now) == "alice@example.net"
        assert raw.startswith(b"Delivered-To: bob@example.com\r\n")

    run(tmp_path, body)


def test_what_a_script_sends_on_because_of_a_requiretls_message_requires_tls_too(tmp_path: Path) -> None:
    """RFC 8689 6: a redirected copy and a vacation reply (it quotes the subject) keep REQUIRETLS."""
    async def body(world: World) -> None:
        await world.script('require "vacation"; redirect "bob@elsewhere.test"; vacation "Away.";')
        recipient = Recipient("bob@example.com", RcptTo("bob@example.com"), [world.bob], [])
        assert (await world.send_to(mail(), [recipient], params={"REQUIRETLS": None})).code == 250
        entries = await world.store.list_queue()
        assert sorted(e.sender != "" for e in entries) == [False, True]  # the reply and the redirect
        assert all(e.requiretls for e in entries)

        await world.send(mail(), "bob@example.com", sender="carol@example.net")  # without REQUIRETLS
        assert [e.requiretls for e in await world.store.list_queue()].count(False) == 2

    run(tmp_path, body)


def test_a_looping_message_is_kept_not_redirected(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('redirect "bob@elsewhere.test";')
        await world.send(mail("Delivered-To: bob@example.com"), "bob@example.com")
        assert await world.queued() == []
        assert len(await world.folder(world.bob.id, "INBOX")) == 1

    run(tmp_path, body)


def test_srs_bounce_is_routed_to_the_original_sender_and_forgeries_refused(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        secret = await world.store.server_secret("srs")
        address = srs.forward("alice@example.net", "example.com", secret, world.now)
        recipient = await resolve_recipient(world.directory, Role.MX, RcptTo(address), world.acceptor.srs_original)
        assert recipient.remote == ["alice@example.net"] and recipient.accounts == []
        for forged in (address.replace("=alice@", "=mallory@"), "SRS0=AAAAAA=AA=x.example=y@example.com"):
            with pytest.raises(ProtocolError) as refused:
                await resolve_recipient(world.directory, Role.MX, RcptTo(forged), world.acceptor.srs_original)
            assert refused.value.reply == replies.SRS_INVALID
        world.now += 30 * DAY
        with pytest.raises(ProtocolError):
            await resolve_recipient(world.directory, Role.MX, RcptTo(address), world.acceptor.srs_original)

    run(tmp_path, body)


def test_global_before_script_runs_first_and_stop_skips_the_users(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        before = 'require "fileinto"; if header :is "X-Spam" "yes" { fileinto "Junk"; stop; }'
        await world.store.put_sieve_script(None, "before", before)
        await world.store.put_sieve_script(None, "after", 'require "fileinto"; if size :over 1K { fileinto "Big"; }')
        await world.script('require "fileinto"; fileinto "Archive";')
        await world.send(mail("X-Spam: yes"), "bob@example.com")
        assert len(await world.folder(world.bob.id, "Junk")) == 1 and await world.folder(world.bob.id, "Archive") == []
        await world.send(mail(), "bob@example.com")
        assert len(await world.folder(world.bob.id, "Archive")) == 1
        # carol has no script of her own: the global ones still run for her
        await world.send(mail("X-Spam: yes"), "carol@example.com")
        assert len(await world.folder(world.carol.id, "Junk")) == 1

    run(tmp_path, body)


def test_duplicate_is_remembered_after_a_successful_run(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('require ["duplicate", "fileinto"]; if duplicate { fileinto "Trash"; }')
        await world.send(mail(), "bob@example.com")
        await world.send(mail(), "bob@example.com")
        assert len(await world.folder(world.bob.id, "INBOX")) == 1
        assert len(await world.folder(world.bob.id, "Trash")) == 1

    run(tmp_path, body)


def test_vacation_from_must_be_the_users_own(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.script('require "vacation";\n'
                           'vacation :addresses "ceo@bank.example" :from "ceo@bank.example" "Away.";')
        await world.send(mail(), "bob@example.com")
        [(_, _, reply)] = await world.queued()
        assert b"From: bob@example.com\r\n" in reply and b"bank.example" not in reply
        world.now += 8 * DAY
        await world.script('require "vacation"; vacation :from "Bob <bob@example.com>" "Away.";')
        await world.send(mail(), "bob@example.com")
        assert b"From: Bob <bob@example.com>\r\n" in (await world.queued())[1][2]

    run(tmp_path, body)


SPAMTEST = ('require ["spamtest", "spamtestplus", "relational", "comparator-i;ascii-numeric", "fileinto", "mailbox"];\n'
            'if spamtest :value "eq" :comparator "i;ascii-numeric" "10" { fileinto :create "Score10"; }\n'
            'if spamtest :percent :value "eq" :comparator "i;ascii-numeric" "0" { fileinto :create "Percent0"; }\n'
            'if header :is "X-Spam-Flag" "YES" { fileinto :create "Flagged"; }\n')


def test_spamtest_and_the_x_spam_fields_show_each_recipients_verdict(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.store.add_sender_rule(world.bob.id, "alice@example.net", "block")  # spam for bob
        await world.store.add_sender_rule(world.carol.id, "alice@example.net", "allow")  # ham for carol
        await world.script(SPAMTEST)
        await world.script(SPAMTEST, world.carol.id)
        assert (await world.send(mail(), "bob@example.com", "carol@example.com")).code == 250
        assert [len(await world.folder(world.bob.id, name)) for name in ("Score10", "Flagged", "Percent0")] == [1, 1, 0]
        [clean] = await world.folder(world.carol.id, "Percent0")
        assert b"X-Spam-Flag: NO" in clean
        assert await world.folder(world.carol.id, "Score10") == await world.folder(world.carol.id, "Flagged") == []

    run(tmp_path, body, spam=True)


def test_junk_verdict_keeps_into_junk_with_or_without_a_script_and_counts_as_filed(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        for account in (world.bob, world.carol):
            await world.store.add_sender_rule(account.id, "alice@example.net", "block")
        await world.script('require "imap4flags"; addflag "$Seen-By-Sieve"; keep;')  # bob: carol has no script
        assert (await world.send(mail(), "bob@example.com", "carol@example.com")).code == 250
        for account in (world.bob, world.carol):
            assert await world.folder(account.id, "INBOX") == []
            junk = await world.store.get_mailbox(account.id, "Junk")
            [entry] = await world.store.list_messages(junk.id)
            states = await world.store.spam_states(account.id, [entry.message_id])
            assert states[entry.message_id].filed == "spam"  # moving it out of Junk will teach ham

    run(tmp_path, body, spam=True)


def test_a_sieve_reject_of_one_account_behind_an_address_is_a_dsn_when_another_gets_it(tmp_path: Path) -> None:
    async def body(world: World) -> None:
        await world.store.add_sender_rule(world.bob.id, "alice@example.net", "block")  # a verdict apart from carol's
        await world.script('require "reject"; reject "not from you";')
        team = Recipient("team@example.com", RcptTo("team@example.com"), [world.bob, world.carol], [])
        assert (await world.send_to(mail(), [team])).code == 250
        assert len(await world.folder(world.carol.id, "INBOX")) == 1
        assert await world.folder(world.bob.id, "Junk") == await world.folder(world.bob.id, "INBOX") == []
        [report] = world.reports
        assert report.recipients[0].status == "5.7.1"

    run(tmp_path, body, spam=True)
