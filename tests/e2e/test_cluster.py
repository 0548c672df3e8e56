"""Three nodes, one PostgreSQL: real ``pillarbox serve`` processes that share one database and one config
file (only their SMTP addresses differ, ``[nodes.NAME.listen]`` picked by ``serve --node``), behaving as one
server. On one machine they also share the file's data_dir (on separate machines each has its own).

- a delivery over SMTP to one node wakes an IDLE session on another with ``* EXISTS``;
- two clients on two nodes APPEND into one mailbox in alternation: UIDs strictly increasing, and a third
  client's QRESYNC on the third node sees exactly the difference;
- a POP3 login on one node while another node holds the maildrop: ``-ERR [IN-USE]``;
- 500 queued messages to a slow peer drained by the three nodes, one killed with SIGKILL halfway: every
  message arrives (the killed node's leases expire and others take them), counted by Message-ID, and a
  duplicate only where a delivery was cut between the peer's 250 and the commit (RFC 5321 6.1's
  at-least-once): only messages the killed node held a lease on at the kill (read from the database
  then), each at most twice, no more than ``per_domain`` (held cluster-wide).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import poplib
import re
import smtplib
import socket
import ssl
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from pillarbox.auth.passwords import make_credentials
from pillarbox.mailauth.dkim_sign import ensure_keys
from pillarbox.store.postgres.store import PostgresStore
from tests import pg_cluster, stores
from tests.dnsserver import DNSServer
from tests.e2e.outbound_env import SMTP_PORT, MXNet
from tests.imap_wire.raw import RawIMAP
from tests.outbound.smtpsink import SMTPSink
from tests.server_process import NO_PREGREET_WAIT, ServerProcess, eventually
from tests.smtp.conftest import PASSWORD

pytestmark = pytest.mark.slow
PER_DOMAIN = 4  # deliveries to the peer at once, all nodes together: the most the killed node had in flight
QUEUED = 500


@dataclass
class Cluster:
    nodes: list[ServerProcess]
    url: str
    certificate: Path
    sink: SMTPSink
    mx: MXNet

    def tls(self, node: int) -> ssl.SSLContext:
        context = ssl.create_default_context(cafile=str(self.certificate))  # one for all nodes
        context.check_hostname = False
        return context

    def imap(self, node: int, user: str = "bob@example.com") -> RawIMAP:
        return RawIMAP(self.nodes[node].port("imaps"), self.tls(node), user)


HOSTS = (2, 3, 4)


def _config(mx: MXNet, dns: DNSServer, url: str) -> str:
    """The one config every node reads; each node's SMTP address is its own."""
    remote_port = "" if mx.port == SMTP_PORT else f"smtp_port = {mx.port}\n"
    nodes = "".join(f'[nodes.n{host}.listen]\nsmtp = ["{mx.ip(host)}:{mx.port}"]\n\n' for host in HOSTS)
    return (f'hostname = "mx.example.com"\ndata_dir = "data"\nworkers = 1\n\n'
            f'[listen]\nsubmission = ["127.0.0.1:0"]\nimaps = ["127.0.0.1:0"]\npop3s = ["127.0.0.1:0"]\n\n{nodes}'
            f'[policy]\ncheck = false\n\n[dns]\nnameservers = ["{dns.nameserver}"]\ntimeout = 2\n\n'
            f"[queue]\nper_domain = {PER_DOMAIN}\nlease = 3\nretry_first = 1\nretry_max = 2\npoll_interval = 0.2\n\n"
            f"[outbound]\n{remote_port}connect_timeout = 3\n\n"
            f"[antispam]\n{NO_PREGREET_WAIT}\nmax_messages_per_hour = 0\n\n"
            f"[store]\nurl = \"{url}\"\n")


def _populate(url: str) -> None:
    async def fill() -> None:
        store = await PostgresStore.open(url)
        try:
            await store.add_domain("example.com")
            await ensure_keys(store, "example.com")  # as `domain add` does: the nodes sign with them
            for user in ("bob@example.com", "alice@example.com"):
                await store.add_account(user, *make_credentials(PASSWORD))
        finally:
            await store.close()

    asyncio.run(fill())


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, mx_net: MXNet,
            postgres_cluster: pg_cluster.Cluster) -> Iterator[Cluster]:
    url = stores.fresh_database(postgres_cluster.url())
    _populate(url)
    dns = DNSServer({("peer.test", "MX"): ["10 mx.peer.test."], ("mx.peer.test", "A"): [mx_net.ip(6)]})
    sink = SMTPSink(host=mx_net.ip(6), port=mx_net.port, data_delay=0.05)  # slow: deliveries overlap the kill
    config = tmp_path_factory.mktemp("cluster") / "pillarbox.toml"
    config.write_text(_config(mx_net, dns, url))
    nodes: list[ServerProcess] = []
    try:
        for host in HOSTS:
            nodes.append(ServerProcess(config, shares_data_dir=True, serve_args=("--node", f"n{host}")))
        yield Cluster(nodes, url, config.parent / "data" / "tls" / "cert.pem", sink, mx_net)
    finally:
        for node in nodes:
            node.kill()
        sink.close()
        dns.close()
        stores.drop_database(postgres_cluster.url(), url)


def test_a_delivery_on_one_node_wakes_idle_on_another(cluster: Cluster):
    watcher = cluster.imap(1)
    try:
        watcher.command("w1 SELECT INBOX")
        watcher.send(b"w2 IDLE\r\n")
        assert watcher.line().startswith(b"+ ")
        with smtplib.SMTP(cluster.mx.ip(2), cluster.mx.port, timeout=30) as client:
            client.sendmail("someone@remote.test", ["bob@example.com"], b"Subject: wake up\r\n\r\nhi\r\n")
        started = time.monotonic()
        line = watcher.line()  # the socket's timeout bounds the wait
        assert re.fullmatch(rb"\* \d+ EXISTS", line), line
        print(f"EXISTS on node .3 {1000 * (time.monotonic() - started):.0f} ms after the 250 on node .2")
        watcher.send(b"DONE\r\n")
        while not (line := watcher.line()).startswith(b"w2 "):
            assert line.startswith(b"* "), line
        assert line == b"w2 OK IDLE terminated"
    finally:
        watcher.close()


def test_appends_from_two_nodes_interleave_and_qresync_on_a_third_sees_the_difference(cluster: Cluster):
    desk, laptop, phone = cluster.imap(0), cluster.imap(1), cluster.imap(2)
    try:
        desk.command("d1 CREATE Shared")
        phone.command("p1 ENABLE QRESYNC")
        selected = b"".join(phone.command("p2 SELECT Shared"))
        uidvalidity = int(re.search(rb"UIDVALIDITY (\d+)", selected).group(1))
        modseq = int(re.search(rb"HIGHESTMODSEQ (\d+)", selected).group(1))
        phone.command("p3 UNSELECT")
        uids = []
        for n in range(10):
            client = (desk, laptop)[n % 2]
            body = b"Subject: m%d\r\n\r\nx\r\n" % n
            done = client.command(b"a%d APPEND Shared {%d+}\r\n%s" % (n, len(body), body))[-1]
            found = re.search(rb"\[APPENDUID (\d+) (\d+)\]", done)
            assert found and int(found.group(1)) == uidvalidity, done
            uids.append(int(found.group(2)))
        assert uids == sorted(set(uids))  # strictly increasing, never reused
        laptop.command("l1 SELECT Shared")
        laptop.command(f"l2 UID STORE {uids[3]} +FLAGS.SILENT (\\Deleted)")
        laptop.command("l3 EXPUNGE")
        desk.command("d2 SELECT Shared")
        desk.command(f"d3 UID STORE {uids[5]} +FLAGS.SILENT (\\Flagged)")
        answer = phone.command(f"p4 SELECT Shared (QRESYNC ({uidvalidity} {modseq}))")
        assert answer[-1].startswith(b"p4 OK")
        fetched = {int(m.group(1)) for m in (re.search(rb"UID (\d+)", line) for line in answer
                                             if b" FETCH " in line) if m}
        assert fetched == set(uids) - {uids[3]}
        assert b"* 9 EXISTS" in answer
    finally:
        for client in (desk, laptop, phone):
            client.close()


def test_a_maildrop_held_on_one_node_is_in_use_on_another(cluster: Cluster):
    holder = _pop3(cluster, 0)
    try:
        with pytest.raises(poplib.error_proto, match=r"-ERR \[IN-USE\]"):
            _pop3(cluster, 1)
    finally:
        holder.quit()
    assert eventually(lambda: _pop3_login_works(cluster, 1))  # free again once the unlock has arrived


def _pop3_login_works(cluster: Cluster, node: int) -> bool:
    try:
        _pop3(cluster, node).quit()
    except poplib.error_proto as exc:
        assert b"[IN-USE]" in exc.args[0], exc
        return False
    return True


def _pop3(cluster: Cluster, node: int) -> poplib.POP3_SSL:
    client = poplib.POP3_SSL("127.0.0.1", cluster.nodes[node].port("pop3s"), context=cluster.tls(node), timeout=30)
    client.user("alice@example.com")
    client.pass_(PASSWORD)
    return client


def test_queued_mail_is_drained_by_the_nodes_and_a_killed_node_loses_nothing(cluster: Cluster):
    cluster.sink.messages.clear()
    with concurrent.futures.ThreadPoolExecutor(len(HOSTS)) as submitters:
        list(submitters.map(lambda node: _submit(cluster, node, range(node, QUEUED, len(HOSTS))), range(len(HOSTS))))
    assert eventually(lambda: len(cluster.sink.messages) >= QUEUED // 2, 120)
    cluster.nodes[1].kill()
    in_flight = _leased_by(cluster.url, f"mx.example.com/{socket.gethostname()}/n{HOSTS[1]}")
    assert len(cluster.sink.messages) < QUEUED  # killed mid-way through the queue
    expected = {f"<m{n}@example.com>" for n in range(QUEUED)}
    assert eventually(lambda: expected <= _message_ids(cluster.sink), 120), expected - _message_ids(cluster.sink)
    counts = Counter(re.search(rb"Message-ID: (<[^>]+>)", m.data).group(1).decode()
                     for m in cluster.sink.messages)
    duplicates = {mid: count for mid, count in counts.items() if count > 1}
    # only what the killed node was delivering can arrive twice, each at most once more
    assert set(duplicates) <= in_flight and set(duplicates.values()) <= {2}, (duplicates, in_flight)
    assert len(duplicates) <= PER_DOMAIN


def _submit(cluster: Cluster, node: int, numbers: range) -> None:
    with smtplib.SMTP("127.0.0.1", cluster.nodes[node].port("submission"), timeout=30) as client:
        client.starttls(context=cluster.tls(node))
        client.login("alice@example.com", PASSWORD)
        for n in numbers:
            client.sendmail("alice@example.com", ["far@peer.test"],
                            b"From: alice@example.com\r\nMessage-ID: <m%d@example.com>\r\nSubject: %d\r\n\r\nhello\r\n"
                            % (n, n))


def _leased_by(url: str, owner: str) -> set[str]:
    """The Message-IDs of the queue entries ``owner`` holds a lease on: what it may have been delivering."""
    async def read() -> set[str]:
        store = await PostgresStore.open(url)
        try:
            held = [e for e in await store.list_queue() if e.lease_owner == owner]
            bodies = [await store.read_message(e.message_id) for e in held]
            return {found.group(1).decode() for body in bodies if (found := re.search(rb"Message-ID: (<[^>]+>)", body))}
        finally:
            await store.close()

    return asyncio.run(read())


def _message_ids(sink: SMTPSink) -> set[str]:
    return {found.group(1).decode() for m in list(sink.messages)
            if (found := re.search(rb"Message-ID: (<[^>]+>)", m.data))}
